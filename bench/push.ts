/**
 * Benchmark: `modelgate push` of a directory of many small files to the loopback registry, against a
 * parallel curl baseline doing the same uploads in the same run.
 *
 * Starts the real docker-registry through the test helper and writes two directories of
 * PUSH_BENCH_FILES (default 10,000) random files of PUSH_BENCH_BYTES (default 1024) — one per contender,
 * so neither finds the other's blobs. Then, in the order given by PUSH_BENCH_ORDER (default
 * `modelgate,curl`):
 *   - modelgate: `node dist/cli/main.js push DIR oci://…/bench/modelgate:v1` as a subprocess (walk, hash,
 *     HEAD + POST + PUT per blob with its default concurrency, config, manifest);
 *   - curl: the same protocol per blob with `curl --parallel --parallel-max N` (N = modelgate's
 *     concurrency, connections reused), in three passes over all blobs — HEAD each blob, POST to open
 *     one upload session per blob (Location read with `-w %header{location}`), PUT each file to a
 *     session with `?digest=` — then the config and manifest. The digests are computed before the
 *     clock starts (curl does not hash), so the baseline does less work than modelgate.
 * Prints blobs/s and client CPU seconds (GNU time; NaN without it) of each, the ratio modelgate/curl,
 * and the load average before and after.
 *
 *   npm run bench:push
 *   PUSH_BENCH_FILES=2000 npm run bench:push
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { MediaType } from '../src/oci/manifest.ts';
import { PUSH_CONCURRENCY } from '../src/modelpack/pack.ts';
import { timedChild, withBenchRegistry, type Run } from './measure.ts';

const FILES = Number(process.env.PUSH_BENCH_FILES ?? 10_000);
const BYTES = Number(process.env.PUSH_BENCH_BYTES ?? 1024);
const ORDER = (process.env.PUSH_BENCH_ORDER ?? 'modelgate,curl').split(',');
const GOAL_BLOBS_PER_SECOND = 300;
const MAIN = join(import.meta.dirname, '../dist/cli/main.js');

interface BenchFile {
  readonly path: string;
  readonly digest: string;
}

/** `count` random files of `size` bytes in 100 subdirectories of `dir`, with their digests. */
function writeFiles(dir: string, count: number, size: number): BenchFile[] {
  const files: BenchFile[] = [];
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `d${String(i % 100).padStart(2, '0')}`);
    if (i < 100) mkdirSync(sub, { recursive: true });
    const path = join(sub, `f${i}.bin`);
    const bytes = randomBytes(size);
    writeFileSync(path, bytes);
    files.push({ path, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` });
  }
  return files;
}

/** A curl config file (`-K`) with one transfer per entry. */
function curlConfig(path: string, transfers: readonly Record<string, string>[]): string {
  const quote = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const text = transfers.map((t) => Object.entries(t).map(([k, v]) => (v === '' ? k : `${k} = ${quote(v)}`)).join('\n')).join('\nnext\n');
  writeFileSync(path, `${text}\n`);
  return path;
}

/** Run one `curl --parallel` over a config; returns its run and stdout. */
function curlParallel(config: string): Promise<Run & { stdout: string }> {
  return timedChild('curl', ['-s', '-f', '--parallel', '--parallel-immediate', '--parallel-max', String(PUSH_CONCURRENCY), '-K', config]);
}

/** The curl baseline: HEAD, POST and PUT for every blob (three parallel passes), then config and manifest. */
async function curlPush(registryUrl: string, repository: string, files: readonly BenchFile[], dir: string): Promise<Run> {
  const base = `${registryUrl}/v2/${repository}`;
  const started = performance.now();
  // HEAD answers 404 for a new blob: without -f that is a completed transfer, not a failure.
  const headed = await timedChild('curl', ['-s', '--parallel', '--parallel-immediate', '--parallel-max', String(PUSH_CONCURRENCY), '-K',
    curlConfig(join(dir, 'head.cfg'), files.map((f) => ({ url: `${base}/blobs/${f.digest}`, head: '', output: '/dev/null' })))]);
  const posted = await curlParallel(curlConfig(join(dir, 'post.cfg'), files.map(() => ({ url: `${base}/blobs/uploads/`, request: 'POST', output: '/dev/null', 'write-out': '%header{location}\\n' }))));
  const locations = posted.stdout.split('\n').filter((l) => l !== '');
  if (locations.length !== files.length) throw new Error(`curl POST gave ${locations.length} upload locations for ${files.length} blobs`);
  const put = await curlParallel(curlConfig(join(dir, 'put.cfg'), files.map((f, i) => {
    const url = new URL(locations[i]!, registryUrl);
    url.searchParams.set('digest', f.digest);
    return { url: url.href, request: 'PUT', header: 'Content-Type: application/octet-stream', 'data-binary': `@${f.path}`, output: '/dev/null' };
  })));
  // Config and manifest, as modelgate writes them (content differs, the request count does not).
  const config = Buffer.from(JSON.stringify({ modelfs: { type: 'layers', diffIds: files.map((f) => f.digest) } }));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, config);
  const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  const configPost = await timedChild('curl', ['-s', '-f', '-X', 'POST', '-o', '/dev/null', '-w', '%header{location}', `${base}/blobs/uploads/`]);
  const configUrl = new URL(configPost.stdout.trim(), registryUrl);
  configUrl.searchParams.set('digest', configDigest);
  await timedChild('curl', ['-s', '-f', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${configPath}`, '-o', '/dev/null', configUrl.href]);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: { mediaType: 'application/vnd.cncf.model.config.v1+json', digest: configDigest, size: config.byteLength },
    layers: files.map((f) => ({ mediaType: 'application/vnd.cncf.model.weight.v1.raw', digest: f.digest, size: BYTES })),
  };
  const manifestPath = join(dir, 'manifest.json');
  writeFileSync(manifestPath, JSON.stringify(manifest));
  await timedChild('curl', ['-s', '-f', '-X', 'PUT', '-H', `Content-Type: ${MediaType.OCI_MANIFEST}`, '--data-binary', `@${manifestPath}`, '-o', '/dev/null', `${base}/manifests/v1`]);
  // The three bulk passes' CPU (the few single requests after them are not counted).
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: headed.cpuSeconds + posted.cpuSeconds + put.cpuSeconds };
}

async function main(): Promise<void> {
  if (!Number.isInteger(FILES) || FILES < 1 || !Number.isInteger(BYTES) || BYTES < 1) throw new Error('PUSH_BENCH_FILES and PUSH_BENCH_BYTES must be positive integers');
  await withBenchRegistry('modelgate-bench-push-', async (registry, dir) => {
    let started = performance.now();
    const sets = { modelgate: writeFiles(join(dir, 'modelgate'), FILES, BYTES), curl: writeFiles(join(dir, 'curl'), FILES, BYTES) };
    console.log(`files: 2 × ${FILES} × ${BYTES} B written in ${((performance.now() - started) / 1000).toFixed(1)} s; concurrency ${PUSH_CONCURRENCY}`);
    const before = loadavg();
    const runs: Record<string, Run> = {};
    for (const who of ORDER) {
      started = performance.now();
      if (who === 'modelgate') {
        const run = await timedChild(process.execPath, [MAIN, 'push', join(dir, 'modelgate'), `oci://${registry.host}/bench/modelgate:v1`]);
        if (!/^sha256:[0-9a-f]{64}\n$/.test(run.stdout)) throw new Error(`modelgate push printed ${JSON.stringify(run.stdout)}`);
        runs.modelgate = run;
      } else if (who === 'curl') {
        mkdirSync(join(dir, 'curl-work'));
        runs.curl = await curlPush(registry.url, 'bench/curl', sets.curl, join(dir, 'curl-work'));
      } else {
        throw new Error(`PUSH_BENCH_ORDER: unknown contender ${who}`);
      }
      const run = runs[who]!;
      console.log(`${who.padEnd(9)} ${run.seconds.toFixed(2)} s = ${(FILES / run.seconds).toFixed(0)} blobs/s, client CPU ${run.cpuSeconds.toFixed(2)} s`);
    }
    const after = loadavg();
    if (runs.modelgate !== undefined && runs.curl !== undefined) {
      const rate = FILES / runs.modelgate.seconds;
      console.log(`ratio modelgate/curl (blobs/s): ${(runs.curl.seconds / runs.modelgate.seconds).toFixed(2)}; modelgate ${rate.toFixed(0)} blobs/s (goal ≥ ${GOAL_BLOBS_PER_SECOND})`);
    }
    console.log(`load average (1 min) before ${before[0]!.toFixed(1)}, after ${after[0]!.toFixed(1)}`);
  });
}

await main();
