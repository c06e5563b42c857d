/**
 * Benchmark: verified copy of one large blob out of an OCI image layout — `LayoutStore.downloadBlob`
 * (4 MiB reads into one reused buffer, hashed, written, fsynced, renamed) against two baselines run in
 * the same process: `fs.copyFile` (no verification at all) and the naive verified copy
 * (`createReadStream` with Node's default 64 KiB chunks → hash → `createWriteStream`, fsync, rename).
 *
 * Writes a random blob of LAYOUT_BENCH_MIB MiB (default 512) into a temporary layout, then runs
 * LAYOUT_BENCH_ROUNDS rounds (default 5), each running the three copies in a rotating order. Prints
 * each run, the medians in GB/s and the ratios. Every temporary file is removed.
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

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
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
    ['naive verified (64 KiB)', () => naiveVerifiedCopy(source, target, descriptor.digest)],
    ['LayoutStore.downloadBlob', () => store.downloadBlob(descriptor, target)],
  ];
  const results = new Map<string, number[]>(runners.map(([name]) => [name, []]));
  console.log(`blob: ${SIZE_MIB} MiB, ${ROUNDS} rounds, page cache warm (the blob was just written)`);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < runners.length; i++) {
      const [name, run] = runners[(i + round) % runners.length]!;
      await rm(target, { force: true });
      const seconds = await timed(run);
      results.get(name)!.push(seconds);
      console.log(`  round ${round + 1}  ${name.padEnd(26)} ${(SIZE_MIB * MIB / seconds / 1e9).toFixed(2)} GB/s`);
    }
  }
  const gbps = (name: string) => (SIZE_MIB * MIB) / median(results.get(name)!) / 1e9;
  const base = gbps('copyFile (unverified)');
  const naive = gbps('naive verified (64 KiB)');
  const ours = gbps('LayoutStore.downloadBlob');
  console.log('medians:');
  console.log(`  copyFile (unverified)      ${base.toFixed(2)} GB/s`);
  console.log(`  naive verified (64 KiB)    ${naive.toFixed(2)} GB/s`);
  console.log(`  LayoutStore.downloadBlob   ${ours.toFixed(2)} GB/s`);
  console.log(`ratio downloadBlob / copyFile: ${(ours / base).toFixed(2)}`);
  console.log(`ratio downloadBlob / naive verified copy: ${(ours / naive).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
