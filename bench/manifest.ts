/**
 * Benchmark: `modelgate dataset manifest` throughput on a ≥ 2 GiB tree of mixed file sizes, against
 * `sha256sum` (one process, and `xargs -P2`), `openssl dgst -sha256` under `xargs -P2` (the machine's
 * SHA-256 limit with SHA-NI), and single-threaded Node `crypto` (2 MiB `readSync` into one buffer) over
 * the same files, in one run.
 *
 * The tree is generated once and kept under `bench/.data/manifest-tree` (git-ignored; MANIFEST_BENCH_DIR
 * overrides): MANIFEST_BENCH_SMALL small files of 1–64 KiB (default 20,000, ≈ 0.6 GiB), MANIFEST_BENCH_MEDIUM
 * files of 1–8 MiB (default 200, ≈ 0.9 GiB) and MANIFEST_BENCH_LARGE files of 256 MiB (default 3), all
 * random bytes, ≈ 2.3 GiB in all. A marker `manifest-tree.complete` beside it (holding the parameters) says
 * the tree is whole.
 *
 * Each round runs every contender once, in rotating order: the library call `buildDatasetManifest`
 * (walk + worker-pool hashing + Merkle root), the CLI `modelgate dataset manifest DIR --output-file FILE` (a new
 * process: start-up included), `crypto` on one thread, `find … -print0 | xargs -0 sha256sum`, the same with
 * `xargs -P2`, and `xargs -P2 openssl dgst -sha256`. Warm rounds (MANIFEST_BENCH_ROUNDS, default 3) run
 * with the tree in the page cache (24 GiB RAM, so it stays there); cold rounds (MANIFEST_BENCH_COLD_ROUNDS,
 * default 1) evict the tree's pages first with `posix_fadvise(DONTNEED)` on each file (only this tree's
 * pages; the rest of the machine's cache is left alone), so every contender reads from the disk.
 * Prints each run, the medians in MB/s (10^6 bytes/s), the ratios against one-thread `crypto`, and
 * the CPU seconds each contender spent per GB (in-process: `process.cpuUsage`, all threads; external
 * commands: GNU time, when /usr/bin/time exists) — on a shared machine the CPU cost is the steadier
 * figure: wall-clock rates follow whatever else runs.
 *
 *   npm run bench:manifest
 *   MANIFEST_BENCH_ROUNDS=1 MANIFEST_BENCH_COLD_ROUNDS=0 npm run bench:manifest
 */
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hashSequential, median, MIB, timedChild } from './measure.ts';

// Prefer the compiled build (what the `modelgate` binary runs): worker threads started from `.ts`
// sources pay Node's type stripping again in every worker, which is not what production pays.
const DIST = new URL('../dist/', import.meta.url);
const fromDist = existsSync(new URL('dataset/manifest.js', DIST));
const { buildDatasetManifest, serializeDatasetManifest } = (await import(fromDist ? new URL('dataset/manifest.js', DIST).href : '../src/dataset/manifest.ts')) as typeof import('../src/dataset/manifest.ts');
const { listDatasetFiles } = (await import(fromDist ? new URL('dataset/walk.js', DIST).href : '../src/dataset/walk.ts')) as typeof import('../src/dataset/walk.ts');
const CLI = fromDist ? new URL('cli/main.js', DIST).pathname : new URL('../src/cli/main.ts', import.meta.url).pathname;

const run = promisify(execFile);
const KIB = 1024;
const ROOT = process.env.MANIFEST_BENCH_DIR ?? new URL('.data/manifest-tree', import.meta.url).pathname;
const SMALL = Number(process.env.MANIFEST_BENCH_SMALL ?? 20_000);
const MEDIUM = Number(process.env.MANIFEST_BENCH_MEDIUM ?? 200);
const LARGE = Number(process.env.MANIFEST_BENCH_LARGE ?? 3);
const ROUNDS = Number(process.env.MANIFEST_BENCH_ROUNDS ?? 3);
const COLD_ROUNDS = Number(process.env.MANIFEST_BENCH_COLD_ROUNDS ?? 1);

/** A small deterministic PRNG for the file sizes (mulberry32), so every machine builds the same shape of tree. */
function sizes(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function writeRandomFile(path: string, size: number, chunk: Buffer): void {
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < size; ) {
      const n = Math.min(chunk.length, size - written);
      randomFillSync(chunk, 0, n);
      writeSync(fd, chunk, 0, n);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}

function generateTree(): void {
  const marker = `${ROOT}.complete`; // beside the tree, so it is not part of the dataset
  const shape = JSON.stringify({ SMALL, MEDIUM, LARGE, version: 1 });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === shape) return;
  rmSync(ROOT, { recursive: true, force: true });
  const started = performance.now();
  const random = sizes(42);
  const chunk = Buffer.allocUnsafe(4 * MIB);
  for (let i = 0; i < SMALL; i += 1) {
    const dir = join(ROOT, 'small', String(Math.floor(i / 500)).padStart(3, '0'));
    if (i % 500 === 0) mkdirSync(dir, { recursive: true });
    writeRandomFile(join(dir, `${String(i).padStart(6, '0')}.jsonl`), KIB + Math.floor(random() * 63 * KIB), chunk);
  }
  mkdirSync(join(ROOT, 'medium'), { recursive: true });
  for (let i = 0; i < MEDIUM; i += 1) writeRandomFile(join(ROOT, 'medium', `shard-${String(i).padStart(4, '0')}.parquet`), MIB + Math.floor(random() * 7 * MIB), chunk);
  mkdirSync(join(ROOT, 'large'), { recursive: true });
  for (let i = 0; i < LARGE; i += 1) writeRandomFile(join(ROOT, 'large', `images-${i}.tar`), 256 * MIB, chunk);
  writeFileSync(marker, shape);
  process.stdout.write(`generated the tree in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

/** Evict this tree's pages from the page cache (clean pages only; needs no privileges). */
async function evictTree(): Promise<void> {
  const script = [
    'import os, sys',
    'for top, dirs, files in os.walk(sys.argv[1]):',
    '    for name in files:',
    '        fd = os.open(os.path.join(top, name), os.O_RDONLY)',
    '        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)',
    '        os.close(fd)',
  ].join('\n');
  await run('python3', ['-c', script, ROOT]);
}

/** Run `sh -c COMMAND` (paths absolute); resolves to the CPU seconds it and its children used, when GNU time is there. */
async function timedShell(command: string): Promise<number | undefined> {
  const { cpuSeconds } = await timedChild('sh', ['-c', command]);
  return Number.isNaN(cpuSeconds) ? undefined : cpuSeconds;
}

/** CPU seconds of this process (every thread) spent in `work`. */
async function inProcess(work: () => unknown): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

generateTree();
const files = await listDatasetFiles(ROOT);
const paths = files.map((f) => f.absolutePath);
const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
const out = mkdtempSync(join(tmpdir(), 'modelgate-bench-manifest-'));
process.stdout.write(
  `tree: ${files.length} files, ${(totalBytes / 2 ** 30).toFixed(2)} GiB in ${ROOT} (${SMALL} of 1–64 KiB, ${MEDIUM} of 1–8 MiB, ${LARGE} of 256 MiB)\n` +
    `machine: ${availableParallelism()} cores (${cpus()[0]?.model.trim()}), load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; modelgate from ${fromDist ? 'dist/' : 'src/ (run npm run build for the compiled code)'}\n`,
);

const expected = serializeDatasetManifest(await buildDatasetManifest(ROOT)); // also warms the page cache
const shaByPath = new Map(JSON.parse(expected.toString('utf8')).files.map((f: { path: string; sha256: string }) => [join(ROOT, f.path), f.sha256]));
const reference = hashSequential(paths);
if (!paths.every((p, i) => shaByPath.get(p) === reference[i])) throw new Error('the manifest disagrees with crypto');

// `find` lists the same regular files the manifest covers.
const FIND = `find '${ROOT}' -type f -print0`;
const contenders: Record<string, () => Promise<number | undefined>> = {
  'modelgate (library)': () =>
    inProcess(async () => {
      const bytes = serializeDatasetManifest(await buildDatasetManifest(ROOT));
      if (!bytes.equals(expected)) throw new Error('manifest changed');
    }),
  'modelgate (CLI)': async () => {
    const target = join(out, 'manifest.json');
    const { cpuSeconds } = await timedChild(process.execPath, [CLI, 'dataset', 'manifest', ROOT, '--output-file', target]);
    const cpu = Number.isNaN(cpuSeconds) ? undefined : cpuSeconds;
    if (!readFileSync(target).equals(expected)) throw new Error('CLI manifest differs');
    return cpu;
  },
  'crypto (1 thread)': () => inProcess(() => hashSequential(paths)),
  sha256sum: () => timedShell(`${FIND} | xargs -0 sha256sum > /dev/null`),
  'sha256sum, xargs -P2': () => timedShell(`${FIND} | xargs -0 -P2 -n 256 sha256sum > /dev/null`),
  'openssl dgst, xargs -P2': () => timedShell(`${FIND} | xargs -0 -P2 -n 256 openssl dgst -sha256 > /dev/null`),
};
const names = Object.keys(contenders);

interface Samples {
  readonly rates: Map<string, number[]>;
  /** CPU seconds per GB. */
  readonly cpu: Map<string, number[]>;
}

async function rounds(count: number, cold: boolean): Promise<Samples> {
  const rates = new Map<string, number[]>(names.map((n) => [n, []]));
  const cpu = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < count; round += 1) {
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const name of order) {
      if (cold) await evictTree();
      const started = performance.now();
      const cpuSeconds = await contenders[name]!();
      const seconds = (performance.now() - started) / 1000;
      const rate = totalBytes / seconds / 1e6;
      rates.get(name)!.push(rate);
      const cpuPerGB = cpuSeconds === undefined ? undefined : cpuSeconds / (totalBytes / 1e9);
      if (cpuPerGB !== undefined) cpu.get(name)!.push(cpuPerGB);
      process.stdout.write(
        `  ${cold ? 'cold' : 'warm'} round ${round + 1}: ${name.padEnd(24)} ${seconds.toFixed(2).padStart(6)} s  ${rate.toFixed(0).padStart(5)} MB/s  ${cpuPerGB === undefined ? '' : `${cpuPerGB.toFixed(2)} CPU-s/GB  `}(load ${loadavg()[0]?.toFixed(1)})\n`,
      );
    }
  }
  return { rates, cpu };
}

function report(title: string, { rates, cpu }: Samples): void {
  const base = median(rates.get('crypto (1 thread)')!);
  process.stdout.write(`\n${title}: medians, ratio vs crypto on one thread, CPU seconds per GB\n`);
  for (const name of names) {
    const m = median(rates.get(name)!);
    const c = cpu.get(name)!;
    process.stdout.write(`  ${name.padEnd(24)} ${m.toFixed(0).padStart(5)} MB/s  ${(m / base).toFixed(2)}×  ${c.length === 0 ? '' : `${median(c).toFixed(2)} CPU-s/GB`}\n`);
  }
  const library = median(rates.get('modelgate (library)')!);
  process.stdout.write(`  goal: modelgate ≥ 2.00× one core's rate — ${library / base >= 2 ? 'met' : 'not met'} (${(library / base).toFixed(2)}×)\n`);
}

try {
  if (ROUNDS > 0) report(`warm page cache, ${ROUNDS} round(s)`, await rounds(ROUNDS, false));
  if (COLD_ROUNDS > 0) report(`cold (tree evicted before each run), ${COLD_ROUNDS} round(s)`, await rounds(COLD_ROUNDS, true));
  process.stdout.write(`\nload at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
