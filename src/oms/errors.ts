/**
 * Errors raised by OpenSSF model-signing (OMS) verification beyond the Sigstore layer.
 *
 * Owns: `ModelSignatureError` and its codes: what is wrong with the signed model manifest or with
 * the model on disk. Signature/certificate/key failures keep their Sigstore `VerificationError` codes.
 */
import { ModelgateError } from '../errors.ts';

export const MODEL_SIGNATURE_ERROR_CODES = [
  'PAYLOAD', // the signed statement is not a valid OMS payload (predicate, resources, serialization)
  'ROOT_DIGEST', // the subject digest is not the hash of the listed resource digests
  'OMS_UNSUPPORTED', // a hash type / serialization / legacy format this verifier does not accept
  'MODEL_PATH', // the model path is unusable: missing, special file, symlink not allowed, escapes the root, no files
  'MISMATCH', // the model on disk differs from the signed manifest (changed, missing or extra files)
] as const;
export type ModelSignatureErrorCode = (typeof MODEL_SIGNATURE_ERROR_CODES)[number];

export class ModelSignatureError extends ModelgateError<ModelSignatureErrorCode> {
  /** For MISMATCH: the per-resource differences, for reports. */
  readonly differences: readonly string[];
  constructor(code: ModelSignatureErrorCode, message: string, options?: { cause?: unknown; differences?: readonly string[] }) {
    super(code, message, options);
    this.differences = options?.differences ?? [];
  }
}
