/**
 * Measuring helpers shared by the benchmark scripts: medians, timing a child process (wall and, with
 * GNU time, CPU seconds), writing a random blob of a given size while hashing it, the one-thread
 * `crypto` hashing baseline, and a loopback registry with a temporary directory for the length of
 * one benchmark.
 */
import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDigest, type Digest } from '../src/oci/digest.ts';
import { startRegistry, type RunningRegistry } from '../test/helpers/registry.ts';

export const MIB = 1024 * 1024;
const run = promisify(execFile);

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Baseline: one thread, `readSync` into a reused 2 MiB buffer, `crypto` sha256; returns hex digests. */
export function hashSequential(paths: readonly string[]): string[] {
  const buffer = Buffer.allocUnsafe(2 * MIB);
  return paths.map((path) => {
    const fd = openSync(path, 'r');
    const hash = createHash('sha256');
    try {
      for (let n = readSync(fd, buffer, 0, buffer.length, null); n > 0; n = readSync(fd, buffer, 0, buffer.length, null)) hash.update(buffer.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    return hash.digest('hex');
  });
}

/** Write `sizeMiB` MiB of random bytes to `path`, hashing as we go (4 MiB writes). */
export async function writeRandomBlob(path: string, sizeMiB: number): Promise<Digest> {
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(4 * MIB);
  const file = await open(path, 'wx');
  try {
    for (let written = 0; written < sizeMiB * MIB; written += chunk.length) {
      const piece = chunk.subarray(0, Math.min(chunk.length, sizeMiB * MIB - written));
      randomFillSync(piece);
      hash.update(piece);
      await file.write(piece);
    }
  } finally {
    await file.close();
  }
  return parseDigest(`sha256:${hash.digest('hex')}`);
}

export interface Run {
  /** Wall-clock seconds. */
  readonly seconds: number;
  /** CPU seconds (user + system) spent by the measured work, all of its threads. */
  readonly cpuSeconds: number;
}

const GNU_TIME = '/usr/bin/time';
export const haveGnuTime = existsSync(GNU_TIME);

/** Time a child process; its CPU comes from GNU time when installed (NaN otherwise). Resolves with its stdout too. */
export async function timedChild(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<Run & { stdout: string }> {
  const started = performance.now();
  const common = { maxBuffer: 64 * MIB, ...(options.env ? { env: options.env } : {}) };
  if (!haveGnuTime) {
    const { stdout } = await run(command, [...args], common);
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: Number.NaN, stdout };
  }
  const { stdout, stderr } = await run(GNU_TIME, ['-f', 'cpu %U %S', command, ...args], common);
  const seconds = (performance.now() - started) / 1000;
  const match = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  return { seconds, cpuSeconds: match ? Number(match[1]) + Number(match[2]) : Number.NaN, stdout };
}

/**
 * Run `work` with the real docker-registry on 127.0.0.1 (anonymous; HTTPS with a throw-away CA when
 * `tls`) and a temporary directory; both removed at the end, also on Ctrl-C.
 */
export async function withBenchRegistry<T>(prefix: string, work: (registry: RunningRegistry, dir: string) => Promise<T>, options: { tls?: boolean } = {}): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const registry = await startRegistry({ auth: 'none', tls: options.tls ?? false });
  const cleanUp = async (): Promise<void> => {
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    return await work(registry, dir);
  } finally {
    await cleanUp();
  }
}
