/**
 * Hash one file, or one byte range of a file, synchronously with large positioned reads.
 *
 * Owns: the inner loop shared by the worker threads and the small-job fast path of the pool
 * (`pool.ts`): open, `readSync` into one reused buffer (≥ 1 MiB: Node's default 64 KiB stream chunks
 * halve throughput, see shared/reference/performance-facts.md), feed the hash, close. Each byte is
 * read exactly once; nothing is buffered beyond the one read buffer.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { HashingError, type HashingErrorCode } from './errors.ts';

/** Algorithms the pool hashes with: Node/OpenSSL names (`blake2b512` is Python's `hashlib.blake2b`). */
export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512' | 'blake2b512';

export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['sha256', 'sha384', 'sha512', 'blake2b512'];

/** One unit of hashing work: a whole file, or the byte range [start, end) of it. */
export type HashJob = (
  | { readonly kind: 'file'; readonly path: string; readonly algorithm: HashAlgorithm }
  | { readonly kind: 'range'; readonly path: string; readonly algorithm: HashAlgorithm; readonly start: number; readonly end: number }
) & {
  /**
   * Expected bytes, when the caller knows them (a hint, not checked against the file): lets the pool
   * send runs of small jobs to a worker in one message instead of one round trip per file.
   */
  readonly size?: number;
};

export interface HashOutcome {
  /** Lowercase hex digest. */
  readonly hex: string;
  /** Bytes hashed. */
  readonly bytes: number;
}

export const DEFAULT_READ_SIZE = 2 * 1024 * 1024;

export function validateJob(job: HashJob): void {
  if (!HASH_ALGORITHMS.includes(job.algorithm)) {
    throw new HashingError('BAD_JOB', `unsupported hash algorithm "${String(job.algorithm)}" for ${job.path}`);
  }
  if (job.size !== undefined && (!Number.isSafeInteger(job.size) || job.size < 0)) {
    throw new HashingError('BAD_JOB', `invalid size hint ${job.size} for ${job.path}`);
  }
  if (job.kind === 'range') {
    if (!Number.isSafeInteger(job.start) || !Number.isSafeInteger(job.end) || job.start < 0 || job.end < job.start) {
      throw new HashingError('BAD_JOB', `invalid byte range [${job.start}, ${job.end}) for ${job.path}`);
    }
  }
}

function ioError(err: unknown, path: string): HashingError {
  const message = err instanceof Error ? err.message : String(err);
  return new HashingError('HASHING_IO', `cannot read ${path}: ${message}`, { cause: err });
}

/** Hash a job on the calling thread, reading through `buffer` (reused across calls). */
export function hashJobSync(job: HashJob, buffer: Buffer): HashOutcome {
  validateJob(job);
  let fd: number;
  try {
    fd = openSync(job.path, 'r');
  } catch (err) {
    throw ioError(err, job.path);
  }
  try {
    const hash = createHash(job.algorithm);
    let position = job.kind === 'range' ? job.start : 0;
    const end = job.kind === 'range' ? job.end : Number.POSITIVE_INFINITY;
    let total = 0;
    while (position < end) {
      const want = Math.min(buffer.length, end - position);
      let got: number;
      try {
        got = readSync(fd, buffer, 0, want, position);
      } catch (err) {
        throw ioError(err, job.path); // a directory fails here: EISDIR (no fstat per file to check first)
      }
      if (got === 0) break;
      hash.update(buffer.subarray(0, got));
      position += got;
      total += got;
    }
    if (job.kind === 'range' && position < job.end) {
      throw new HashingError('SHORT_READ', `${job.path} ended at byte ${position}, before the end of range [${job.start}, ${job.end})`);
    }
    return { hex: hash.digest('hex'), bytes: total };
  } finally {
    closeSync(fd);
  }
}

/** Serialisable form of a failure, sent from a worker thread back to the pool. */
export interface WireError {
  readonly code: HashingErrorCode;
  readonly message: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof HashingError) return { code: err.code, message: err.message };
  return { code: 'HASHING_IO', message: err instanceof Error ? err.message : String(err) };
}
