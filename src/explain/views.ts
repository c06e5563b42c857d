/**
 * The views of verified evidence that the explain report (`report.ts`) and its policy checklist
 * (`policy-data.ts`) share: who signed, when it was logged, what an attestation says.
 *
 * Owns: those view types (JSON-able; part of `modelgate.dev/explain/v1`).
 */
import type { AttestationView } from './predicates.ts';

export interface SignerView {
  readonly method: 'key' | 'certificate' | 'keyless';
  /** `sha256:<hex>` of the public key (SPKI DER) or certificate, when signed by key or certificate. */
  readonly keyId: string | null;
  readonly san: string | null;
  readonly issuer: string | null;
  /** Fulcio OIDC extensions (source repository, workflow, …) of a keyless certificate. */
  readonly oidc: Readonly<Record<string, string>>;
  readonly description: string;
}

export interface TransparencyLogView {
  readonly logIndex: number;
  readonly integratedTime: string;
  readonly logId: string;
}

/** Who made a verified signature or attestation, and when a log or timestamp authority saw it. */
export interface SignedBy {
  readonly signer: SignerView;
  readonly tlog: TransparencyLogView | null;
  readonly timestamps: readonly string[];
}

export interface VerifiedAttestationView extends SignedBy {
  readonly status: 'verified';
  readonly predicateType: string;
  readonly view: AttestationView;
}

/**
 * A training dataset named by verified provenance as an OCI artifact, and the dataset attestations
 * (`https://modelgate.dev/dataset/v1`: sources, curation, licence) verified next to it.
 */
export interface DatasetEvidenceView {
  readonly uri: string;
  readonly digest: string;
  /** `verified`: at least one dataset attestation verified; `none`: none did; `unavailable`: could not be read. */
  readonly status: 'verified' | 'none' | 'unavailable';
  readonly attestations: readonly VerifiedAttestationView[];
  /** Dataset attestations found that did not verify against the checked signers. */
  readonly unverified: number;
  readonly failure: { readonly code: string; readonly message: string } | null;
}

export interface EvidenceView {
  readonly status: 'verified' | 'failed';
  readonly kind: 'signature' | 'attestation';
  /** `referrer` (OCI referrer / Sigstore bundle), `legacy-sig` / `legacy-att` (cosign tags). */
  readonly source: string;
  /** The manifest that carried the evidence. */
  readonly manifestDigest: string;
  /** Verified predicate type, or when failed the *unauthenticated* claim. */
  readonly predicateType: string | null;
  readonly signer: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}
