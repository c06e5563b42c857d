/**
 * Typed errors with stable codes, shared by every module.
 *
 * Owns: the `ModelgateError` base class and the code vocabularies of each domain. Callers branch on
 * the error's class and `err.code` (stable, documented, unique across the project) and show
 * `err.message` (human). Modelled on sigstore-js's
 * `VerificationError`: the code never changes meaning; the message may be improved freely.
 */

/** Codes raised by the OCI layer (references, registries, image layouts). */
export const OCI_ERROR_CODES = [
  'BAD_REFERENCE', // a reference string could not be parsed
  'BAD_DIGEST', // a digest string is malformed or uses an unsupported algorithm
  'NOT_FOUND', // manifest, blob or tag does not exist
  'UNAUTHORIZED', // credentials missing or rejected (401)
  'DENIED', // authenticated but not allowed (403)
  'DIGEST_MISMATCH', // content does not hash to the digest it was asked for or announced
  'SIZE_MISMATCH', // content is shorter or longer than its descriptor says
  'TOO_LARGE', // content exceeds a configured limit
  'TIMEOUT', // a network call exceeded its deadline or stalled
  'ABORTED', // the caller aborted the operation
  'NETWORK', // connection refused/reset, DNS failure, TLS failure
  'REGISTRY_ERROR', // the registry answered 5xx or an unexpected status
  'PROTOCOL', // the registry answered something that breaks the distribution spec
  'BAD_MANIFEST', // a manifest/index is not valid JSON of the expected shape
  'UNSUPPORTED', // a media type or feature this client does not handle
] as const;
export type OciErrorCode = (typeof OCI_ERROR_CODES)[number];

/** Codes raised by configuration and command-line handling. */
export const USAGE_ERROR_CODES = ['USAGE', 'CONFIG'] as const;
export type UsageErrorCode = (typeof USAGE_ERROR_CODES)[number];

/** A failure that is not one of a domain's own (an unexpected exception wrapped with what was being done). */
export const INTERNAL_ERROR_CODES = ['INTERNAL'] as const;
export type InternalErrorCode = (typeof INTERNAL_ERROR_CODES)[number];

/** Codes raised by Sigstore verification; the class `VerificationError` lives in `src/sigstore/errors.ts`. */
export type { VerificationErrorCode } from './sigstore/errors.ts';
import type { VerificationErrorCode } from './sigstore/errors.ts';
import type { AdmissionErrorCode } from './admission/errors.ts';
import type { AttestationErrorCode } from './attest/errors.ts';
import type { DatasetErrorCode } from './dataset/errors.ts';
import type { EmitErrorCode } from './emit/errors.ts';
import type { HashingErrorCode } from './hashing/errors.ts';
import type { InitErrorCode } from './init/errors.ts';
import type { K8sErrorCode } from './k8s/errors.ts';
import type { ModelPackErrorCode } from './modelpack/pack.ts';
import type { VariantErrorCode } from './modelpack/variants.ts';
import type { ModelSignatureErrorCode } from './oms/errors.ts';
import type { PolicyErrorCode } from './policy/errors.ts';
import type { AttachErrorCode } from './sign/attach-predicate.ts';
import type { SigningErrorCode } from './sign/errors.ts';

/**
 * Every code a `ModelgateError` may carry: one closed union over the domains' code tuples. Codes are
 * unique across the project (a generic word used by several domains carries the domain's prefix:
 * `INIT_IO`, `DATASET_IO`, …), so a code names its error class; test/errors.test.ts enumerates the
 * tuples and asserts it.
 */
export type ErrorCode =
  | OciErrorCode
  | UsageErrorCode
  | InternalErrorCode
  | VerificationErrorCode
  | AdmissionErrorCode
  | AttestationErrorCode
  | AttachErrorCode
  | DatasetErrorCode
  | EmitErrorCode
  | HashingErrorCode
  | InitErrorCode
  | K8sErrorCode
  | ModelPackErrorCode
  | VariantErrorCode
  | ModelSignatureErrorCode
  | PolicyErrorCode
  | SigningErrorCode;

export class ModelgateError<C extends ErrorCode = ErrorCode> extends Error {
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

/**
 * Narrow an unknown thrown value to an error of class `type` carrying one of `codes` (any code when none
 * is given): callers branch on type + code, and the codes are checked against the class's vocabulary.
 */
export function hasCode<E extends ModelgateError>(err: unknown, type: abstract new (...args: never[]) => E, ...codes: readonly E['code'][]): err is E {
  return err instanceof type && (codes.length === 0 || codes.includes(err.code));
}
