/**
 * Errors raised while hashing files on disk.
 *
 * Owns: `HashingError` and its codes. The pool reports I/O failures (missing file, permission,
 * file shorter than the range asked for) with these codes, whether the work ran in a worker thread
 * or on the calling thread.
 */
import { ModelgateError } from '../errors.ts';

export const HASHING_ERROR_CODES = [
  'HASHING_IO', // the file could not be opened or read (ENOENT, EACCES, EISDIR, …)
  'SHORT_READ', // the file ended before the end of the requested byte range (it shrank while hashing)
  'BAD_JOB', // the job itself is invalid (negative or inverted range, unknown algorithm)
  'POOL_CLOSED', // the pool was closed (or a worker died) before the job finished
  'HASHING_ABORTED', // the caller's AbortSignal fired
] as const;
export type HashingErrorCode = (typeof HASHING_ERROR_CODES)[number];

export class HashingError extends ModelgateError<HashingErrorCode> {}
