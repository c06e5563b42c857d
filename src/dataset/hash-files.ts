/**
 * SHA-256 of many files, on all cores, each byte read once.
 *
 * Owns: the small `HashFiles` interface the dataset manifest code is written against, and its
 * default implementation over the shared worker-thread pool (`src/hashing/pool.ts`). Batches under
 * 16 MiB are hashed on the calling thread (starting workers would cost more); larger ones go to a
 * pool with one worker per core, largest file first (a big file started last would leave the other
 * cores idle at the end) with sizes as hints so small files travel to the workers in packs,
 * reporting progress as each file completes.
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
  /** Each path's listed size, in the same order: largest-first scheduling and packing of small files. */
  readonly sizes?: readonly number[];
  /** Called with the running total of bytes hashed, after each file. */
  readonly onProgress?: (bytesDone: number) => void;
  readonly signal?: AbortSignal;
}

/** Hash `paths`; results in the same order. */
export type HashFiles = (paths: readonly string[], options?: HashFilesOptions) => Promise<FileDigest[]>;

const INLINE_BELOW_BYTES = 16 * 1024 * 1024;

export const hashFilesSha256: HashFiles = async (paths, options = {}) => {
  const sizes = options.sizes !== undefined && options.sizes.length === paths.length ? options.sizes : undefined;
  const jobs: HashJob[] = paths.map((path, i) => ({ kind: 'file', path, algorithm: 'sha256', ...(sizes === undefined ? {} : { size: sizes[i]! }) }));
  if (jobs.length === 0) return [];
  if (options.totalBytes !== undefined && options.totalBytes < INLINE_BELOW_BYTES) {
    const outcomes = await hashJobs(jobs, { inlineBelowBytes: INLINE_BELOW_BYTES, ...(options.signal === undefined ? {} : { signal: options.signal }) });
    options.onProgress?.(outcomes.reduce((sum, o) => sum + o.bytes, 0));
    return outcomes.map((o) => ({ sha256: o.hex, bytes: o.bytes }));
  }
  const pool = new HashPool({ threads: Math.min(availableParallelism(), jobs.length) });
  let done = 0;
  const order = jobs.map((_, i) => i);
  if (sizes !== undefined) order.sort((a, b) => sizes[b]! - sizes[a]!);
  try {
    // One batch for all files (a promise per file costs the main thread more than the packing saves).
    const outcomes = await pool.hashAll(
      order.map((i) => jobs[i]!),
      options.signal,
      (_, outcome) => {
        done += outcome.bytes;
        options.onProgress?.(done);
      },
    );
    const digests = new Array<FileDigest>(jobs.length);
    order.forEach((jobIndex, k) => {
      digests[jobIndex] = { sha256: outcomes[k]!.hex, bytes: outcomes[k]!.bytes };
    });
    return digests;
  } finally {
    await pool.close();
  }
};
