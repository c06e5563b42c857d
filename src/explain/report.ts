/**
 * The provenance report `modelgate explain` prints: one JSON-able shape, built from what the
 * verification pipeline produced (`src/pipeline/decide.ts`) and the digest-verified manifest.
 *
 * Owns: `ExplainReport` (version `modelgate.dev/explain/v1`) and the pure `buildExplainReport`. Rules:
 *  - Attestation contents come only from *verified* evidence (the set the policy decided on); evidence
 *    that did not verify is listed with the claim it made (predicate type) and why it failed, never
 *    with its contents.
 *  - Manifest facts (files, annotations, lineage) are bound to the digest; they count as signed only
 *    when a signature over that digest verified (`artifact.signed`).
 *  - Every string may be attacker-controlled: renderers escape; nothing here interprets markup.
 */
import type { Digest } from '../oci/digest.ts';
import type { Descriptor, FetchedManifest } from '../oci/manifest.ts';
import { FILEPATH_ANNOTATION, TITLE_ANNOTATION } from '../modelpack/spec.ts';
import { LineageAnnotation } from '../emit/lineage-annotations.ts';
import type { ArtifactDecision } from '../pipeline/decide.ts';
import type { VariantOutcome } from '../pipeline/decision.ts';
import type { AppliedException, Reason } from '../policy/engine.ts';
import { describeSigner, type SignerIdentity } from '../evidence/signers.ts';
import type { EvidenceSummaryItem, TransparencyLogEvidence, VerifiedAttestation, VerifiedEvidenceSet } from '../evidence/verified.ts';
import { evidenceChecklist, policyDataView, type ChecklistItem, type PolicyDataView } from './policy-data.ts';
import { attestationView, type AttestationView } from './predicates.ts';

export const EXPLAIN_REPORT_VERSION = 'modelgate.dev/explain/v1';

export type { DatasetEvidenceView, EvidenceView, SignedBy, SignerView, TransparencyLogView, VerifiedAttestationView } from './views.ts';
import type { DatasetEvidenceView, EvidenceView, SignedBy, SignerView, VerifiedAttestationView } from './views.ts';
import { isRecord } from '../evidence/json.ts';


export interface ModelFileView {
  readonly path: string | null;
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface LineageView {
  readonly annotation: string;
  readonly label: string;
  readonly value: string;
}

export interface ArtifactView {
  readonly mediaType: string;
  readonly artifactType: string | null;
  readonly size: number;
  /** True when at least one signature over this digest verified (then annotations and files are signed too). */
  readonly signed: boolean;
  readonly config: { readonly digest: string; readonly mediaType: string; readonly size: number } | null;
  /** ModelPack config `descriptor` / `config` fields, when the config blob is a ModelPack config. */
  readonly model: { readonly name: string | null; readonly version: string | null; readonly format: string | null; readonly createdAt: string | null } | null;
  readonly files: readonly ModelFileView[];
  readonly lineage: readonly LineageView[];
  readonly annotations: Readonly<Record<string, string>>;
}

export interface VerdictView {
  readonly outcome: ArtifactDecision['outcome'];
  readonly allow: boolean;
  readonly reasons: readonly Reason[];
  readonly warnings: readonly Reason[];
  readonly exceptions: readonly AppliedException[];
  /** Why the artifact could not be evaluated (unavailable / invalid). */
  readonly failure: { readonly code: string; readonly message: string } | null;
  readonly transient: boolean | null;
  readonly policy: { readonly name: string; readonly bundleDigest: string; readonly dataDigest: string } | null;
  /** A model index: each variant a pod could select, decided (all, or the one `#variant=` names); empty otherwise. */
  readonly variants: readonly VariantOutcome[];
}

export interface ExplainReport {
  readonly version: typeof EXPLAIN_REPORT_VERSION;
  readonly reference: string;
  readonly digest: Digest | null;
  readonly generatedAt: string;
  readonly verdict: VerdictView;
  readonly artifact: ArtifactView | null;
  /** Verified signatures over the digest. */
  readonly signatures: readonly SignedBy[];
  /** Verified attestations (in-toto statements whose subject is the digest), rendered by predicate type. */
  readonly attestations: readonly VerifiedAttestationView[];
  /** OCI datasets of the verified provenance, with their verified dataset attestations. */
  readonly datasets: readonly DatasetEvidenceView[];
  /** Everything discovered next to the artifact, verified or not. */
  readonly evidence: readonly EvidenceView[];
  /** Discovery steps that could not run. */
  readonly problems: readonly { readonly source: string; readonly code: string; readonly message: string }[];
  /** The signers evidence was checked against (the policy decides which are trusted). */
  readonly checkedSigners: readonly string[];
  /** Each kind of evidence the policy can use: found, or explicitly not found. Empty for non-OCI locations. */
  readonly checklist: readonly ChecklistItem[];
  /** The policy data entries the verified evidence met (signer names, allowlists); null when no data was in effect. */
  readonly policyData: PolicyDataView | null;
}

export interface ExplainInput {
  readonly reference: string;
  readonly result: ArtifactDecision;
  /** The verified evidence the decision used (absent when none was verified, e.g. unavailable). */
  readonly verified?: VerifiedEvidenceSet;
  /** The manifest at `result.digest`, fetched by digest. */
  readonly manifest?: FetchedManifest;
  /** The parsed config blob of that manifest, when it could be read. */
  readonly config?: unknown;
  readonly checkedSigners: readonly string[];
  readonly datasets?: readonly DatasetEvidenceView[];
  /** The policy data document in effect (`PolicyEngine.data`). */
  readonly policyData?: unknown;
  readonly now: Date;
}

const LINEAGE_LABELS: Readonly<Record<string, string>> = {
  [LineageAnnotation.DATASET_DIGEST]: 'dataset digest',
  [LineageAnnotation.DATASET_OCI_REF]: 'dataset',
  [LineageAnnotation.TRAINING_CODE]: 'training code',
  [LineageAnnotation.TRAINING_CONTAINER]: 'training container',
  [LineageAnnotation.HYPERPARAMS]: 'hyperparameters',
};

function signerView(signer: SignerIdentity): SignerView {
  const description = describeSigner(signer);
  switch (signer.method) {
    case 'key':
      return { method: 'key', keyId: signer.keyId, san: null, issuer: null, oidc: {}, description };
    case 'certificate':
      return { method: 'certificate', keyId: signer.keyId, san: signer.san ?? null, issuer: null, oidc: {}, description };
    case 'keyless':
      return { method: 'keyless', keyId: null, san: signer.san, issuer: signer.issuer, oidc: { ...(signer.oidcExtensions ?? {}) }, description };
  }
}

function signedBy(evidence: { signer: SignerIdentity; tlog?: TransparencyLogEvidence; timestamps?: readonly Date[] }): SignedBy {
  return {
    signer: signerView(evidence.signer),
    tlog: evidence.tlog ? { logIndex: evidence.tlog.logIndex, integratedTime: evidence.tlog.integratedTime.toISOString(), logId: evidence.tlog.logId } : null,
    timestamps: (evidence.timestamps ?? []).map((t) => t.toISOString()),
  };
}

/** A verified attestation with its signer and the view of its predicate type. */
export function verifiedAttestationView(a: VerifiedAttestation): VerifiedAttestationView {
  return { status: 'verified', predicateType: a.predicateType, ...signedBy(a), view: attestationView(a.predicateType, a.predicate) };
}

function evidenceView(item: EvidenceSummaryItem): EvidenceView {
  return {
    status: item.status,
    kind: item.kind,
    source: item.source,
    manifestDigest: item.manifestDigest,
    predicateType: item.predicateType,
    signer: item.signer,
    error: item.error,
  };
}

function fileView(layer: Descriptor): ModelFileView {
  const path = layer.annotations?.[FILEPATH_ANNOTATION] ?? layer.annotations?.[TITLE_ANNOTATION] ?? null;
  return { path, digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function modelView(config: unknown): ArtifactView['model'] {
  if (!isRecord(config) || !isRecord(config.descriptor)) return null;
  const settings = isRecord(config.config) ? config.config : {};
  return { name: text(config.descriptor.name), version: text(config.descriptor.version), format: text(settings.format), createdAt: text(config.descriptor.createdAt) };
}

function artifactView(fetched: FetchedManifest, config: unknown, signed: boolean): ArtifactView {
  const { manifest, descriptor } = fetched;
  const annotations = manifest.annotations ?? {};
  const lineage = Object.entries(LINEAGE_LABELS).flatMap(([annotation, label]) => {
    const value = annotations[annotation];
    return value === undefined ? [] : [{ annotation, label, value }];
  });
  return {
    mediaType: manifest.mediaType,
    artifactType: manifest.artifactType ?? null,
    size: descriptor.size,
    signed,
    config: manifest.kind === 'manifest' ? { digest: manifest.config.digest, mediaType: manifest.config.mediaType, size: manifest.config.size } : null,
    model: modelView(config),
    files: manifest.kind === 'manifest' ? manifest.layers.map(fileView) : [],
    lineage,
    annotations,
  };
}

function verdictView(result: ArtifactDecision): VerdictView {
  if (result.outcome === 'allow' || result.outcome === 'deny') {
    const { decision } = result;
    return {
      outcome: result.outcome,
      allow: result.outcome === 'allow',
      reasons: decision.reasons,
      warnings: decision.warnings,
      exceptions: decision.exceptions,
      failure: null,
      transient: null,
      policy: { name: decision.policy, bundleDigest: decision.bundleDigest, dataDigest: decision.dataDigest },
      variants: result.variants ?? [],
    };
  }
  return {
    outcome: result.outcome,
    allow: false,
    reasons: [],
    warnings: [],
    exceptions: [],
    failure: result.failure,
    transient: result.outcome === 'unavailable' ? result.transient : null,
    policy: null,
    variants: result.variants ?? [],
  };
}

/** The report for one decision. Pure: the same input gives the same report. */
export function buildExplainReport(input: ExplainInput): ExplainReport {
  const { result, verified } = input;
  const summary = result.outcome === 'invalid' ? null : result.evidence;
  const signatures = (verified?.signatures ?? []).map(signedBy);
  const attestations = (verified?.attestations ?? []).map(verifiedAttestationView);
  const datasets = input.datasets ?? [];
  const evidence = (summary?.items ?? []).map(evidenceView);
  const allSigned = [...signatures, ...attestations, ...datasets.flatMap((d) => d.attestations)];
  return {
    version: EXPLAIN_REPORT_VERSION,
    reference: input.reference,
    digest: result.digest,
    generatedAt: input.now.toISOString(),
    verdict: verdictView(result),
    artifact: input.manifest === undefined ? null : artifactView(input.manifest, input.config, signatures.length > 0),
    signatures,
    attestations,
    datasets,
    evidence,
    problems: (summary?.problems ?? []).map((p) => ({ source: p.source, code: p.code, message: p.message })),
    checkedSigners: input.checkedSigners,
    checklist: result.outcome === 'allow' || result.outcome === 'deny' ? evidenceChecklist({ digest: result.digest, signatures, attestations, datasets, evidence }) : [],
    // Non-OCI locations have no evidence to look up in the data: the verdict's reasons say it all.
    policyData: (result.outcome === 'allow' || result.outcome === 'deny') && result.digest !== null ? policyDataView(input.policyData, allSigned, attestations) : null,
  };
}
