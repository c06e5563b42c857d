/**
 * Errors raised by the init container (storage initializer) while pulling and publishing a model.
 *
 * Owns: `InitError` and its codes. Verification and registry failures keep their own codes
 * (`OciError`, the pipeline's decision); these cover what the puller itself refuses.
 */
import { ModelgateError } from '../errors.ts';

export type InitErrorCode =
  | 'NOT_PINNED' // the storage URI is not pinned by digest
  | 'BAD_URI' // the storage URI is not a modelgate URI
  | 'UNSAFE_ENTRY' // an archive entry escapes the destination, is a device/fifo, has setuid bits, or collides
  | 'UNSUPPORTED_LAYER' // a layer media type this puller cannot publish
  | 'TOO_LARGE' // extracted content exceeds what the verified manifest allows
  | 'DEST_NOT_EMPTY' // the destination holds something that is not this model
  | 'CACHE' // the node cache could not be used
  | 'LEASE_LOST' // another init container took over this one's cache lease (it stalled too long): retry
  | 'IO'; // a local file system operation failed

export class InitError extends ModelgateError<InitErrorCode> {}
