/**
 * The demo's admission webhook: `modelgate webhook` started as a child process (the same CLI entry
 * point the demo was built with), on 127.0.0.1 with a free HTTPS port and a free metrics port.
 *
 * Owns: starting it, waiting until `/readyz` answers 200 (policy, trust and keys loaded), posting
 * AdmissionReviews over HTTPS trusting only the demo's self-signed certificate, and stopping it with
 * SIGTERM (SIGKILL if it does not exit). Its JSON log lines are kept (the `admission review` lines
 * are what a cluster operator would read) and its stderr is reported if it fails to start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { extname, join } from 'node:path';
import { Agent, request } from 'undici';

/** The CLI entry point next to this module: `src/cli/main.ts` when run from source, `dist/cli/main.js` when built. */
export const CLI_MAIN = join(import.meta.dirname, '..', 'cli', `main${extname(import.meta.filename)}`);

const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;

export interface AdmissionResponseBody {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly message: string };
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

export class WebhookProcess {
  readonly url: string;
  readonly logLines: ReadonlyArray<Record<string, unknown>>;
  readonly #child: ChildProcess;
  readonly #agent: Agent;

  private constructor(child: ChildProcess, url: string, agent: Agent, logLines: Array<Record<string, unknown>>) {
    this.#child = child;
    this.url = url;
    this.#agent = agent;
    this.logLines = logLines;
  }

  /** Start `modelgate webhook ARGS… --host 127.0.0.1 --port 0 …` and wait until it is ready. */
  static async start(args: readonly string[], caPem: string): Promise<WebhookProcess> {
    const child = spawn(
      process.execPath,
      [CLI_MAIN, 'webhook', ...args, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--tls-reload-interval', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let buffered = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 16_384) stderr += chunk.toString('utf8');
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          lines.push({ msg: line });
        }
      }
    });
    const agent = new Agent({ connect: { ca: caPem }, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    const deadline = Date.now() + START_TIMEOUT_MS;
    const failed = (why: string): Error => {
      if (child.exitCode === null) child.kill('SIGKILL');
      void agent.close();
      return new Error(`modelgate webhook ${why}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`);
    };
    let url: string | undefined;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw failed(`exited with code ${child.exitCode} before it was ready`);
      url ??= lines.map((l) => l['url']).find((u): u is string => typeof u === 'string' && u.startsWith('https://'));
      if (url !== undefined) {
        const status = await request(`${url}/readyz`, { dispatcher: agent }).then(
          async (res) => {
            await res.body.dump();
            return res.statusCode;
          },
          () => 0,
        );
        if (status === 200) return new WebhookProcess(child, url, agent, lines);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw failed(`was not ready within ${START_TIMEOUT_MS / 1000} s`);
  }

  /** POST one AdmissionReview to `/validate`; returns its response and the wall time it took. */
  async review(body: unknown): Promise<{ response: AdmissionResponseBody; ms: number }> {
    const started = performance.now();
    const res = await request(`${this.url}/validate`, { method: 'POST', dispatcher: this.#agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`POST /validate answered ${res.statusCode}: ${text.slice(0, 500)}`);
    const json = JSON.parse(text) as { response?: AdmissionResponseBody };
    if (json.response === undefined) throw new Error('POST /validate answered without an AdmissionReview response');
    return { response: json.response, ms: performance.now() - started };
  }

  /** SIGTERM (in-flight reviews finish), SIGKILL after 10 s; resolves with the exit code. */
  async stop(): Promise<number | null> {
    await this.#agent.close();
    if (this.#child.exitCode !== null) return this.#child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.#child.once('exit', (code) => resolve(code)));
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
