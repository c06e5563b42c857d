/**
 * Errors raised by the init container (storage initializer) while pulling and publishing a model.
 *
 * Owns: `InitError` and its codes. Verification and registry failures keep their own codes
 * (`OciError`, the pipeline's decision); these cover what the puller itself refuses.
 */
import { ModelgateError } from '../errors.ts';

export const INIT_ERROR_CODES = [
  'NOT_PINNED', // the storage URI is not pinned by digest
  'BAD_URI', // the storage URI is not a modelgate URI
  'UNSAFE_ENTRY', // an archive entry escapes the destination, is a device/fifo, has setuid bits, or collides
  'UNSUPPORTED_LAYER', // a layer media type this puller cannot publish
  'INIT_TOO_LARGE', // extracted content exceeds what the verified manifest allows
  'DEST_NOT_EMPTY', // the destination holds something that is not this model
  'CACHE', // the node cache could not be used
  'LEASE_LOST', // another init container took over this one's cache lease (it stalled too long): retry
  'NO_SPACE', // the local disk or quota is full (ENOSPC, EDQUOT, EFBIG) in the cache, staging or DEST
  'INIT_IO', // another local file system failure (EACCES, EPERM, EROFS, EIO, …)
] as const;
export type InitErrorCode = (typeof INIT_ERROR_CODES)[number];

export class InitError extends ModelgateError<InitErrorCode> {}

const FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/**
 * A failure of the local file system (an error with an errno `code` and a `syscall`) as one coded
 * line naming the path: `NO_SPACE` for a full disk or quota, `INIT_IO` for the rest. Anything else (an
 * error that already has a code, a network error) is returned unchanged.
 */
export function localFailure(err: unknown, context?: string): unknown {
  if (err instanceof ModelgateError) return err;
  const e = err as NodeJS.ErrnoException | null;
  if (typeof e?.code !== 'string' || typeof e.syscall !== 'string') return err;
  const named = typeof e.path === 'string' && !e.message.includes(e.path) ? `${e.message} (${e.path})` : e.message;
  const message = `${context === undefined ? '' : `${context}: `}${named}`.replace(/[\r\n]+/g, ' ');
  return new InitError(FULL.has(e.code) ? 'NO_SPACE' : 'INIT_IO', message, { cause: err });
}
