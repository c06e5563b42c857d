/**
 * The policy input: one documented, versioned JSON shape (policies/schema/input.v1.schema.json),
 * built only from *verified* evidence.
 *
 * Owns: the JSON types the policy sees (`PolicyInput` and friends), built from the verified evidence
 * of `src/evidence/`, the policy's projection of SLSA provenance (v1 and v0.2 →
 * `NormalizedProvenance`; the field mapping itself is `src/attest/provenance.ts`'s, the one SLSA
 * normaliser) and the pure `buildPolicyInput`. Evidence bound to a different digest than the artifact's verified
 * digest is refused (INPUT_INVALID): the input can never mix evidence of two artifacts.
 */
import { AttestationError } from '../attest/errors.ts';
import { normalizeProvenancePredicate, type NormalizedProvenance as SlsaProvenance, type ResolvedDependency } from '../attest/provenance.ts';
import type { Digest } from '../evidence/digest.ts';
import { isRecord } from '../evidence/json.ts';
import { describeSigner, type SignerIdentity } from '../evidence/signers.ts';
import type { TransparencyLogEvidence, VerifiedAttestation, VerifiedModelSignature, VerifiedSignature } from '../evidence/verified.ts';
import { EVALUATION_PREDICATE_V1, SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1, TEST_RESULT_PREDICATE_V01 } from '../evidence/vocabulary.ts';
import { isDigest } from '../oci/digest.ts';
import { parseReference } from '../oci/reference.ts';
import { PolicyError } from './errors.ts';
import { systemClock } from '../time/clock.ts';

export const POLICY_INPUT_VERSION = 'modelgate.dev/policy-input/v1';

export interface ArtifactEvidence {
  /** The location exactly as written (storageUri, CLI argument). */
  readonly uri: string;
  /** The manifest digest that was resolved and verified; all evidence must be bound to it. */
  readonly verifiedDigest?: Digest;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  /** The artifact is a variant of a model index (`src/pipeline/variants.ts`): which one. */
  readonly variant?: InputVariant;
  /** The artifact is a model index: its variants. */
  readonly variants?: readonly InputVariant[];
}

/** A variant of a model index as the policy sees it (`artifact.variant`, `artifact.variants[]`). */
export interface InputVariant {
  readonly name: string;
  readonly digest: Digest;
  /** Digest of the index that lists it. */
  readonly index: Digest;
  readonly platform: { readonly os: string; readonly architecture: string; readonly variant?: string } | null;
  readonly accelerator: string | null;
}

export interface UsageSite {
  readonly namespace?: string;
  readonly resourceKind: string;
  readonly resourceName?: string;
  /** e.g. `spec.predictor.model.storageUri` */
  readonly fieldPath: string;
}

export type PolicyMode = 'cli' | 'admission' | 'init';

/**
 * Init (storage initializer) decides twice: `before-pull` before any byte is fetched, and
 * `before-publish` once the files are pulled into staging and checked against the model's OMS
 * signature (`model.sig`), whose result is then in `modelSignatures` (verifiedAgainst `files`).
 */
export type InitStage = 'before-pull' | 'before-publish';

export interface EvaluationContext {
  readonly mode: PolicyMode;
  /** Default: now (`systemClock`; callers that inject a clock pass its time). */
  readonly time?: Date;
  /** Admission: the requesting user from the AdmissionReview. */
  readonly user?: { readonly username: string; readonly uid?: string; readonly groups?: readonly string[] };
  /** Admission: CREATE / UPDATE. */
  readonly operation?: string;
  /** Init: which of its two decisions this is. */
  readonly stage?: InitStage;
}

/**
 * What the pipeline found about one training dataset named by a verified provenance (only when the
 * policy data sets `datasets.requireSignature`; see `src/pipeline/datasets.ts`). `signatures` are the
 * verified signatures and attestations on the dataset artifact, each bound to `digest`.
 */
export interface DatasetEvidence {
  /** The dependency URI as the provenance names it. */
  readonly uri: string;
  /** The digest the provenance names (`algorithm:hex`), which the fetched dataset artifact has. */
  readonly digest: string;
  /** `verified`: the artifact was read and its evidence discovered completely; `unreachable`: not. */
  readonly status: 'verified' | 'unreachable';
  /** Why it is unreachable. */
  readonly reason?: string;
  readonly artifactType?: string;
  readonly signatures?: readonly VerifiedSignature[];
  /** Signatures found on it that verified under no configured signer. */
  readonly unverifiedSignatures?: number;
}

export interface PolicyInputEvidence {
  readonly artifact: ArtifactEvidence;
  readonly usage?: UsageSite;
  readonly signatures?: readonly VerifiedSignature[];
  /** Signatures found on the artifact that verified under no configured signer (counted, never trusted). */
  readonly unverifiedSignatures?: number;
  readonly attestations?: readonly VerifiedAttestation[];
  readonly modelSignatures?: readonly VerifiedModelSignature[];
  /** Training datasets checked by the pipeline (absent: none were checked). */
  readonly datasets?: readonly DatasetEvidence[];
  readonly context: EvaluationContext;
}

// ---------------------------------------------------------------------------------------------
// The JSON the policy sees (mirrors policies/schema/input.v1.schema.json; absent values are null)

export type LocationScheme = 'oci' | 'oci-layout' | 's3' | 'gs' | 'hf' | 'pvc' | 'https' | 'http' | 'azure' | 'file' | 'other';

export interface InputSigner {
  readonly method: 'key' | 'certificate' | 'keyless';
  readonly keyId: string | null;
  readonly san: string | null;
  readonly issuer: string | null;
  readonly oidc: Readonly<Record<string, string>>;
  readonly tlog: { readonly logIndex: number; readonly integratedTime: string; readonly logId: string } | null;
  readonly timestamps: readonly string[];
  /** Set by the policy engine, never by callers: the data's `signers.identityPatterns[issuer]` keys matching the SAN. */
  readonly identityPatterns?: readonly string[];
}

export type DependencyKind = 'source' | 'dataset' | 'container' | 'model' | 'other';

export interface NormalizedDependency {
  readonly uri: string;
  readonly name: string | null;
  readonly kind: DependencyKind;
  /** Containers: `host/repository` without tag or digest. */
  readonly repository: string | null;
  /** DigestSet: algorithm → lowercase hex. */
  readonly digest: Readonly<Record<string, string>>;
}

export interface NormalizedProvenance {
  readonly slsaVersion: 'v1' | 'v0.2';
  readonly builderId: string;
  readonly buildType: string;
  readonly invocationId: string | null;
  readonly source: { readonly repository: string; readonly ref: string | null; readonly commit: string | null } | null;
  readonly externalParameters: Readonly<Record<string, unknown>>;
  readonly resolvedDependencies: readonly NormalizedDependency[];
}

export interface InputAttestation {
  readonly predicateType: string;
  readonly signer: InputSigner;
  readonly provenance: NormalizedProvenance | null;
  readonly evaluation: { readonly metrics: Readonly<Record<string, number>> } | null;
}

export interface InputModelSignature {
  readonly signer: InputSigner;
  readonly modelName: string;
  readonly rootDigest: string;
  readonly resourceCount: number;
  readonly verifiedAgainst: 'files' | 'oci-manifest';
}

export interface InputDataset {
  readonly uri: string;
  readonly digest: string;
  readonly status: 'verified' | 'unreachable';
  readonly reason: string | null;
  readonly artifactType: string | null;
  /** Verified signers of the dataset artifact's signatures and attestations. */
  readonly signers: readonly InputSigner[];
  readonly unverifiedSignatures: number;
}

export interface PolicyInput {
  readonly version: typeof POLICY_INPUT_VERSION;
  readonly artifact: {
    readonly uri: string;
    readonly scheme: LocationScheme;
    readonly verifiable: boolean;
    readonly reference: { readonly registry: string | null; readonly repository: string; readonly tag: string | null; readonly digest: string | null } | null;
    readonly digest: string | null;
    readonly mediaType: string | null;
    readonly artifactType: string | null;
    readonly annotations: Readonly<Record<string, string>>;
    readonly usage: { readonly namespace: string | null; readonly resourceKind: string; readonly resourceName: string | null; readonly fieldPath: string } | null;
    /** Present only on a variant of a model index. */
    readonly variant?: InputVariant;
    /** Present only on a model index. */
    readonly variants?: readonly InputVariant[];
  };
  readonly signatures: readonly InputSigner[];
  /** Present (and above 0) only when signatures were found that verified under no configured signer. */
  readonly unverifiedSignatures?: number;
  readonly attestations: readonly InputAttestation[];
  readonly modelSignatures: readonly InputModelSignature[];
  /** Present only when the pipeline checked the provenance's datasets (`datasets.requireSignature`). */
  readonly datasets?: readonly InputDataset[];
  readonly context: {
    readonly time: string;
    readonly mode: PolicyMode;
    readonly user: { readonly username: string; readonly uid: string | null; readonly groups: readonly string[] } | null;
    readonly operation: string | null;
    /** Init only (absent otherwise, so cli and admission inputs are unchanged). */
    readonly stage?: InitStage;
  };
}

// ---------------------------------------------------------------------------------------------
// Building

/** RFC 3339 UTC with whole seconds: `2026-09-01T12:00:00Z` (compares correctly as a string in Rego). */
export function policyTime(time: Date): string {
  if (Number.isNaN(time.getTime())) throw new PolicyError('INPUT_INVALID', 'invalid date in policy evidence');
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const SCHEMES: Readonly<Record<string, LocationScheme>> = {
  oci: 'oci',
  'oci+native': 'oci',
  'oci+fetch': 'oci',
  'modelgate+oci': 'oci',
  'oci-layout': 'oci-layout',
  'modelgate+oci-layout': 'oci-layout',
  s3: 's3',
  gs: 'gs',
  hf: 'hf',
  pvc: 'pvc',
  https: 'https',
  http: 'http',
  file: 'file',
  abfs: 'azure',
  wasbs: 'azure',
};

/** Classify a storage location; references without a scheme are Docker-style OCI references. */
export function locationScheme(uri: string): LocationScheme {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri.trim());
  if (!match) return 'oci';
  return SCHEMES[match[1]!.toLowerCase()] ?? 'other';
}

function artifactReference(uri: string, scheme: LocationScheme): PolicyInput['artifact']['reference'] {
  if (scheme !== 'oci' && scheme !== 'oci-layout') return null;
  const ref = parseReference(uri);
  return ref.kind === 'registry'
    ? { registry: ref.registry, repository: ref.repository, tag: ref.tag ?? null, digest: ref.digest ?? null }
    : { registry: null, repository: ref.path, tag: ref.tag ?? null, digest: ref.digest ?? null };
}

function inputSigner(signer: SignerIdentity, tlog: TransparencyLogEvidence | undefined, timestamps: readonly Date[] | undefined): InputSigner {
  const common = {
    tlog: tlog ? { logIndex: tlog.logIndex, integratedTime: policyTime(tlog.integratedTime), logId: tlog.logId } : null,
    timestamps: (timestamps ?? []).map(policyTime),
  };
  switch (signer.method) {
    case 'key':
      return { method: 'key', keyId: signer.keyId, san: null, issuer: null, oidc: {}, ...common };
    case 'certificate':
      return { method: 'certificate', keyId: signer.keyId, san: signer.san ?? null, issuer: null, oidc: {}, ...common };
    case 'keyless':
      return { method: 'keyless', keyId: null, san: signer.san, issuer: signer.issuer, oidc: { ...(signer.oidcExtensions ?? {}) }, ...common };
  }
}

function requireBound(what: string, subject: Digest, artifact: ArtifactEvidence): void {
  if (artifact.verifiedDigest === undefined) {
    throw new PolicyError('INPUT_INVALID', `${what} given for ${artifact.uri}, but the artifact has no verified digest to bind it to`);
  }
  if (subject !== artifact.verifiedDigest) {
    throw new PolicyError('INPUT_INVALID', `${what} covers ${subject}, not the verified digest ${artifact.verifiedDigest} of ${artifact.uri}`);
  }
}

const str = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);

function digestSet(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [algorithm, hex] of Object.entries(value)) {
    if (typeof hex === 'string' && /^[A-Fa-f0-9]+$/.test(hex)) out[algorithm] = hex.toLowerCase();
  }
  return out;
}

const DEPENDENCY_KINDS: ReadonlySet<string> = new Set(['source', 'dataset', 'container', 'model', 'other']);

/**
 * Kind of a resolved dependency: an explicit `modelgate.dev/kind` (or `kind`) annotation wins; then
 * `git+` URIs are sources, OCI/Docker URIs containers, Hugging Face dataset URIs datasets.
 */
export function dependencyKind(uri: string, annotations: unknown): DependencyKind {
  if (isRecord(annotations)) {
    const declared = str(annotations['modelgate.dev/kind']) ?? str(annotations.kind);
    if (declared !== null && DEPENDENCY_KINDS.has(declared)) return declared as DependencyKind;
  }
  if (uri.startsWith('git+')) return 'source';
  if (/^(?:oci|docker):\/\//.test(uri) || /^pkg:(?:oci|docker)\//.test(uri)) return 'container';
  if (uri.startsWith('hf://datasets/') || uri.startsWith('https://huggingface.co/datasets/')) return 'dataset';
  return 'other';
}

/** `oci://ghcr.io/acme/trainer:1@sha256:…` → `ghcr.io/acme/trainer` (null when it does not parse). */
function containerRepository(uri: string): string | null {
  const bare = uri
    .replace(/^(?:oci|docker):\/\//, '')
    .replace(/^pkg:(?:oci|docker)\//, '')
    .replace(/[?#].*$/, '');
  try {
    const ref = parseReference(bare);
    return ref.kind === 'registry' ? `${ref.registry}/${ref.repository}` : null;
  } catch {
    return null;
  }
}

function normalizeDependency(dependency: ResolvedDependency): NormalizedDependency | null {
  const uri = dependency.uri !== undefined && dependency.uri !== '' ? dependency.uri : (dependency.name ?? '');
  if (uri === '') return null;
  const kind = dependencyKind(uri, dependency.annotations);
  return {
    uri,
    name: dependency.name !== undefined && dependency.name !== '' ? dependency.name : null,
    kind,
    repository: kind === 'container' ? containerRepository(uri) : null,
    digest: digestSet(dependency.digest),
  };
}

/** `git+https://github.com/acme/train.git` → `https://github.com/acme/train` (how allowlists name repositories). */
function plainRepository(repository: string): string {
  return repository.replace(/^git\+/, '').replace(/\.git$/, '');
}

function bad(why: string): never {
  throw new PolicyError('INPUT_INVALID', `SLSA provenance: ${why}`);
}

/**
 * Normalise a verified SLSA provenance predicate (v1 or v0.2) into the policy input's shape; throws
 * INPUT_INVALID when required fields are missing or malformed. The field mapping is the one SLSA
 * normaliser's (`normalizeProvenancePredicate`, `src/attest/provenance.ts`); this adds what the policy
 * needs on top — dependency kinds, container repositories, hex-only lowercase digests, repositories
 * without `git+` — and requires v1's buildDefinition, runDetails and externalParameters.
 */
export function normalizeProvenance(predicateType: string, predicate: unknown): NormalizedProvenance {
  if (!isRecord(predicate)) bad('predicate is not an object');
  if (predicateType === SLSA_PROVENANCE_V1) {
    const definition = isRecord(predicate.buildDefinition) ? predicate.buildDefinition : bad('buildDefinition missing');
    if (!isRecord(predicate.runDetails)) bad('runDetails missing');
    if (!isRecord(definition.externalParameters)) bad('buildDefinition.externalParameters missing');
  } else if (predicateType !== SLSA_PROVENANCE_V02) {
    bad(`unsupported predicateType ${predicateType}`);
  }
  let slsa: SlsaProvenance;
  try {
    slsa = normalizeProvenancePredicate(predicateType, predicate);
  } catch (err) {
    if (err instanceof AttestationError) bad(err.message);
    throw err;
  }
  const resolvedDependencies = slsa.resolvedDependencies.map(normalizeDependency).filter((d): d is NormalizedDependency => d !== null);
  return {
    slsaVersion: slsa.slsaVersion,
    builderId: slsa.builderId,
    buildType: slsa.buildType,
    invocationId: slsa.invocationId ?? null,
    source: provenanceSource(slsa),
    externalParameters: slsa.externalParameters,
    resolvedDependencies,
  };
}

/** The normaliser's source (repository without `git+`), else GitHub's externalParameters.workflow. */
function provenanceSource(slsa: SlsaProvenance): NormalizedProvenance['source'] {
  if (slsa.source !== undefined) return { repository: plainRepository(slsa.source.repository), ref: slsa.source.ref ?? null, commit: slsa.source.commit ?? null };
  const workflow = slsa.externalParameters.workflow;
  if (isRecord(workflow) && str(workflow.repository) !== null) {
    return { repository: str(workflow.repository)!, ref: str(workflow.ref), commit: null };
  }
  return null;
}

function normalizeEvaluation(predicate: unknown): InputAttestation['evaluation'] {
  if (!isRecord(predicate) || !isRecord(predicate.metrics)) {
    throw new PolicyError('INPUT_INVALID', `evaluation attestation: predicate.metrics must be an object of numbers`);
  }
  const metrics: Record<string, number> = {};
  for (const [name, value] of Object.entries(predicate.metrics)) {
    if (typeof value === 'number' && Number.isFinite(value)) metrics[name] = value;
  }
  return { metrics };
}

function inputDataset(dataset: DatasetEvidence): InputDataset {
  const unverifiedSignatures = dataset.unverifiedSignatures ?? 0;
  if (!Number.isSafeInteger(unverifiedSignatures) || unverifiedSignatures < 0) {
    throw new PolicyError('INPUT_INVALID', `dataset ${dataset.uri}: unverified signature count ${unverifiedSignatures} is not a count`);
  }
  const signers = (dataset.signatures ?? []).map((s) => {
    if (s.subjectDigest !== dataset.digest) {
      throw new PolicyError('INPUT_INVALID', `a signature by ${describeSigner(s.signer)} covers ${s.subjectDigest}, not the digest ${dataset.digest} of dataset ${dataset.uri}`);
    }
    return inputSigner(s.signer, s.tlog, s.timestamps);
  });
  return {
    uri: dataset.uri,
    digest: dataset.digest,
    status: dataset.status,
    reason: dataset.reason ?? null,
    artifactType: dataset.artifactType ?? null,
    signers,
    unverifiedSignatures,
  };
}

/**
 * Build the policy input from verified evidence. Pure: the same evidence and context time give the same
 * JSON. Throws INPUT_INVALID when evidence is bound to another digest, or a reference does not parse.
 */
export function buildPolicyInput(evidence: PolicyInputEvidence): PolicyInput {
  const { artifact, usage, context } = evidence;
  const scheme = locationScheme(artifact.uri);
  let reference: PolicyInput['artifact']['reference'];
  try {
    reference = artifactReference(artifact.uri, scheme);
  } catch (err) {
    throw new PolicyError('INPUT_INVALID', `artifact location: ${(err as Error).message}`, { cause: err });
  }
  if (artifact.verifiedDigest !== undefined && !isDigest(artifact.verifiedDigest)) {
    throw new PolicyError('INPUT_INVALID', `artifact verified digest "${artifact.verifiedDigest}" is malformed`);
  }
  const signatures = (evidence.signatures ?? []).map((s) => {
    requireBound(`a signature by ${describeSigner(s.signer)}`, s.subjectDigest, artifact);
    return inputSigner(s.signer, s.tlog, s.timestamps);
  });
  const unverifiedSignatures = evidence.unverifiedSignatures ?? 0;
  if (!Number.isSafeInteger(unverifiedSignatures) || unverifiedSignatures < 0) {
    throw new PolicyError('INPUT_INVALID', `unverified signature count ${unverifiedSignatures} is not a count`);
  }
  const attestations = (evidence.attestations ?? []).map((a): InputAttestation => {
    requireBound(`a ${a.predicateType} attestation`, a.subjectDigest, artifact);
    const isProvenance = a.predicateType === SLSA_PROVENANCE_V1 || a.predicateType === SLSA_PROVENANCE_V02;
    return {
      predicateType: a.predicateType,
      signer: inputSigner(a.signer, a.tlog, a.timestamps),
      provenance: isProvenance ? normalizeProvenance(a.predicateType, a.predicate) : null,
      // A test result without metrics (an ordinary CI test run) is not an evaluation, not an error.
      evaluation:
        a.predicateType === EVALUATION_PREDICATE_V1 || (a.predicateType === TEST_RESULT_PREDICATE_V01 && isRecord(a.predicate) && 'metrics' in a.predicate)
          ? normalizeEvaluation(a.predicate)
          : null,
    };
  });
  const modelSignatures = (evidence.modelSignatures ?? []).map((m): InputModelSignature => ({
    signer: inputSigner(m.signer, m.tlog, m.timestamps),
    modelName: m.modelName,
    rootDigest: m.rootDigest,
    resourceCount: m.resourceCount,
    verifiedAgainst: m.verifiedAgainst,
  }));
  const datasets = evidence.datasets?.map(inputDataset);
  return {
    version: POLICY_INPUT_VERSION,
    artifact: {
      uri: artifact.uri,
      scheme,
      verifiable: scheme === 'oci' || scheme === 'oci-layout',
      reference,
      digest: artifact.verifiedDigest ?? null,
      mediaType: artifact.mediaType ?? null,
      artifactType: artifact.artifactType ?? null,
      annotations: { ...(artifact.annotations ?? {}) },
      usage: usage
        ? { namespace: usage.namespace ?? null, resourceKind: usage.resourceKind, resourceName: usage.resourceName ?? null, fieldPath: usage.fieldPath }
        : null,
      ...(artifact.variant !== undefined ? { variant: artifact.variant } : {}),
      ...(artifact.variants !== undefined ? { variants: artifact.variants } : {}),
    },
    signatures,
    ...(unverifiedSignatures > 0 ? { unverifiedSignatures } : {}),
    attestations,
    modelSignatures,
    ...(datasets !== undefined ? { datasets } : {}),
    context: {
      time: policyTime(context.time ?? new Date(systemClock.now())),
      mode: context.mode,
      user: context.user ? { username: context.user.username, uid: context.user.uid ?? null, groups: [...(context.user.groups ?? [])] } : null,
      operation: context.operation ?? null,
      ...(context.stage !== undefined ? { stage: context.stage } : {}),
    },
  };
}
