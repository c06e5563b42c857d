// The node cache is optional and can never fail a pod: without one (library `cache: undefined`, CLI
// `--cache-dir ''`) the model is pulled pod-local and the receipt and log say it was not cached; a
// cache this uid cannot use (a hostPath cache created by another uid, mode 0755) is a warning and a
// pod-local pull, exit 0 — run as uid 65534 against a real registry.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BlobCache } from '../../src/init/cache.ts';
import { initModel } from '../../src/init/pull.ts';
import { ModelPackMediaType } from '../../src/modelpack/spec.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { REPO } from '../helpers/run-cli.ts';
import { initFixture, tar } from './fixtures.ts';

const { dir, publicKey, pubPath, dataPath, pushArtifact, uriOf, init } = await initFixture(t);
const weights = Buffer.alloc(200 * 1024, 'w');
const model = await pushArtifact('optional', [
  { mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: weights, filepath: 'model.safetensors' },
  { mediaType: 'application/vnd.cncf.model.doc.v1.tar', bytes: tar([{ name: 'docs/README.md', body: Buffer.from('# m\n') }]) },
]);
const lines = (stdout: string): Array<Record<string, unknown>> =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('no cache (library): pulled pod-local, the receipt and the log say not cached', async (t) => {
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: JSON.parse(readFileSync(dataPath, 'utf8')) as unknown });
  const events: Array<Record<string, unknown>> = [];
  const dest = join(dir, 'no-cache', 'models');
  const outcome = await initModel(uriOf(model.manifest), dest, {
    pipeline: { stores: storeProvider({ registry: { timeoutMs: 5000 } }), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, timeoutMs: 5000 },
    cache: undefined,
    log: (e) => events.push(e),
  });
  t.match(outcome, { kind: 'published', reused: false, receipt: { cached: false } });
  t.same(readFileSync(join(dest, 'model.safetensors')), weights);
  t.equal(readFileSync(join(dest, 'docs', 'README.md'), 'utf8'), '# m\n');
  t.same(readdirSync(join(dest, '.modelgate')), ['receipt.json'], 'no pod-local blob published');
  t.ok(events.some((e) => e.event === 'cache' && e.cached === false), 'the log says the pull was not cached');
});

t.test("no cache (CLI --cache-dir ''): exit 0, published with cached: false", async (t) => {
  const run = await init([uriOf(model.manifest), join(dir, 'no-cache-cli', 'models')], '');
  t.equal(run.code, 0, run.stderr);
  t.match(lines(run.stdout).find((l) => l.event === 'published'), { cached: false });
});

t.test("a cache owned by another uid (0755): a warning and a pod-local pull, never a failed pod", async (t) => {
  const cacheDir = join(dir, 'foreign-cache');
  await new BlobCache(cacheDir).init();
  const chownAll = (path: string): void => {
    chownSync(path, 1234, 1234);
    chmodSync(path, 0o755);
  };
  chownAll(cacheDir);
  for (const sub of ['blobs', 'blobs/sha256', 'records', 'records/sha256', 'partial', 'locks']) chownAll(join(cacheDir, sub));
  chmodSync(dir, 0o755); // the key and policy data, readable by the unprivileged run
  const parent = join(dir, 'foreign-dest');
  mkdirSync(parent);
  chownSync(parent, 65534, 65534);
  const dest = join(parent, 'models');
  const args = ['init', uriOf(model.manifest), dest, '--data', dataPath, '--key', pubPath, '--cache-dir', cacheDir, '--termination-log', join(parent, 'termination.log'), '--timeout', '5000'];
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(join(REPO, 'node_modules/.bin/node'), [join(REPO, 'src/cli/main.ts'), ...args], { uid: 65534, gid: 65534, cwd: parent, env: { PATH: process.env.PATH ?? '', HOME: parent }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') reject(err);
      else resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
  t.equal(run.code, 0, run.stderr);
  const events = lines(run.stdout);
  t.match(events.find((e) => e.event === 'warning'), { code: 'CACHE', message: /cannot be used.*not cached.*EACCES/ }, 'a warning log line names the cache and why');
  t.match(events.find((e) => e.event === 'published'), { cached: false });
  t.same(readFileSync(join(dest, 'model.safetensors')), weights);
  t.match(JSON.parse(readFileSync(join(dest, '.modelgate', 'receipt.json'), 'utf8')), { cached: false });
  t.same(readdirSync(join(cacheDir, 'locks')), [], 'nothing written into the foreign cache');
});
