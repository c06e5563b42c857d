/**
 * Errors raised by Sigstore verification (bundles, DSSE, keys, trust roots).
 *
 * Owns: `VerificationError` and its stable code vocabulary. Every rejection made by `src/sigstore/`
 * carries one of these codes; callers branch on `code`, never on the message. Exceptions thrown by
 * `@sigstore/*` libraries are mapped to these codes at the boundary (see `bundle.ts`).
 */
import { ModelgateError } from '../errors.ts';

export const VERIFICATION_ERROR_CODES = [
  'SIGNATURE', // a signature does not verify over the content it claims to sign
  'CERTIFICATE', // the signing certificate does not chain to a trusted CA, is outside its validity, lacks SCTs
  'IDENTITY', // the certificate is valid but its SAN / OIDC issuer is not the one required
  'TLOG', // a transparency-log entry is missing, untrusted, or does not match the signature (SET, proof, body)
  'TIMESTAMP', // no (or too few) verified times: RFC 3161 timestamp invalid, Rekor v2 entry without TSA time
  'DIGEST', // the artifact (or its digest) is not the one the bundle signs / the statement names
  'BUNDLE_FORMAT', // the bundle/envelope is not parseable or not of a supported shape/version/size
  'TRUST_ROOT', // the trusted root is malformed or unusable (bad keys, missing validity start)
  'TRUST_UNAVAILABLE', // trust material could not be obtained (TUF mirror unreachable, cache missing)
  'KEY', // a public key is malformed, unsupported, or no configured key matches the bundle
  'POLICY', // the bundle is authentic but the caller's policy (signer kind, thresholds) rejects it
] as const;
export type VerificationErrorCode = (typeof VERIFICATION_ERROR_CODES)[number];

export class VerificationError extends ModelgateError<VerificationErrorCode> {}

export function isVerificationError(err: unknown, ...codes: VerificationErrorCode[]): err is VerificationError {
  return err instanceof VerificationError && (codes.length === 0 || codes.includes(err.code));
}

/** Longest echo of an input value in an error message. */
const MAX_ECHO = 120;

/**
 * A short, safe rendering of an untrusted input value for an error message: strings are quoted and
 * truncated, anything else is named by its type (never serialised: a 100,000-deep array would
 * overflow the stack in `JSON.stringify`, and a large one would flood the log).
 */
export function echo(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}…` : value;
    return `${JSON.stringify(shown)}${value.length > MAX_ECHO ? ` (${value.length} characters)` : ''}`;
  }
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
