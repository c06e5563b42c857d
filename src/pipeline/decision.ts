/**
 * What `decideArtifact` (`decide.ts`) returns.
 *
 * Owns: `ArtifactDecision` — allow / deny (with the evidence summary, the verified evidence set and the
 * manifest they were decided on), unavailable, invalid — and `VariantOutcome`, a model index's
 * per-variant result (`variants.ts`). Types only: `decide.ts` and `variants.ts` both read them.
 */
import type { Digest } from '../evidence/digest.ts';
import type { EvidenceSummary, Failure, VerifiedEvidenceSet } from '../evidence/verified.ts';
import type { FetchedManifest } from '../oci/manifest.ts';
import type { Decision } from '../policy/engine.ts';

export interface VariantOutcome {
  readonly name: string;
  readonly digest: Digest;
  readonly outcome: ArtifactDecision['outcome'];
}

interface DecisionCommon {
  /** The location exactly as given. */
  readonly location: string;
  /** The manifest digest the reference resolved to (null when unverifiable or not resolved). */
  readonly digest: Digest | null;
  /** When the reference is a model index: each variant decided (`src/pipeline/variants.ts`). */
  readonly variants?: readonly VariantOutcome[];
}

/** What a policy decision was made on (all null for a location that is not OCI: nothing was read). */
export interface DecidedOn {
  readonly evidence: EvidenceSummary | null;
  /** The verified evidence set the policy input was built from (explain and init read it here). */
  readonly verified: VerifiedEvidenceSet | null;
  /** The digest-verified manifest the decision is about. */
  readonly manifest: FetchedManifest | null;
}

export type ArtifactDecision =
  | (DecisionCommon & DecidedOn & { readonly outcome: 'allow'; readonly decision: Extract<Decision, { allow: true }> })
  | (DecisionCommon &
      DecidedOn & {
        readonly outcome: 'deny';
        readonly decision: Extract<Decision, { allow: false }>;
        /** Made while a training dataset could not be read for a reason a retry may cure: kept only briefly. */
        readonly transient?: true;
      })
  | (DecisionCommon & {
      /** The registry (or layout) could not be read completely; never admitted. */
      readonly outcome: 'unavailable';
      /** True when a retry may succeed (timeouts, connection failures, 5xx). */
      readonly transient: boolean;
      readonly failure: Failure;
      readonly evidence: EvidenceSummary | null;
    })
  | (DecisionCommon & {
      /** The location or the verified evidence cannot be turned into a policy input (bad reference, malformed provenance). */
      readonly outcome: 'invalid';
      readonly failure: Failure;
    });
