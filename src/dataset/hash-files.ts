/**
 * SHA-256 of many files, on all cores, each byte read once.
 *
 * Owns: the small `HashFiles` interface the dataset manifest code is written against, and its
 * default implementation over the shared worker-thread pool (`src/hashing/pool.ts`). Batches under
 * 16 MiB are hashed on the calling thread (starting workers would cost more); larger ones go to a
 * pool with one worker per core, reporting progress as each file completes.
 */
import { availableParallelism } from 'node:os';
import { HashPool, hashJobs, type HashJob } from '../hashing/pool.ts';

export interface FileDigest {
  /** Lowercase hex SHA-256 of the file's content. */
  readonly sha256: string;
  /** Bytes hashed (the file's size at the time it was read). */
  readonly bytes: number;
}

export interface HashFilesOptions {
  /** Total bytes expected (sum of listed sizes); picks inline vs. worker hashing. */
  readonly totalBytes?: number;
  /** Called with the running total of bytes hashed, after each file. */
  readonly onProgress?: (bytesDone: number) => void;
  readonly signal?: AbortSignal;
}

/** Hash `paths`; results in the same order. */
export type HashFiles = (paths: readonly string[], options?: HashFilesOptions) => Promise<FileDigest[]>;

const INLINE_BELOW_BYTES = 16 * 1024 * 1024;

export const hashFilesSha256: HashFiles = async (paths, options = {}) => {
  const jobs: HashJob[] = paths.map((path) => ({ kind: 'file', path, algorithm: 'sha256' }));
  if (jobs.length === 0) return [];
  if (options.totalBytes !== undefined && options.totalBytes < INLINE_BELOW_BYTES) {
    const outcomes = await hashJobs(jobs, { inlineBelowBytes: INLINE_BELOW_BYTES, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    options.onProgress?.(outcomes.reduce((sum, o) => sum + o.bytes, 0));
    return outcomes.map((o) => ({ sha256: o.hex, bytes: o.bytes }));
  }
  const pool = new HashPool({ threads: Math.min(availableParallelism(), jobs.length) });
  let done = 0;
  try {
    return await Promise.all(
      jobs.map(async (job) => {
        const outcome = await pool.hash(job, options.signal);
        done += outcome.bytes;
        options.onProgress?.(done);
        return { sha256: outcome.hex, bytes: outcome.bytes };
      }),
    );
  } finally {
    await pool.close();
  }
};
