/**
 * Test helper: `modelgate webhook` as a subprocess, and AdmissionReview request bodies.
 *
 * Owns: `spawnWebhook` (runs `src/cli/main.ts webhook ARGS` on the project's Node 24, parses its pino
 * JSON lines, `line(msg)` waits for the first line with that message — failing with stderr when the
 * process exits first — and kills it at teardown) and `admissionReview` (an admission.k8s.io/v1
 * request for an InferenceService whose predictor loads one storage URI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './run-cli.ts';

export interface WebhookProcess {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  /** The first log line whose `msg` is `msg` (waits up to 60 s). */
  line(msg: string): Promise<Record<string, unknown>>;
  stderr(): string;
}

export function spawnWebhook(t: { teardown(fn: () => unknown): void }, args: readonly string[]): WebhookProcess {
  const child = spawn(join(REPO, 'node_modules/.bin/node'), [join(REPO, 'src/cli/main.ts'), 'webhook', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
      buffered = buffered.slice(nl + 1);
    }
  });
  const line = async (msg: string): Promise<Record<string, unknown>> => {
    // Until the line or the process's exit, however long a loaded machine takes (tap bounds a hang).
    for (;;) {
      const found = lines.find((l) => l['msg'] === msg);
      if (found) return found;
      if (child.exitCode !== null) throw new Error(`no "${msg}" log line: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { child, lines, line, stderr: () => stderr };
}

/** An AdmissionReview CREATE of InferenceService `name` (default `m`) in `namespace` whose predictor model is at `storageUri`. */
export function admissionReview(namespace: string, storageUri = 's3://bucket/model', name = 'm'): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${namespace}`,
      kind: { group: 'serving.kserve.io', version: 'v1beta1', kind: 'InferenceService' },
      namespace,
      name,
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      object: { spec: { predictor: { model: { storageUri } } } },
    },
  };
}
