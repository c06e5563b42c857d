/**
 * The one verification pipeline: reference → resolve → fetch evidence → verify → policy input → decision.
 *
 * Owns: `decideArtifact`, the function the admission webhook, the init container and `modelgate verify`
 * are thin shells around, its result type `ArtifactDecision` (allow / deny / unavailable / invalid;
 * an allow or deny carries the verified evidence set and the manifest it was decided on), the exit
 * codes those outcomes map to, and the evidence summary reported with every decision.
 *
 * Rules:
 *  - Locations that are not OCI (s3, gs, hf, pvc, https, …) are handed to the policy as unverifiable;
 *    the policy decides (deny unless allowlisted).
 *  - A tag is resolved to a digest exactly once; from then on only the digest is used (evidence,
 *    policy input). An unpinned reference is still resolved, so the policy sees the digest and denies
 *    TAG_NOT_PINNED itself.
 *  - Evidence is discovered once (through a per-decision `MemoStore`) and each bundle verified once
 *    (`verifyBundle`): a key-signed bundle under one of the configured keys (whose id is recorded), a
 *    certificate's verified identity matched against the exact identities (SAN + OIDC issuer) and
 *    identity patterns. The policy data then
 *    decides which verified signers are trusted, revoked, and how many are needed (k of n). Evidence by
 *    a signer that is not configured cannot be verified and counts as no evidence; only the number of
 *    such signatures reaches the policy (`unverifiedSignatures`), so it denies UNTRUSTED_SIGNATURE, not UNSIGNED.
 *  - Only verified evidence reaches the policy input.
 *  - When the policy data sets `datasets.requireSignature`, the datasets the verified provenance names
 *    are fetched by digest and their evidence verified the same way (`datasets.ts`), for the policy.
 *  - Fail closed on the registry: if the artifact cannot be read, or evidence discovery was incomplete
 *    (a source could not be listed, a candidate could not be fetched because of the registry), the
 *    outcome is `unavailable` — transient (timeouts, connection failures, 5xx: retry may help) or
 *    permanent (not found, unauthorised, malformed) — never allow.
 * Dependencies (stores and credentials, trust material, signers, policy engine, optional evidence
 * cache) are created once (`PipelineDeps`) and reused across decisions; discovery and verification of
 * one digest is `discover.ts`'s, shared with the dataset checks (`datasets.ts`).
 */
import { hasCode, ModelgateError, OciError } from '../errors.ts';
import type { Failure, VerifiedModelSignature } from '../evidence/verified.ts';
import type { Digest } from '../oci/digest.ts';
import { manifestSelector, parseReference, repositoryName, type ArtifactReference } from '../oci/reference.ts';
import type { Decision } from '../policy/engine.ts';
import { PolicyError } from '../policy/errors.ts';
import { locationScheme, type EvaluationContext, type InputVariant, type PolicyInputEvidence, type UsageSite } from '../policy/input.ts';
import { systemClock } from '../time/clock.ts';
import { checkProvenanceDatasets } from './datasets.ts';
import { DEFAULT_REGISTRY_TIMEOUT_MS, discoverAndVerify, type PipelineDeps } from './discover.ts';
import { evidenceKey, verificationScope } from './evidence-cache.ts';
import { MemoStore } from './memo-store.ts';
import { decideVariants, planIndex } from './variants.ts';
import { splitVariantSelector } from '../modelpack/variants.ts';

export { DEFAULT_REGISTRY_TIMEOUT_MS } from './discover.ts';
export type { PipelineDeps, StoreProvider } from './discover.ts';
export type { ArtifactDecision, VariantOutcome } from './decision.ts';
import type { ArtifactDecision, DecidedOn } from './decision.ts';

export interface DecisionContext extends EvaluationContext {
  /** Where the location is used (admission: namespace, resource, field path). */
  readonly usage?: UsageSite;
  /** OMS model signatures the caller verified (init, stage `before-publish`: against the pulled files). */
  readonly modelSignatures?: readonly VerifiedModelSignature[];
  /** Set by the index decision (`variants.ts`) on each of its variants: `artifact.variant` of the input. */
  readonly variant?: InputVariant;
  readonly signal?: AbortSignal;
}

/**
 * Exit codes of `modelgate verify` and the init container: 0 allow, 1 deny, 2 invalid (usage, bad
 * reference, evidence that cannot be evaluated), 3 registry unavailable (transient: retry), 4 registry
 * refused (permanent: not found, unauthorised, malformed content).
 */
export const EXIT_CODE = { allow: 0, deny: 1, invalid: 2, unavailableTransient: 3, unavailablePermanent: 4 } as const;

export function exitCodeOf(result: ArtifactDecision): number {
  switch (result.outcome) {
    case 'allow':
      return EXIT_CODE.allow;
    case 'deny':
      return EXIT_CODE.deny;
    case 'invalid':
      return EXIT_CODE.invalid;
    case 'unavailable':
      return result.transient ? EXIT_CODE.unavailableTransient : EXIT_CODE.unavailablePermanent;
  }
}

function failureOf(err: unknown): Failure {
  if (err instanceof ModelgateError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

function decided(location: string, digest: Digest | null, decision: Decision, on: DecidedOn): ArtifactDecision {
  return decision.allow ? { outcome: 'allow', location, digest, decision, ...on } : { outcome: 'deny', location, digest, decision, ...on };
}

function evaluate(deps: PipelineDeps, location: string, digest: Digest | null, input: PolicyInputEvidence, on: DecidedOn): ArtifactDecision {
  let decision: Decision;
  try {
    decision = deps.engine.decide(input);
  } catch (err) {
    if (hasCode(err, PolicyError, 'INPUT_INVALID')) return { outcome: 'invalid', location, digest, failure: failureOf(err) };
    throw err; // POLICY_EVAL and friends: an engine fault, the caller fails closed
  }
  return decided(location, digest, decision, on);
}


/**
 * Decide whether the artifact at `location` may be used. Never allows on an error: registry failures
 * are `unavailable`, unparseable locations and unevaluable evidence are `invalid`. Throws only when the
 * caller aborts (`ABORTED`) or the policy engine itself fails (POLICY_EVAL): callers fail closed.
 */
export async function decideArtifact(location: string, context: DecisionContext, deps: PipelineDeps): Promise<ArtifactDecision> {
  const { usage, signal, modelSignatures, variant, ...evaluation } = context;
  const policyContext: EvaluationContext = { ...evaluation, time: evaluation.time ?? new Date((deps.clock ?? systemClock).now()) };
  const common = { ...(usage ? { usage } : {}), ...(modelSignatures ? { modelSignatures } : {}), context: policyContext };

  // 1. Reference. Non-OCI locations cannot be verified: the policy decides (deny unless allowlisted).
  const scheme = locationScheme(location);
  if (scheme !== 'oci' && scheme !== 'oci-layout') {
    return evaluate(deps, location, null, { artifact: { uri: location }, ...common }, { evidence: null, verified: null, manifest: null });
  }
  let ref: ArtifactReference;
  let target: string; // the location without a `#variant=NAME` selector (`variants.ts`)
  let selector: string | undefined;
  try {
    ({ location: target, variant: selector } = splitVariantSelector(location));
    ref = parseReference(target); // also KServe's oci+native/oci+fetch and modelgate+oci spellings
  } catch (err) {
    return { outcome: 'invalid', location, digest: null, failure: failureOf(err) };
  }

  // 2. Resolve once: tag → digest (a digest reference is checked to exist and its bytes verified).
  //    A digest reference's evidence is discovered while its manifest is fetched (one round trip
  //    less on a cold decision); that discovery is only used once the manifest has verified.
  const store = new MemoStore(deps.stores(ref), deps.manifestCache && { cache: deps.manifestCache, repository: repositoryName(ref) });
  const timeoutMs = deps.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
  const scope = deps.evidenceCache && verificationScope(deps);
  const cacheKeyOf = (digest: Digest): string | undefined => (scope === undefined ? undefined : evidenceKey(repositoryName(ref), digest, scope));
  let early: ReturnType<typeof discoverAndVerify> | undefined;
  const stopEarly = new AbortController();
  if (ref.digest !== undefined) {
    const key = cacheKeyOf(ref.digest);
    if (key === undefined || deps.evidenceCache?.get(key) === undefined) {
      early = discoverAndVerify(deps, store, ref.digest, signal ? AbortSignal.any([signal, stopEarly.signal]) : stopEarly.signal);
      early.catch(() => undefined); // awaited below once the manifest verifies; otherwise stopped and ignored
    }
  }
  let manifest;
  try {
    manifest = await store.fetchManifest(manifestSelector(ref), { timeoutMs, ...(signal ? { signal } : {}) });
  } catch (err) {
    stopEarly.abort();
    if (hasCode(err, OciError, 'ABORTED')) throw err;
    if (err instanceof OciError) return { outcome: 'unavailable', location, digest: ref.digest ?? null, transient: err.transient, failure: failureOf(err), evidence: null };
    throw err;
  }
  const digest = manifest.descriptor.digest;
  if (ref.digest !== undefined && ref.digest !== digest) {
    stopEarly.abort();
    // The store verified the bytes against the digest asked for; this guards the invariant.
    return { outcome: 'unavailable', location, digest: ref.digest, transient: false, failure: { code: 'DIGEST_MISMATCH', message: `${ref.digest} resolved to ${digest}` }, evidence: null };
  }
  // A model index lists its variants in the input; those a pod could select are decided after it.
  const index = planIndex(manifest.manifest, target, digest, selector);
  if (index.kind === 'invalid') {
    stopEarly.abort();
    return { outcome: 'invalid', location, digest, failure: index.failure };
  }
  const artifact = {
    uri: target,
    verifiedDigest: digest,
    mediaType: manifest.manifest.mediaType,
    ...(manifest.manifest.artifactType !== undefined ? { artifactType: manifest.manifest.artifactType } : {}),
    ...(manifest.manifest.annotations !== undefined ? { annotations: manifest.manifest.annotations } : {}),
    ...(variant !== undefined ? { variant } : {}),
    ...(index.kind === 'index' ? { variants: index.variants } : {}),
  };

  // 3–4. Evidence: discovered once, verified against every configured signer (cached when complete).
  const cacheKey = cacheKeyOf(digest);
  let verified = cacheKey === undefined ? undefined : deps.evidenceCache?.get(cacheKey);
  if (verified === undefined) {
    let result;
    try {
      result = await (early ?? discoverAndVerify(deps, store, digest, signal));
    } catch (err) {
      if (hasCode(err, OciError, 'ABORTED')) throw err;
      if (err instanceof OciError) return { outcome: 'unavailable', location, digest, transient: err.transient, failure: failureOf(err), evidence: null };
      throw err;
    }
    if (result.kind === 'unavailable') return { outcome: 'unavailable', location, digest, transient: result.transient, failure: result.failure, evidence: result.summary };
    verified = result.evidence;
    if (cacheKey !== undefined) deps.evidenceCache?.set(cacheKey, verified);
  }

  // 5. Training datasets the provenance names, when the policy data requires them signed (datasets.ts).
  const checked = await checkProvenanceDatasets(deps, verified.attestations, signal);
  const datasets = checked?.datasets;

  // 6. Policy input from verified evidence only, then the decision. A deny made while a dataset could
  //    not be read for a transient reason says so: it is not kept like a settled deny.
  const evaluated = evaluate(
    deps,
    location,
    digest,
    { artifact, signatures: verified.signatures, unverifiedSignatures: verified.unverifiedSignatures, attestations: verified.attestations, ...(datasets ? { datasets } : {}), ...common },
    { evidence: verified.summary, verified, manifest },
  );
  const decision: ArtifactDecision = checked?.transient === true && evaluated.outcome === 'deny' ? { ...evaluated, transient: true } : evaluated;
  return index.kind === 'index' ? decideVariants(decision, index, (child, v) => decideArtifact(child, { ...context, variant: v }, deps)) : decision;
}

