/**
 * Gathering what `modelgate explain` reports: one run of the verification pipeline (`decideArtifact`,
 * exactly as `modelgate verify` runs it), then the digest-verified manifest and its config.
 *
 * Owns: `explainReference`. The verified evidence set the decision used is read back from a private,
 * single-entry `EvidenceCache` handed to the pipeline (the pipeline stores a complete verified
 * discovery there), so the report shows the same evidence the policy saw — not a second, possibly
 * different, discovery. Manifest and config are fetched by the resolved digest (bytes verified against
 * it); a config that cannot be read only leaves the model fields empty.
 */
import { hasCode } from '../errors.ts';
import { parseReference, repositoryName } from '../oci/reference.ts';
import type { FetchedManifest } from '../oci/manifest.ts';
import { decideArtifact, DEFAULT_REGISTRY_TIMEOUT_MS, signersFingerprint, type ArtifactDecision, type PipelineDeps, type VerifiedEvidenceSet } from '../pipeline/decide.ts';
import { EvidenceCache } from '../pipeline/evidence-cache.ts';
import { keyId } from '../sigstore/keys.ts';
import { buildExplainReport, type ExplainReport } from './report.ts';

/** Largest config blob read for the model fields. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Decide `reference` as `modelgate verify` does and build the report of that decision. */
export async function explainReference(reference: string, deps: PipelineDeps, now: Date = new Date()): Promise<{ report: ExplainReport; result: ArtifactDecision }> {
  const cache = new EvidenceCache({ max: 1 });
  const result = await decideArtifact(reference, { mode: 'cli', time: now }, { ...deps, evidenceCache: cache });
  const checkedSigners = [...deps.signers.keys.map((k) => `key sha256:${keyId(k)}`), ...deps.signers.identities.map((i) => `${i.san} (issuer ${i.issuer})`)];
  if (result.digest === null || result.outcome === 'invalid') return { report: buildExplainReport({ reference, result, checkedSigners, now }), result };

  const ref = parseReference(reference);
  const verified: VerifiedEvidenceSet | undefined = cache.get(cache.keyOf(repositoryName(ref), result.digest, deps.trust.trustDigest, signersFingerprint(deps.signers), deps.keyTlogThreshold ?? 0));
  const timeoutMs = deps.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
  const store = deps.stores(ref);
  let manifest: FetchedManifest | undefined;
  let config: unknown;
  if (result.outcome !== 'unavailable') {
    manifest = await store.fetchManifest(result.digest, { timeoutMs });
    if (manifest.manifest.kind === 'manifest') {
      try {
        config = JSON.parse((await store.fetchBlob(manifest.manifest.config, { timeoutMs, maxBytes: MAX_CONFIG_BYTES })).toString('utf8'));
      } catch (err) {
        if (!(err instanceof SyntaxError) && !hasCode(err, 'TOO_LARGE', 'NOT_FOUND')) throw err;
      }
    }
  }
  const report = buildExplainReport({ reference, result, ...(verified ? { verified } : {}), ...(manifest ? { manifest } : {}), ...(config !== undefined ? { config } : {}), checkedSigners, now });
  return { report, result };
}
