/**
 * The names verified evidence is written in: payload, bundle and predicate types.
 *
 * Owns: one definition of each media type and predicate type that more than one module reads or
 * writes (signers in `src/sign/`, verifiers in `src/sigstore/`, `src/oms/`, `src/attest/`, the policy
 * input in `src/policy/`, the explain report).
 */

/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** Sigstore bundle v0.3, the media type modelgate writes (and the OMS model-signature format requires). */
export const SIGSTORE_BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** Every Sigstore bundle media type a bundle may declare (v0.1–v0.3, both v0.3 spellings). */
export const SIGSTORE_BUNDLE_MEDIA_TYPES = [
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
] as const;

/** Prefix of every Sigstore bundle media type (`…bundle+json;version=…`, `…bundle.v0.3+json`). */
export const SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';
/** Our evaluation predicate: `{ "metrics": { "<name>": <number>, ... } }` (ours, not a standard). */
export const EVALUATION_PREDICATE_V1 = 'https://modelgate.dev/evaluation/v1';
/** in-toto Test Result, as `modelgate attest evaluate` writes it: its `metrics` are read like ours above. */
export const TEST_RESULT_PREDICATE_V01 = 'https://in-toto.io/attestation/test-result/v0.1';
