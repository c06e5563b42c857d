/**
 * Discovering and verifying the evidence of one digest: the part of the pipeline that decisions of a
 * model (`decide.ts`) and of the training datasets its provenance names (`datasets.ts`) share.
 *
 * Owns: the pipeline's long-lived dependencies (`PipelineDeps`), `discoverAndVerify` (evidence found
 * once, each bundle verified once against all configured signers, summarised) and the rule that
 * incomplete discovery because of the registry is `unavailable`, never a decision.
 */
import type { Digest } from '../evidence/digest.ts';
import { describeSigner, type VerificationSigners } from '../evidence/signers.ts';
import type { EvidenceSummary, EvidenceSummaryItem, Failure, VerifiedAttestation, VerifiedEvidenceSet, VerifiedSignature } from '../evidence/verified.ts';
import type { ArtifactReference } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { SignerPolicy } from '../sigstore/bundle.ts';
import { collectEvidence, policyEvidence, type EvidenceItem, type EvidenceReport } from '../sigstore/cosign-evidence.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import type { Clock } from '../time/clock.ts';
import type { EvidenceCache } from './evidence-cache.ts';
import type { ManifestCache } from './manifest-cache.ts';

/** Default deadline of each registry call made by the pipeline. */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 30_000;

/** Opens the store of a repository (registry or OCI layout). Create once; may cache stores per repository. */
export type StoreProvider = (ref: ArtifactReference) => ArtifactStore;

export interface PipelineDeps {
  readonly stores: StoreProvider;
  readonly trust: TrustMaterial;
  readonly signers: VerificationSigners;
  readonly engine: PolicyEngine;
  /**
   * Verified transparency-log entries required of key-signed evidence (default 0, as `collectEvidence`:
   * a signature by a configured key verifies on that key alone; log entries present are still
   * verified). Keyless evidence always needs a verified log entry or timestamp.
   */
  readonly keyTlogThreshold?: number;
  /** Deadline of each registry call in milliseconds (default 30 s). */
  readonly timeoutMs?: number;
  /** Verified evidence by (repository, digest, trust, signers); see `evidence-cache.ts`. */
  readonly evidenceCache?: EvidenceCache;
  /** Manifests by (repository, digest), shared by all decisions; see `manifest-cache.ts`. */
  readonly manifestCache?: ManifestCache;
  /** The time the policy sees when the context gives none (default the wall clock). */
  readonly clock?: Clock;
}

/** OCI error codes that mean "the registry could not be read", as opposed to "the evidence is bad". */
const REGISTRY_FAILURE_CODES = ['TIMEOUT', 'NETWORK', 'REGISTRY_ERROR', 'UNAUTHORIZED', 'DENIED', 'PROTOCOL'] as const;
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['TIMEOUT', 'NETWORK', 'REGISTRY_ERROR']);

/** All configured signers as one policy: each bundle is verified once, then matched against them. */
function signerPolicy(signers: VerificationSigners): SignerPolicy {
  return { kind: 'any', keys: signers.keys, identities: [...signers.identities, ...(signers.identityPatterns ?? [])] };
}

function summarise(report: EvidenceReport, evidence: { signatures: readonly VerifiedSignature[]; attestations: readonly VerifiedAttestation[] }): EvidenceSummary {
  const items = report.items.map(
    (item): EvidenceSummaryItem => ({
      source: item.source,
      kind: item.kind,
      status: item.status,
      manifestDigest: item.manifestDigest,
      layerIndex: item.layerIndex ?? null,
      predicateType: item.predicateType ?? null,
      signer: item.status === 'verified' ? describeVerifiedSigner(item) : null,
      error: item.status === 'failed' ? item.error : null,
    }),
  );
  const signers = new Set<string>();
  for (const s of [...evidence.signatures, ...evidence.attestations]) signers.add(describeSigner(s.signer));
  return {
    store: report.store,
    items,
    signers: [...signers].sort(),
    predicateTypes: [...new Set(evidence.attestations.map((a) => a.predicateType))].sort(),
    problems: report.problems.map((p) => ({ source: p.source, code: p.code, message: p.message })),
  };
}

function describeVerifiedSigner(item: Extract<EvidenceItem, { status: 'verified' }>): string {
  const { signer } = item.verified.bundle;
  return signer.kind === 'key' ? `key sha256:${signer.keyId}` : `${signer.san} (issuer ${signer.issuer})`;
}

/** Why the discovered evidence is incomplete because of the registry, if it is. */
function registryFailureIn(report: EvidenceReport): { failure: Failure; transient: boolean } | undefined {
  const failures: Failure[] = [
    ...report.problems.map((p) => ({ code: p.code, message: `${p.source}: ${p.message}` })),
    ...report.items.flatMap((item) =>
      item.status === 'failed' && (REGISTRY_FAILURE_CODES as readonly string[]).includes(item.error.code)
        ? [{ code: item.error.code, message: `${item.source} ${item.manifestDigest}: ${item.error.message}` }]
        : [],
    ),
  ];
  const first = failures[0];
  if (first === undefined) return undefined;
  const transient = failures.find((f) => TRANSIENT_CODES.has(f.code));
  return transient !== undefined
    ? { failure: { code: transient.code, message: `evidence discovery incomplete: ${transient.message}` }, transient: true }
    : { failure: { code: first.code, message: `evidence discovery incomplete: ${first.message}` }, transient: false };
}

/** Discover the evidence of `digest` in `store` once and verify it against every configured signer (also used for datasets, `datasets.ts`). */
export async function discoverAndVerify(
  deps: PipelineDeps,
  store: ArtifactStore,
  digest: Digest,
  signal: AbortSignal | undefined,
): Promise<{ kind: 'verified'; evidence: VerifiedEvidenceSet } | { kind: 'unavailable'; failure: Failure; transient: boolean; summary: EvidenceSummary }> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
  // Discovered once, each bundle verified once; with no signer configured nothing verifies, but the
  // summary still shows what exists.
  const report = await collectEvidence(store, digest, {
    trust: deps.trust,
    signer: signerPolicy(deps.signers),
    ...(deps.keyTlogThreshold !== undefined ? { keyTlogThreshold: deps.keyTlogThreshold } : {}),
    timeoutMs,
    ...(signal ? { signal } : {}),
  });
  const { signatures, attestations } = policyEvidence(report);
  const summary = summarise(report, { signatures, attestations });
  const registryFailure = registryFailureIn(report);
  if (registryFailure !== undefined) return { kind: 'unavailable', ...registryFailure, summary };
  const unverifiedSignatures = report.items.filter((item) => item.kind === 'signature' && item.status === 'failed').length;
  return { kind: 'verified', evidence: { signatures, unverifiedSignatures, attestations, summary } };
}
