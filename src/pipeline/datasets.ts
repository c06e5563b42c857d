/**
 * Signed datasets at the gate: the training datasets a model's verified provenance names, fetched by
 * digest and their evidence verified, for the policy (`input.datasets`, deny codes DATASET_UNSIGNED /
 * DATASET_UNREACHABLE in policies/modelgate.rego).
 *
 * Owns: when datasets are checked (only when the policy data sets `datasets.requireSignature: true`),
 * which dependencies are checked (kind `dataset`, from every verified SLSA provenance, each digest the
 * provenance names), how a dependency becomes an OCI reference (its `oci://host/repo` or
 * `oci-layout://dir` URI plus the digest: `attest run --dataset oci://…@sha256:…` records exactly
 * that) and the `DatasetEvidence` each check yields. Anything else — a URI that is not an OCI location,
 * a digest that is not an OCI digest, a store that cannot be opened, a registry error, a timeout, a
 * missing manifest, incomplete evidence discovery — is `unreachable` with the reason (fail closed).
 * Evidence goes through the pipeline's own discovery and verification (`discoverAndVerify`: the same
 * trust material and configured signers as the model's) and its caches: the shared `ManifestCache`
 * for the dataset manifest and the `EvidenceCache` (same key, same TTL) for its verified evidence, with
 * concurrent first checks of one dataset joined, so a dataset shared by many models is verified once
 * per TTL. Which verified signers are trusted is the policy's decision, as for the model.
 */
import { hasCode, ModelgateError, OciError } from '../errors.ts';
import { isDigest, type Digest } from '../oci/digest.ts';
import { parseReference, repositoryName, type ArtifactReference } from '../oci/reference.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { isRecord } from '../evidence/json.ts';
import type { VerifiedAttestation, VerifiedEvidenceSet, VerifiedSignature } from '../evidence/verified.ts';
import { SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1 } from '../evidence/vocabulary.ts';
import { normalizeProvenance, type DatasetEvidence } from '../policy/input.ts';
import { DEFAULT_REGISTRY_TIMEOUT_MS, discoverAndVerify, type PipelineDeps } from './discover.ts';
import { evidenceKey, verificationScope, type EvidenceCache } from './evidence-cache.ts';
import { unlessAborted } from './manifest-cache.ts';
import { MemoStore } from './memo-store.ts';

/** At most this many datasets are checked per decision; the rest are unreachable (a provenance naming thousands is refused, not fetched). */
export const MAX_DATASETS_CHECKED = 64;

/** Datasets checked by the cache they are checked against: concurrent first checks of one dataset share one run. */
const running = new WeakMap<EvidenceCache, Map<string, Promise<VerifiedEvidenceSet | Unreachable>>>();

interface Unreachable {
  readonly unreachable: string;
  /** A retry may cure it (timeout, connection failure, 5xx). */
  readonly transient?: boolean;
}

type Json = Record<string, unknown>;

/** True when the engine's policy data asks for signed datasets (`modelgate_config.datasets.requireSignature`). */
export function datasetSignatureRequired(engine: PolicyEngine): boolean {
  const data = engine.data;
  const config = isRecord(data) ? data.modelgate_config : undefined;
  const datasets = isRecord(config) ? config.datasets : undefined;
  return isRecord(datasets) && datasets.requireSignature === true;
}

/** (uri, `algorithm:hex`) of every dataset the verified provenances name, each once. */
export function provenanceDatasets(attestations: readonly VerifiedAttestation[]): Array<{ uri: string; digest: string }> {
  const found = new Map<string, { uri: string; digest: string }>();
  for (const attestation of attestations) {
    if (attestation.predicateType !== SLSA_PROVENANCE_V1 && attestation.predicateType !== SLSA_PROVENANCE_V02) continue;
    let dependencies;
    try {
      dependencies = normalizeProvenance(attestation.predicateType, attestation.predicate).resolvedDependencies;
    } catch {
      continue; // malformed provenance: building the policy input refuses it (INPUT_INVALID)
    }
    for (const dependency of dependencies) {
      if (dependency.kind !== 'dataset') continue;
      for (const [algorithm, hex] of Object.entries(dependency.digest)) {
        const digest = `${algorithm}:${hex}`;
        found.set(JSON.stringify([dependency.uri, digest]), { uri: dependency.uri, digest });
      }
    }
  }
  return [...found.values()];
}

function describe(err: unknown): string {
  if (err instanceof ModelgateError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** The dataset's OCI reference pinned by `digest`, or why it has none. */
function datasetReference(uri: string, digest: string): ArtifactReference | Unreachable {
  if (!/^oci(?:-layout)?:\/\//.test(uri)) {
    return { unreachable: `${uri} is not an OCI location (oci://host/repository or oci-layout://dir): only a dataset pushed with \`modelgate dataset push\` and named by \`attest run --dataset oci://…@sha256:…\` can be fetched by digest` };
  }
  if (!isDigest(digest)) return { unreachable: `${digest} is not an OCI digest (sha256:<64 hex> or sha512:<128 hex>)` };
  let ref: ArtifactReference;
  try {
    ref = parseReference(`${uri}@${digest}`);
  } catch (err) {
    return { unreachable: `${uri} is not an OCI reference: ${describe(err)}` };
  }
  if (ref.digest !== digest) return { unreachable: `${uri} already names a digest other than ${digest}` };
  return ref;
}

async function verifyDataset(deps: PipelineDeps, store: MemoStore, digest: Digest, signal: AbortSignal | undefined): Promise<VerifiedEvidenceSet | Unreachable> {
  const result = await discoverAndVerify(deps, store, digest, signal);
  if (result.kind === 'unavailable') return { unreachable: `${result.failure.code}: ${result.failure.message}`, transient: result.transient };
  return result.evidence;
}

/** One dataset's check; `transient` when it was unreachable for a reason a retry may cure (timeout, connection, 5xx). */
interface DatasetCheck {
  readonly evidence: DatasetEvidence;
  readonly transient: boolean;
}

/** Fetch one dataset artifact by digest and verify its evidence (cached and joined when the deps have an evidence cache). */
async function checkDataset(deps: PipelineDeps, uri: string, digest: string, signal: AbortSignal | undefined): Promise<DatasetCheck> {
  const unreachable = (reason: string, transient = false): DatasetCheck => ({ evidence: { uri, digest, status: 'unreachable', reason }, transient });
  const ref = datasetReference(uri, digest);
  if ('unreachable' in ref) return unreachable(ref.unreachable);
  const pinned = ref.digest!;
  const call = { timeoutMs: deps.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS, ...(signal ? { signal } : {}) };
  try {
    const store = new MemoStore(deps.stores(ref), deps.manifestCache && { cache: deps.manifestCache, repository: repositoryName(ref) });
    const manifest = await store.fetchManifest(pinned, call);
    const cache = deps.evidenceCache;
    let verified: VerifiedEvidenceSet | Unreachable;
    if (cache === undefined) {
      verified = await verifyDataset(deps, store, pinned, signal);
    } else {
      const key = evidenceKey(repositoryName(ref), pinned, verificationScope(deps));
      const kept = cache.get(key);
      if (kept !== undefined) {
        verified = kept;
      } else {
        let byKey = running.get(cache);
        if (byKey === undefined) running.set(cache, (byKey = new Map()));
        let pending = byKey.get(key);
        if (pending === undefined) {
          // Joined by every concurrent check of this dataset: run without one caller's signal (bounded by the timeouts).
          pending = verifyDataset(deps, store, pinned, undefined).then((result) => {
            if (!('unreachable' in result)) cache.set(key, result);
            return result;
          });
          const map = byKey;
          const settled = pending.finally(() => map.delete(key));
          settled.catch(() => undefined);
          byKey.set(key, pending);
        }
        verified = await unlessAborted(pending, signal, `dataset ${uri}@${digest}`);
      }
    }
    if ('unreachable' in verified) return unreachable(verified.unreachable, verified.transient === true);
    const signatures: VerifiedSignature[] = [...verified.signatures, ...verified.attestations];
    const evidence: DatasetEvidence = {
      uri,
      digest,
      status: 'verified',
      ...(manifest.manifest.artifactType !== undefined ? { artifactType: manifest.manifest.artifactType } : {}),
      signatures: signatures.map(({ signer, subjectDigest, tlog, timestamps }) => ({ signer, subjectDigest, ...(tlog ? { tlog } : {}), ...(timestamps ? { timestamps } : {}) })),
      unverifiedSignatures: verified.unverifiedSignatures,
    };
    return { evidence, transient: false };
  } catch (err) {
    if (hasCode(err, OciError, 'ABORTED')) throw err;
    if (err instanceof ModelgateError) return unreachable(describe(err), err instanceof OciError && err.transient); // OCI errors, LAYOUT_NOT_ALLOWED, …
    throw err;
  }
}

/**
 * The datasets the verified provenances in `attestations` name, each fetched and verified, when the
 * policy data requires signed datasets; undefined otherwise (nothing is fetched). Throws only ABORTED.
 */
export async function checkProvenanceDatasets(
  deps: PipelineDeps,
  attestations: readonly VerifiedAttestation[],
  signal: AbortSignal | undefined,
): Promise<{ readonly datasets: DatasetEvidence[]; readonly transient: boolean } | undefined> {
  if (!datasetSignatureRequired(deps.engine)) return undefined;
  const named = provenanceDatasets(attestations);
  const checks = await Promise.all(
    named.map((d, i) =>
      i < MAX_DATASETS_CHECKED
        ? checkDataset(deps, d.uri, d.digest, signal)
        : Promise.resolve<DatasetCheck>({ evidence: { ...d, status: 'unreachable', reason: `the provenance names more than ${MAX_DATASETS_CHECKED} datasets; only the first ${MAX_DATASETS_CHECKED} are checked` }, transient: false }),
    ),
  );
  return { datasets: checks.map((c) => c.evidence), transient: checks.some((c) => c.transient) };
}
