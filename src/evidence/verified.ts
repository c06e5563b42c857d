/**
 * Verified evidence: what the verifiers (`src/sigstore/`, `src/oms/`, `src/attest/`) hand over once a
 * signature, attestation or model signature has verified, and what did not verify.
 *
 * Owns: `VerifiedSignature`, `VerifiedAttestation`, `VerifiedModelSignature`, the transparency-log
 * evidence they carry, `Failure` (a stable code and a message), the per-item summary every decision
 * reports (`EvidenceSummary`), and `VerifiedEvidenceSet`, the set a decision is made on. Only ever
 * built after verification succeeded; `src/policy/input.ts` turns these into policy JSON.
 */
import type { Digest } from './digest.ts';
import type { SignerIdentity } from './signers.ts';

export interface TransparencyLogEvidence {
  readonly logIndex: number;
  readonly integratedTime: Date;
  readonly logId: string;
}

interface SignedEvidence {
  readonly signer: SignerIdentity;
  /** The artifact digest the signature / statement subject was verified to cover. */
  readonly subjectDigest: Digest;
  readonly tlog?: TransparencyLogEvidence;
  /** Verified RFC 3161 timestamp times. */
  readonly timestamps?: readonly Date[];
}

export type VerifiedSignature = SignedEvidence;

export interface VerifiedAttestation extends SignedEvidence {
  readonly predicateType: string;
  /** The predicate of the verified in-toto statement (parsed JSON; shape checked while normalising). */
  readonly predicate: unknown;
}

/** An OMS model signature (`model.sig`) that verified, and what its manifest was checked against. */
export interface VerifiedModelSignature {
  readonly signer: SignerIdentity;
  readonly modelName: string;
  /** OMS root digest (sha256 over the resource digests). */
  readonly rootDigest: Digest;
  readonly resourceCount: number;
  /** Checked against files on disk (init) or against the OCI manifest's layer digests (admission). */
  readonly verifiedAgainst: 'files' | 'oci-manifest';
  readonly tlog?: TransparencyLogEvidence;
  readonly timestamps?: readonly Date[];
}

/** Why something did not verify or could not be read: a stable code and a message for people. */
export interface Failure {
  readonly code: string;
  readonly message: string;
}

/** Where cosign-style evidence was found: an OCI referrer, or cosign's legacy `.sig` / `.att` tags. */
export type EvidenceSource = 'referrer' | 'legacy-sig' | 'legacy-att';

export interface EvidenceSummaryItem {
  readonly source: EvidenceSource;
  readonly kind: 'signature' | 'attestation';
  readonly status: 'verified' | 'failed';
  /** Digest of the manifest that carried the evidence. */
  readonly manifestDigest: Digest;
  readonly layerIndex: number | null;
  /** Verified statement predicateType (or, when failed, the unauthenticated claim). */
  readonly predicateType: string | null;
  /** `key sha256:…` or `SAN (issuer …)`, when verified. */
  readonly signer: string | null;
  /** Why it did not verify against any configured signer. */
  readonly error: Failure | null;
}

export interface EvidenceSummary {
  /** Repository searched. */
  readonly store: string;
  readonly items: readonly EvidenceSummaryItem[];
  /** Distinct verified signers (signatures and attestations). */
  readonly signers: readonly string[];
  /** Distinct predicate types of verified attestations. */
  readonly predicateTypes: readonly string[];
  /** Discovery steps that could not run (each one makes the outcome `unavailable`). */
  readonly problems: readonly (Failure & { readonly source: EvidenceSource })[];
}

/** The verified evidence of one artifact digest: what a decision is made on. */
export interface VerifiedEvidenceSet {
  readonly signatures: readonly VerifiedSignature[];
  /** Signatures found that verified under none of the configured signers (UNTRUSTED_SIGNATURE, not UNSIGNED). */
  readonly unverifiedSignatures: number;
  readonly attestations: readonly VerifiedAttestation[];
  readonly summary: EvidenceSummary;
}
