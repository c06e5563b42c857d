/**
 * Benchmark: verified copy of one large blob out of an OCI image layout — `LayoutStore.downloadBlob`
 * (4 MiB reads into one reused buffer, hashed, written, fsynced, renamed) against three baselines run in
 * the same process: `fs.copyFile` (no verification at all), `fs.copyFile` + fsync (durable, not
 * verified) and the naive verified copy
 * (`createReadStream` with Node's default 64 KiB chunks → hash → `createWriteStream`, fsync, rename).
 *
 * Writes a random blob of LAYOUT_BENCH_MIB MiB (default 512) into a temporary layout, then runs
 * LAYOUT_BENCH_ROUNDS rounds (default 5), each running the four copies in a rotating order. Prints
 * each run, the medians (wall GB/s and CPU seconds per GiB) and the ratios. Every temporary file is removed.
 *
 *   npm run build && node bench/layout.ts
 *   LAYOUT_BENCH_MIB=256 LAYOUT_BENCH_ROUNDS=3 node bench/layout.ts
 */
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { copyFile, open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestOf } from '../src/oci/digest.ts';
import { LayoutStore } from '../src/oci/layout.ts';
import type { Descriptor } from '../src/oci/manifest.ts';

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.LAYOUT_BENCH_MIB ?? 512);
const ROUNDS = Number(process.env.LAYOUT_BENCH_ROUNDS ?? 5);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Wall seconds and process CPU seconds (user + system, all threads) of one run. */
async function timed(fn: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await fn();
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 };
}

/** Unverified but durable: what publishing a file safely costs without hashing. */
async function durableCopy(source: string, target: string): Promise<void> {
  await copyFile(source, target);
  const handle = await open(target, 'r+');
  await handle.sync();
  await handle.close();
}

/** The straightforward verified copy most code would write: default stream chunks. */
async function naiveVerifiedCopy(source: string, target: string, expected: string): Promise<void> {
  const hash = createHash('sha256');
  const temp = `${target}.tmp`;
  await pipeline(
    createReadStream(source),
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    }),
    createWriteStream(temp),
  );
  const handle = await open(temp, 'r+');
  await handle.sync();
  await handle.close();
  if (`sha256:${hash.digest('hex')}` !== expected) throw new Error('digest mismatch');
  await rename(temp, target);
}

const dir = mkdtempSync(join(tmpdir(), 'modelgate-bench-layout-'));
try {
  const store = new LayoutStore(join(dir, 'layout'), { create: true });
  const bytes = Buffer.allocUnsafe(SIZE_MIB * MIB);
  randomFillSync(bytes);
  const descriptor: Descriptor = await store.pushBlob({ kind: 'bytes', bytes, mediaType: 'application/octet-stream' });
  if (descriptor.digest !== digestOf(bytes)) throw new Error('push returned the wrong digest');
  const source = store.blobPath(descriptor.digest);
  const target = join(dir, 'out.bin');
  await writeFile(target, '');

  const runners: Array<[string, () => Promise<void>]> = [
    ['copyFile (unverified)', () => copyFile(source, target)],
    ['copyFile + fsync', () => durableCopy(source, target)],
    ['naive verified (64 KiB)', () => naiveVerifiedCopy(source, target, descriptor.digest)],
    ['LayoutStore.downloadBlob', () => store.downloadBlob(descriptor, target)],
  ];
  const results = new Map<string, Array<{ wall: number; cpu: number }>>(runners.map(([name]) => [name, []]));
  console.log(`blob: ${SIZE_MIB} MiB, ${ROUNDS} rounds, page cache warm (the blob was just written)`);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < runners.length; i++) {
      const [name, run] = runners[(i + round) % runners.length]!;
      await rm(target, { force: true });
      const sample = await timed(run);
      results.get(name)!.push(sample);
      console.log(`  round ${round + 1}  ${name.padEnd(26)} ${(SIZE_MIB * MIB / sample.wall / 1e9).toFixed(2)} GB/s  cpu ${sample.cpu.toFixed(2)} s`);
    }
  }
  // Wall-clock throughput, and CPU seconds per GiB (steadier than wall time on a shared machine).
  const gbps = (name: string) => (SIZE_MIB * MIB) / median(results.get(name)!.map((r) => r.wall)) / 1e9;
  const cpuPerGiB = (name: string) => median(results.get(name)!.map((r) => r.cpu)) / (SIZE_MIB / 1024);
  console.log('medians:                     wall GB/s   CPU s/GiB');
  for (const [name] of runners) {
    console.log(`  ${name.padEnd(26)} ${gbps(name).toFixed(2).padStart(9)}   ${cpuPerGiB(name).toFixed(2).padStart(9)}`);
  }
  const ours = 'LayoutStore.downloadBlob';
  for (const baseline of ['copyFile (unverified)', 'copyFile + fsync', 'naive verified (64 KiB)']) {
    console.log(`ratio downloadBlob / ${baseline}: wall throughput ${(gbps(ours) / gbps(baseline)).toFixed(2)}, CPU per byte ${(cpuPerGiB(ours) / cpuPerGiB(baseline)).toFixed(2)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
