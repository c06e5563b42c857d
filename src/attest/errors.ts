/**
 * Errors raised while reading in-toto statements and SLSA provenance, and by the SLSA policy.
 *
 * Owns: `AttestationError` and its stable codes. The policy codes mirror slsa-verifier's error
 * names (ErrorMismatchSource → SOURCE_MISMATCH, ErrorMismatchBranch → BRANCH_MISMATCH, …) so a
 * verdict can be mapped back to upstream behaviour.
 */
import { ModelgateError } from '../errors.ts';

export const ATTESTATION_ERROR_CODES = [
  'PAYLOAD_TYPE', // the DSSE payloadType is not an in-toto one
  'STATEMENT', // the payload is not a well-formed in-toto Statement v0.1 / v1
  'PREDICATE_TYPE', // the signed predicateType is not the one required
  'SUBJECT_MISMATCH', // no statement subject carries the artifact's digest
  'PROVENANCE', // the SLSA predicate is malformed (missing builder id, bad materials, …)
  'MALFORMED_URI', // a source URI is not a git+https://github.com/… URI or lacks its ref
  'INVALID_REF', // a git ref is not of the expected kind (refs/heads/…, refs/tags/vX.Y.Z)
  'INVALID_SEMVER', // an expected or recorded versioned tag is not semver
  'OIDC_ISSUER', // the signing certificate was not issued for GitHub Actions
  'UNTRUSTED_BUILDER', // the certificate's workflow is not a trusted builder (or not the expected one)
  'BUILDER_MISMATCH', // provenance builder.id differs from the certificate's / the expected builder
  'SOURCE_MISMATCH', // the source repository is not the expected one (exact match)
  'BRANCH_MISMATCH',
  'TAG_MISMATCH',
  'VERSIONED_TAG_MISMATCH',
  'WORKFLOW_INPUTS_MISMATCH',
  'NPM_ATTESTATIONS', // the npm attestation set lacks a provenance or a publish attestation, or is malformed
  'NPM_REGISTRY_KEYS', // no valid npm registry key verifies the publish attestation (or the keys are unreadable)
  'PACKAGE_NAME', // a package name in the attestations is malformed
  'PACKAGE_NAME_MISMATCH',
  'PACKAGE_VERSION_MISMATCH',
] as const;
export type AttestationErrorCode = (typeof ATTESTATION_ERROR_CODES)[number];

export class AttestationError extends ModelgateError<AttestationErrorCode> {}
