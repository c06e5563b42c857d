/**
 * Gathering what `modelgate explain` reports: one run of the verification pipeline (`decideArtifact`,
 * exactly as `modelgate verify` runs it), then the digest-verified manifest and its config, then the
 * dataset attestations of the training datasets the verified provenance names as OCI artifacts.
 *
 * Owns: `explainReference`. The verified evidence set and the manifest a decision was made on are
 * the ones `decideArtifact` returns with it, so the report shows the same evidence the policy saw —
 * not a second, possibly different, discovery or fetch. Datasets go through the same pipeline with
 * the same signers (their own verdict is not reported: the model's policy already judged the dataset
 * by digest); only their verified `https://modelgate.dev/dataset/v1` attestations are kept. The config
 * is fetched by its descriptor in that manifest (bytes verified against it); a config that cannot be
 * read only leaves the model fields empty.
 */
import { DATASET_PREDICATE_TYPE } from '../dataset/attestation.ts';
import { hasCode, OciError } from '../errors.ts';
import type { FetchedManifest } from '../oci/manifest.ts';
import { splitVariantSelector } from '../modelpack/variants.ts';
import { parseReference } from '../oci/reference.ts';
import { decideArtifact, DEFAULT_REGISTRY_TIMEOUT_MS, type ArtifactDecision, type PipelineDeps } from '../pipeline/decide.ts';
import type { VerifiedEvidenceSet } from '../evidence/verified.ts';
import { keyId } from '../sigstore/keys.ts';
import { buildExplainReport, verifiedAttestationView, type DatasetEvidenceView, type ExplainReport } from './report.ts';

/** Largest config blob read for the model fields. */
const MAX_CONFIG_BYTES = 1024 * 1024;
/** At most this many OCI datasets are looked up (a provenance may list many). */
const MAX_DATASET_LOOKUPS = 16;

/** Run the pipeline on `reference`: the decision with the verified evidence it was made on. */
async function decideWithEvidence(reference: string, deps: PipelineDeps, now: Date): Promise<{ result: ArtifactDecision; verified: VerifiedEvidenceSet | undefined }> {
  const result = await decideArtifact(reference, { mode: 'cli', time: now }, deps);
  return { result, verified: result.outcome === 'allow' || result.outcome === 'deny' ? (result.verified ?? undefined) : undefined };
}

/** `oci://host/repo@sha256:…` of each OCI dataset in the verified provenance (deduplicated, bounded). */
function ociDatasets(verified: VerifiedEvidenceSet): { uri: string; digest: string }[] {
  const found = new Map<string, { uri: string; digest: string }>();
  for (const attestation of verified.attestations) {
    const view = verifiedAttestationView(attestation).view;
    if (view.kind !== 'build') continue;
    for (const dataset of view.datasets) {
      const sha256 = dataset.digests.find((d) => /^sha256:[0-9a-f]{64}$/.test(d));
      if (dataset.uri === null || !/^oci:\/\//.test(dataset.uri) || sha256 === undefined) continue;
      found.set(`${dataset.uri}@${sha256}`, { uri: dataset.uri, digest: sha256 });
    }
  }
  return [...found.values()].slice(0, MAX_DATASET_LOOKUPS);
}

async function datasetEvidence(dataset: { uri: string; digest: string }, deps: PipelineDeps, now: Date): Promise<DatasetEvidenceView> {
  const { result, verified } = await decideWithEvidence(`${dataset.uri}@${dataset.digest}`, deps, now);
  if (result.outcome === 'invalid' || result.outcome === 'unavailable') {
    return { ...dataset, status: 'unavailable', attestations: [], unverified: 0, failure: result.failure };
  }
  const attestations = (verified?.attestations ?? []).filter((a) => a.predicateType === DATASET_PREDICATE_TYPE).map(verifiedAttestationView);
  const unverified = (result.evidence?.items ?? []).filter((i) => i.status === 'failed' && i.predicateType === DATASET_PREDICATE_TYPE).length;
  return { ...dataset, status: attestations.length > 0 ? 'verified' : 'none', attestations, unverified, failure: null };
}

/** Decide `reference` as `modelgate verify` does and build the report of that decision. */
export async function explainReference(reference: string, deps: PipelineDeps, now: Date = new Date()): Promise<{ report: ExplainReport; result: ArtifactDecision }> {
  const { result, verified } = await decideWithEvidence(reference, deps, now);
  const checkedSigners = [...deps.signers.keys.map((k) => `key sha256:${keyId(k)}`), ...deps.signers.identities.map((i) => `${i.san} (issuer ${i.issuer})`),
    ...(deps.signers.identityPatterns ?? []).map((p) => `pattern ${p.san.source} (issuer ${typeof p.issuer === 'string' ? p.issuer : `pattern ${p.issuer.source}`})`),
  ];
  const policyData = deps.engine.data;
  if (result.digest === null || result.outcome === 'invalid') return { report: buildExplainReport({ reference, result, checkedSigners, policyData, now }), result };

  const timeoutMs = deps.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
  // The store of the location itself: a `#variant=NAME` selector is the pipeline's, not the reference's.
  const store = deps.stores(parseReference(splitVariantSelector(reference).location));
  // The manifest the pipeline resolved and verified (fetched only for a model index's chosen variant); its config is read here.
  let manifest: FetchedManifest | undefined;
  let config: unknown;
  if (result.outcome !== 'unavailable') {
    manifest = result.manifest?.descriptor.digest === result.digest ? result.manifest : await store.fetchManifest(result.digest, { timeoutMs });
    if (manifest.manifest.kind === 'manifest') {
      try {
        config = JSON.parse((await store.fetchBlob(manifest.manifest.config, { timeoutMs, maxBytes: MAX_CONFIG_BYTES })).toString('utf8'));
      } catch (err) {
        if (!(err instanceof SyntaxError) && !hasCode(err, OciError, 'TOO_LARGE', 'NOT_FOUND')) throw err;
      }
    }
  }
  const datasets = verified === undefined ? [] : await Promise.all(ociDatasets(verified).map((d) => datasetEvidence(d, deps, now)));
  const report = buildExplainReport({ reference, result, ...(verified ? { verified } : {}), ...(manifest ? { manifest } : {}), ...(config !== undefined ? { config } : {}), datasets, checkedSigners, policyData, now });
  return { report, result };
}
