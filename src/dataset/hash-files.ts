/**
 * SHA-256 of many files, on all cores, each byte read once.
 *
 * Owns: the small `HashFiles` interface the dataset manifest code is written against, and its
 * default implementation. Batches under 16 MiB are hashed on the calling thread (starting workers
 * would cost more); larger ones go to `hashFileList` (`src/hashing/file-list.ts`): one worker per
 * core, each given the whole path list once and claiming files largest first from a shared counter
 * (a big file started last would leave the other cores idle at the end), so the main thread does
 * nothing per file while they hash; progress arrives in batches.
 */
import { hashFileList } from '../hashing/file-list.ts';
import { hashJobs, type HashJob } from '../hashing/pool.ts';

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
  const outcomes = await hashFileList(paths, {
    ...(sizes === undefined ? {} : { sizes }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  return outcomes.map((o) => ({ sha256: o.hex, bytes: o.bytes }));
};
