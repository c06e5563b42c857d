/**
 * Typed errors with stable codes, shared by every module.
 *
 * Owns: the `ModelgateError` base class and the code vocabularies of each domain. Callers branch on
 * `err.code` (stable, documented) and show `err.message` (human). Modelled on sigstore-js's
 * `VerificationError`: the code never changes meaning; the message may be improved freely.
 */

/** Codes raised by the OCI layer (references, registries, image layouts). */
export type OciErrorCode =
  | 'BAD_REFERENCE' // a reference string could not be parsed
  | 'BAD_DIGEST' // a digest string is malformed or uses an unsupported algorithm
  | 'NOT_FOUND' // manifest, blob or tag does not exist
  | 'UNAUTHORIZED' // credentials missing or rejected (401)
  | 'DENIED' // authenticated but not allowed (403)
  | 'DIGEST_MISMATCH' // content does not hash to the digest it was asked for or announced
  | 'SIZE_MISMATCH' // content is shorter or longer than its descriptor says
  | 'TOO_LARGE' // content exceeds a configured limit
  | 'TIMEOUT' // a network call exceeded its deadline or stalled
  | 'ABORTED' // the caller aborted the operation
  | 'NETWORK' // connection refused/reset, DNS failure, TLS failure
  | 'REGISTRY_ERROR' // the registry answered 5xx or an unexpected status
  | 'PROTOCOL' // the registry answered something that breaks the distribution spec
  | 'BAD_MANIFEST' // a manifest/index is not valid JSON of the expected shape
  | 'UNSUPPORTED'; // a media type or feature this client does not handle

/** Codes raised by configuration and command-line handling. */
export type UsageErrorCode = 'USAGE' | 'CONFIG';

/** Codes raised by Sigstore verification; the class `VerificationError` lives in `src/sigstore/errors.ts`. */
export type { VerificationErrorCode } from './sigstore/errors.ts';
import type { VerificationErrorCode } from './sigstore/errors.ts';

export type ErrorCode = OciErrorCode | UsageErrorCode | VerificationErrorCode;

export class ModelgateError<C extends string = ErrorCode> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class OciError extends ModelgateError<OciErrorCode> {
  /** True when a retry later might succeed (the registry or network misbehaved, not the content). */
  get transient(): boolean {
    return this.code === 'TIMEOUT' || this.code === 'NETWORK' || this.code === 'REGISTRY_ERROR';
  }
}

export class UsageError extends ModelgateError<UsageErrorCode> {}

/** Narrow an unknown thrown value to a ModelgateError with one of the given codes. */
export function hasCode<C extends string>(err: unknown, ...codes: C[]): err is ModelgateError<C> {
  return err instanceof ModelgateError && (codes.length === 0 || codes.includes(err.code as C));
}
