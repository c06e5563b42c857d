import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestOf } from '../../src/oci/digest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { FILEPATH_ANNOTATION, ModelPackMediaType } from '../../src/modelpack/spec.ts';
import { runDemo as runDemoInProcess } from '../../src/demo/run.ts';

const REPO = join(import.meta.dirname, '../..');
const NODE = join(REPO, 'node_modules/.bin/node');

function runDemo(cwd: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [join(REPO, 'src/demo/main.ts'), ...args], { cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

t.test('npm run demo: packs, resolves, pulls verified, is reproducible and refuses tampering', async (t) => {
  const cwd = t.testdir();
  const first = await runDemo(cwd);
  t.equal(first.code, 0, first.stderr);
  t.equal(first.stderr, '');
  for (let step = 1; step <= 7; step++) t.match(first.stdout, new RegExp(`^${step}\\. `, 'm'), `step ${step} printed`);
  t.equal((first.stdout.match(/^ {3}proved: /gm) ?? []).length, 6, 'each step after the first says what it proved');
  t.match(first.stdout, /refused: DIGEST_MISMATCH: content hashes to sha256:/);

  const out = join(cwd, 'demo-out');
  const store = new LayoutStore(join(out, 'layout'));
  const manifestDigest = /^ {5}manifest +(sha256:[0-9a-f]{64})$/m.exec(first.stdout)?.[1];
  t.ok(manifestDigest, 'manifest digest printed');
  const fetched = await store.fetchManifest('v1');
  t.equal(fetched.descriptor.digest, manifestDigest);
  t.match(first.stdout, new RegExp(`^3\\. Resolved oci-layout://demo-out/layout:v1 → ${manifestDigest}$`, 'm'));
  if (fetched.manifest.kind !== 'manifest') throw new Error('expected an image manifest');
  t.equal(fetched.manifest.artifactType, ModelPackMediaType.ARTIFACT);
  const paths = fetched.manifest.layers.map((l) => l.annotations?.[FILEPATH_ANNOTATION]);
  t.same(paths, ['README.md', 'config.json', 'model.safetensors', 'tokenizer.json']);
  const weights = fetched.manifest.layers.find((l) => l.mediaType === ModelPackMediaType.WEIGHT_RAW)!;
  t.ok(weights.size > 4 * 1024 * 1024, 'weights are a few MiB');
  for (const path of paths) {
    const pulled = readFileSync(join(out, 'pulled', path!));
    t.same(pulled, readFileSync(join(out, 'model', path!)), `${path} pulled identical`);
  }
  t.equal(digestOf(readFileSync(join(out, 'model/model.safetensors'))), weights.digest);
  t.notOk(existsSync(join(out, 'layout-tampered/should-not-exist')));

  // Deterministic across runs (the model bytes are generated from a fixed seed) and re-runnable in
  // place; the second run is in-process to spare a process start.
  const lines: string[] = [];
  await runDemoInProcess(out, (line) => lines.push(line));
  t.match(lines.join('\n'), new RegExp(`manifest +${manifestDigest}`));
});
