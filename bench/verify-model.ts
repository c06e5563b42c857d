/**
 * Benchmark: OMS model directory verification throughput — `verifyModelDirectory` (signature check,
 * directory walk, worker-thread hashing, manifest comparison) against `sha256sum` and against raw
 * single-threaded `crypto` hashing (2 MiB `readSync` into one buffer) of the same files.
 *
 * Writes VERIFY_BENCH_FILES files (default 4) of VERIFY_BENCH_MIB MiB each (default 288, i.e.
 * 1.125 GiB in all) of random bytes to a temporary directory, signs the model with a fresh P-256 key
 * (model_signing key method, `files` serialisation), then runs VERIFY_BENCH_ROUNDS rounds (default
 * 3) of the contenders in rotating order: modelgate with a fresh worker pool (what the CLI does),
 * modelgate with a warm long-lived pool (what a server does), `crypto` on one thread, `sha256sum`. Files stay in the page cache (the machine has far
 * more RAM than the model), so this measures hashing and I/O syscalls, not the disk. Prints each run,
 * the medians in GB/s and the ratios. The temporary directory is removed.
 *
 *   npm run bench:verify-model
 *   VERIFY_BENCH_MIB=64 VERIFY_BENCH_ROUNDS=1 npm run bench:verify-model
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomFillSync, sign } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hashSequential } from './measure.ts';

// Prefer the compiled build (what the `modelgate` binary runs): worker threads started from `.ts`
// sources pay Node's type stripping again in every worker, which is not what production pays.
const DIST = new URL('../dist/', import.meta.url);
const fromDist = existsSync(new URL('oms/verify.js', DIST));
const { HashPool } = (await import(fromDist ? new URL('hashing/pool.js', DIST).href : '../src/hashing/pool.ts')) as typeof import('../src/hashing/pool.ts');
const { verifyModelDirectory } = (await import(fromDist ? new URL('oms/verify.js', DIST).href : '../src/oms/verify.ts')) as typeof import('../src/oms/verify.ts');

const run = promisify(execFile);
const MIB = 1024 * 1024;
const FILES = Number(process.env.VERIFY_BENCH_FILES ?? 4);
const SIZE_MIB = Number(process.env.VERIFY_BENCH_MIB ?? 288);
const ROUNDS = Number(process.env.VERIFY_BENCH_ROUNDS ?? 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function writeRandomFile(path: string, sizeMiB: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.allocUnsafe(4 * MIB);
  try {
    for (let written = 0; written < sizeMiB * MIB; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, sizeMiB * MIB - written));
    }
  } finally {
    closeSync(fd);
  }
}

function modelSignature(names: readonly string[], digests: readonly string[], key: ReturnType<typeof generateKeyPairSync>['privateKey']): string {
  const resources = names.map((name, i) => ({ name, algorithm: 'sha256', digest: digests[i] as string }));
  const root = createHash('sha256');
  for (const r of resources) root.update(Buffer.from(r.digest, 'hex'));
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'bench-model', digest: { sha256: root.digest('hex') } }],
    predicateType: 'https://model_signing/signature/v1.0',
    predicate: { serialization: { method: 'files', hash_type: 'sha256', allow_symlinks: false }, resources },
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${payload.length} `), payload]);
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: '' } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: type, signatures: [{ sig: sign('sha256', pae, key).toString('base64') }] },
  });
}

const dir = mkdtempSync(join(tmpdir(), 'modelgate-bench-model-'));
try {
  const names = Array.from({ length: FILES }, (_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(FILES).padStart(5, '0')}.safetensors`);
  const paths = names.map((n) => join(dir, n));
  const totalBytes = FILES * SIZE_MIB * MIB;
  process.stdout.write(`model: ${FILES} files × ${SIZE_MIB} MiB = ${(totalBytes / 2 ** 30).toFixed(3)} GiB in ${dir}; ${availableParallelism()} cores; load ${loadavg()[0]?.toFixed(1)}; modelgate from ${fromDist ? 'dist/' : 'src/ (run npm run build for the compiled code)'}\n`);
  for (const p of paths) writeRandomFile(p, SIZE_MIB);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const digests = hashSequential(paths); // also warms the page cache
  const bundle = modelSignature(names, digests, privateKey);

  // A server (init container, webhook) keeps one pool; the CLI starts one per verification.
  const pool = new HashPool();
  await pool.hashAll(paths.map((path) => ({ kind: 'range' as const, path, algorithm: 'sha256' as const, start: 0, end: 1 })));
  const contenders: Record<string, () => Promise<void>> = {
    modelgate: async () => {
      const result = await verifyModelDirectory(dir, bundle, { kind: 'key', publicKey });
      if (result.bytesHashed !== totalBytes) throw new Error(`hashed ${result.bytesHashed} bytes, expected ${totalBytes}`);
    },
    'modelgate (warm)': async () => {
      const result = await verifyModelDirectory(dir, bundle, { kind: 'key', publicKey }, { pool });
      if (result.bytesHashed !== totalBytes) throw new Error(`hashed ${result.bytesHashed} bytes, expected ${totalBytes}`);
    },
    'crypto (1 thread)': async () => {
      const got = hashSequential(paths);
      if (got.join() !== digests.join()) throw new Error('sequential digests changed');
    },
    sha256sum: async () => {
      const { stdout } = await run('sha256sum', paths, { maxBuffer: 1024 * 1024 });
      if (!digests.every((d) => stdout.includes(d))) throw new Error('sha256sum disagrees');
    },
  };
  const names3 = Object.keys(contenders);
  const times: Record<string, number[]> = Object.fromEntries(names3.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = names3.map((_, i) => names3[(i + round) % names3.length] as string);
    for (const name of order) {
      const started = process.hrtime.bigint();
      await (contenders[name] as () => Promise<void>)();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      times[name]?.push(seconds);
      process.stdout.write(`round ${round + 1} ${name.padEnd(19)} ${seconds.toFixed(3)} s  ${(totalBytes / seconds / 1e9).toFixed(2)} GB/s\n`);
    }
  }
  const gbps = (name: string): number => totalBytes / median(times[name] ?? []) / 1e9;
  process.stdout.write('\nmedian throughput:\n');
  for (const name of names3) process.stdout.write(`  ${name.padEnd(19)} ${gbps(name).toFixed(2)} GB/s\n`);
  await pool.close();
  process.stdout.write(`ratio modelgate / crypto (1 thread): ${(gbps('modelgate') / gbps('crypto (1 thread)')).toFixed(2)}×\n`);
  process.stdout.write(`ratio modelgate (warm pool) / crypto (1 thread): ${(gbps('modelgate (warm)') / gbps('crypto (1 thread)')).toFixed(2)}×\n`);
  process.stdout.write(`ratio modelgate / sha256sum:         ${(gbps('modelgate') / gbps('sha256sum')).toFixed(2)}×\n`);
  process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
