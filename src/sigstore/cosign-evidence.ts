/**
 * Every piece of cosign evidence about one artifact digest, found in an `ArtifactStore` and verified.
 *
 * Owns: `collectEvidence`, the one code path the admission webhook, the init container and the CLI
 * call. It discovers, for a subject digest,
 *   (a) OCI 1.1 referrers (referrers API or `sha256-<hex>` fallback tag index) whose single layer is a
 *       Sigstore bundle (`application/vnd.dev.sigstore.bundle*`) — cosign v3's default, GitHub
 *       attestations, Tekton Chains `sigstore-bundle` mode;
 *   (b) cosign's legacy `sha256-<hex>.sig` (simple-signing payload layers, detached signature
 *       annotations) and `sha256-<hex>.att` (DSSE envelope layers) tags, converted to v0.1 bundles
 *       (`cosign-legacy.ts`), and the same manifests pushed as referrers by cosign's experimental
 *       OCI 1.1 mode (`application/vnd.dev.cosign.artifact.{sig,att}.v1+json`);
 * verifies each candidate through `verifyBundle` (signature, certificate, identity or key, Rekor,
 * timestamps), then binds it: the signed payload must name the subject digest (`cosign-payload.ts`).
 * Discovery mirrors cosign (`pkg/cosign/verify.go` `GetBundles`, `pkg/oci/remote/signatures.go`):
 * missing tags mean "no evidence", referrers that are not bundles are skipped, manifests of more than
 * 1000 layers are refused. Every candidate yields an item — verified, or failed with a stable code —
 * so a malformed or hostile manifest is reported, never crashes the run and never counts as verified.
 */
import { hasCode, ModelgateError, OciError } from '../errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor, ImageManifest } from '../oci/manifest.ts';
import type { ArtifactStore, CallOptions } from '../oci/store.ts';
import { cosignTag } from '../oci/tag-schema.ts';
import { legacyLayerToBundle, CosignAnnotation, type LegacyLayerKind } from './cosign-legacy.ts';
import {
  assertPayloadNamesDigest,
  parseDssePayload,
  parseSimpleSigning,
  payloadKind,
  type SignedPayload,
} from './cosign-payload.ts';
import type { SignerIdentity } from '../evidence/signers.ts';
import type { EvidenceSource, TransparencyLogEvidence, VerifiedAttestation, VerifiedSignature } from '../evidence/verified.ts';
import { claimedIdentity, FULCIO_OID, parseBundle, verifyBundle, type SignerPolicy, type VerifiedBundle } from './bundle.ts';
import { VerificationError } from './errors.ts';
import type { TrustMaterial } from './trust.ts';
import { SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX } from '../evidence/vocabulary.ts';

export type { EvidenceSource } from '../evidence/verified.ts';
export type EvidenceKind = 'signature' | 'attestation';

/** Annotation cosign puts on bundle referrer manifests (unauthenticated: only a hint for reports). */
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';

/**
 * cosign's experimental OCI 1.1 layout (`COSIGN_EXPERIMENTAL=1 --registry-referrers-mode=oci-1-1`): the
 * legacy `.sig` / `.att` manifest pushed as a referrer with this artifactType / config media type.
 */
export const COSIGN_ARTIFACT_TYPES: Readonly<Record<string, LegacyLayerKind>> = {
  'application/vnd.dev.cosign.artifact.sig.v1+json': 'signature',
  'application/vnd.dev.cosign.artifact.att.v1+json': 'attestation',
};

/** cosign refuses `.sig` / `.att` manifests with more layers than this (`maxLayers`). */
export const MAX_EVIDENCE_LAYERS = 1000;
/** At most this many referrers of one subject are examined. */
export const MAX_REFERRERS = 1000;
/** Default cap on one evidence blob (bundle JSON, DSSE envelope, simple-signing payload). */
export const DEFAULT_MAX_EVIDENCE_BYTES = 8 * 1024 * 1024;

export interface VerifiedEvidence {
  /** What `verifyBundle` established (signer, verified times, tlog entries). */
  readonly bundle: VerifiedBundle;
  /** The signed payload, parsed after its signature verified and bound to the subject digest. */
  readonly payload: SignedPayload;
  /** The exact signed payload bytes (statement JSON or simple-signing JSON). */
  readonly payloadBytes: Buffer;
}

export interface EvidenceFailure {
  readonly code: string;
  readonly message: string;
}

interface EvidenceItemBase {
  readonly source: EvidenceSource;
  /** Digest of the manifest that carried the evidence (referrer manifest, or the `.sig` / `.att` manifest). */
  readonly manifestDigest: Digest;
  /** Index of the layer inside that manifest (legacy manifests hold one signature per layer). */
  readonly layerIndex: number | undefined;
  readonly layerDigest: Digest | undefined;
  readonly kind: EvidenceKind;
  /**
   * The statement's predicateType when verified; before that, the manifest/layer annotation's claim
   * (unauthenticated). Undefined for simple-signing signatures.
   */
  readonly predicateType: string | undefined;
}

export type EvidenceItem =
  | (EvidenceItemBase & { readonly status: 'verified'; readonly verified: VerifiedEvidence })
  | (EvidenceItemBase & { readonly status: 'failed'; readonly error: EvidenceFailure });

/** A discovery step that could not run at all (e.g. the registry answered 500 for the `.sig` tag). */
export interface DiscoveryProblem {
  readonly source: EvidenceSource;
  readonly code: string;
  readonly message: string;
}

export interface EvidenceReport {
  readonly subject: Digest;
  /** `ArtifactStore.name` of the repository searched. */
  readonly store: string;
  readonly items: readonly EvidenceItem[];
  readonly problems: readonly DiscoveryProblem[];
}

/**
 * Who must have signed. `key` / `identity` are `verifyBundle`'s policies. `issuer-only` accepts any
 * certificate SAN issued through this OIDC issuer and leaves the SAN check to the caller (slsa-verifier
 * style: the SAN must be one of several trusted builder workflows at any release tag); the verified SAN
 * is in `verified.bundle.signer`. Never use it without checking that SAN afterwards.
 */
export type EvidenceSigner = SignerPolicy | { readonly kind: 'issuer-only'; readonly issuer: string };

export interface CollectEvidenceOptions extends CallOptions {
  /** Trust material (Fulcio CAs, Rekor keys, CT logs, TSAs) — see `trust.ts`. */
  readonly trust: TrustMaterial;
  /**
   * Who must have signed: public keys, or a certificate identity + OIDC issuer. A list means "any of
   * these": evidence is discovered once and each item is tried against each signer in order (the first
   * that verifies wins; otherwise the most specific failure is reported, a signer-kind mismatch last).
   */
  readonly signer: EvidenceSigner | readonly EvidenceSigner[];
  /** Verified transparency-log entries required for keyless evidence (default: `verifyBundle`'s, 1). */
  readonly tlogThreshold?: number;
  /**
   * Verified transparency-log entries required for key-signed evidence. Default 0: a signature by a
   * key the caller names verifies on that key alone (cosign `--key --insecure-ignore-tlog`, Tekton
   * Chains' default of no transparency log). Log entries that are present are verified regardless.
   */
  readonly keyTlogThreshold?: number;
  /** cosign `--insecure-ignore-tlog`: transparency-log entries are neither verified nor required (see `verifyBundle`). */
  readonly ignoreTlog?: boolean;
  /** Which sources to search (default: all three). */
  readonly sources?: readonly EvidenceSource[];
  /** Cap on each evidence blob (default 8 MiB). */
  readonly maxBlobBytes?: number;
  /**
   * Where the evidence lives when not beside the artifact (cosign `COSIGN_REPOSITORY`, slsa-verifier
   * `--provenance-repository`). Default: the artifact's own store.
   */
  readonly evidenceStore?: ArtifactStore;
}

/** Where a piece of evidence was found and what it claims to be (not yet verified). */
interface CandidateOrigin {
  readonly source: EvidenceSource;
  readonly manifestDigest: Digest;
  readonly layerIndex: number | undefined;
  readonly layerDigest: Digest | undefined;
  readonly claimedKind: EvidenceKind;
  readonly claimedPredicateType: string | undefined;
}

/** One piece of evidence found, before verification. */
type Candidate =
  | (CandidateOrigin & {
      readonly kind: 'bundle';
      /** Bundle JSON (from a referrer layer, or rebuilt from legacy annotations). */
      readonly bundleJson: unknown;
      /** Bytes the bundle's message signature covers (legacy `.sig`), if any. */
      readonly artifact: Buffer | undefined;
    })
  | (CandidateOrigin & { readonly kind: 'malformed'; readonly error: EvidenceFailure });

function failureOf(err: unknown): EvidenceFailure {
  if (err instanceof ModelgateError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

function isBundleMediaType(mediaType: string): boolean {
  return mediaType.startsWith(SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX);
}

function parseBundleJson(blob: Buffer): unknown {
  try {
    return JSON.parse(blob.toString('utf8'));
  } catch (err) {
    throw new VerificationError('BUNDLE_FORMAT', `Sigstore bundle is not valid JSON (${(err as Error).message})`);
  }
}

async function referrerCandidates(store: ArtifactStore, subject: Digest, options: CollectEvidenceOptions, maxBytes: number): Promise<Candidate[]> {
  const call: CallOptions = { signal: options.signal, timeoutMs: options.timeoutMs };
  const referrers = await store.listReferrers(subject, call);
  const unique: Descriptor[] = [];
  const seen = new Set<string>();
  for (const descriptor of referrers) {
    if (seen.has(descriptor.digest)) continue;
    seen.add(descriptor.digest);
    if (seen.size > MAX_REFERRERS) break;
    unique.push(descriptor);
  }
  // Every referrer is read at once (manifest, then its bundle layer): one round trip each, not one per referrer.
  const found = await Promise.all(unique.map((descriptor) => referrerCandidatesOf(store, subject, descriptor, call, maxBytes)));
  return found.flat();
}

/** The candidates one listed referrer yields (none when it is not evidence of ours). */
async function referrerCandidatesOf(store: ArtifactStore, subject: Digest, descriptor: Descriptor, call: CallOptions, maxBytes: number): Promise<Candidate[]> {
  // Filter client-side: registries disagree on whether artifactType or config.mediaType is reported.
  const claimedType = descriptor.artifactType ?? '';
  const base = {
    source: 'referrer' as const,
    manifestDigest: descriptor.digest,
    layerIndex: 0,
    layerDigest: undefined,
    claimedPredicateType: descriptor.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION],
  };
  let manifest: ImageManifest;
  try {
    const fetched = await store.fetchManifest(descriptor.digest, call);
    if (fetched.manifest.kind !== 'manifest') {
      if (isBundleMediaType(claimedType)) throw new VerificationError('BUNDLE_FORMAT', `bundle referrer ${descriptor.digest} is an index, not an image manifest`);
      return [];
    }
    manifest = fetched.manifest;
  } catch (err) {
    // Only report referrers that claim to be bundles; anything else is not evidence of ours.
    if (isBundleMediaType(claimedType)) return [{ ...base, kind: 'malformed', claimedKind: 'attestation', error: failureOf(err) }];
    if (hasCode(err, OciError, 'TIMEOUT', 'NETWORK', 'REGISTRY_ERROR', 'ABORTED', 'UNAUTHORIZED', 'DENIED')) throw err;
    return [];
  }
  const cosignArtifact = COSIGN_ARTIFACT_TYPES[manifest.artifactType ?? manifest.config.mediaType];
  if (cosignArtifact !== undefined) {
    if (manifest.subject?.digest !== subject) return [];
    return legacyLayerCandidates(store, 'referrer', descriptor.digest, manifest, cosignArtifact, call, maxBytes);
  }
  const bundleLayers = manifest.layers.filter((layer) => isBundleMediaType(layer.mediaType));
  const claimsBundle = isBundleMediaType(manifest.artifactType ?? '') || isBundleMediaType(claimedType) || bundleLayers.length > 0;
  if (!claimsBundle) return [];
  const predicateType = manifest.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION] ?? base.claimedPredicateType;
  const claimedKind: EvidenceKind = predicateType === 'https://sigstore.dev/cosign/sign/v1' ? 'signature' : 'attestation';
  const where = { ...base, claimedKind, claimedPredicateType: predicateType };
  if (manifest.subject?.digest !== subject) {
    return [{ ...where, kind: 'malformed', error: { code: 'DIGEST', message: `referrer ${descriptor.digest} has subject ${manifest.subject?.digest ?? '(none)'}, not ${subject}` } }];
  }
  if (manifest.layers.length !== 1 || bundleLayers.length !== 1) {
    return [
      {
        ...where,
        kind: 'malformed',
        error: { code: 'BUNDLE_FORMAT', message: `bundle referrer ${descriptor.digest} must have exactly one layer of a Sigstore bundle media type, has ${manifest.layers.length} layer(s)` },
      },
    ];
  }
  const layer = bundleLayers[0]!;
  try {
    const blob = await store.fetchBlob(layer, { ...call, maxBytes });
    return [{ ...where, layerDigest: layer.digest, kind: 'bundle', bundleJson: parseBundleJson(blob), artifact: undefined }];
  } catch (err) {
    if (hasCode(err, OciError, 'ABORTED')) throw err;
    return [{ ...where, layerDigest: layer.digest, kind: 'malformed', error: failureOf(err) }];
  }
}

async function legacyCandidates(
  store: ArtifactStore,
  subject: Digest,
  legacyKind: LegacyLayerKind,
  options: CollectEvidenceOptions,
  maxBytes: number,
): Promise<Candidate[]> {
  const call: CallOptions = { signal: options.signal, timeoutMs: options.timeoutMs };
  const source: EvidenceSource = legacyKind === 'signature' ? 'legacy-sig' : 'legacy-att';
  const tag = cosignTag(subject, legacyKind === 'signature' ? 'sig' : 'att');
  let fetched;
  try {
    fetched = await store.fetchManifest(tag, call);
  } catch (err) {
    if (hasCode(err, OciError, 'NOT_FOUND')) return []; // no tag: no evidence of this kind (cosign does the same)
    if (hasCode(err, OciError, 'BAD_MANIFEST', 'UNSUPPORTED', 'TOO_LARGE', 'DIGEST_MISMATCH', 'SIZE_MISMATCH')) {
      const manifestDigest = await store.resolve(tag, call).then((d) => d.digest, () => undefined);
      if (manifestDigest !== undefined) {
        return [{ kind: 'malformed', source, manifestDigest, layerIndex: undefined, layerDigest: undefined, claimedKind: legacyKind, claimedPredicateType: undefined, error: failureOf(err) }];
      }
    }
    throw err;
  }
  const manifestDigest = fetched.descriptor.digest;
  if (fetched.manifest.kind !== 'manifest') {
    const whole = { source, manifestDigest, layerIndex: undefined, layerDigest: undefined, claimedKind: legacyKind, claimedPredicateType: undefined };
    return [{ ...whole, kind: 'malformed', error: { code: 'BUNDLE_FORMAT', message: `${tag} is an image index, not a cosign ${legacyKind} manifest` } }];
  }
  return legacyLayerCandidates(store, source, manifestDigest, fetched.manifest, legacyKind, call, maxBytes);
}

/** One candidate per layer of a cosign `.sig` / `.att` style manifest (at most MAX_EVIDENCE_LAYERS). */
async function legacyLayerCandidates(
  store: ArtifactStore,
  source: EvidenceSource,
  manifestDigest: Digest,
  manifest: ImageManifest,
  legacyKind: LegacyLayerKind,
  call: CallOptions,
  maxBytes: number,
): Promise<Candidate[]> {
  const layers = manifest.layers;
  if (layers.length > MAX_EVIDENCE_LAYERS) {
    const whole = { source, manifestDigest, layerIndex: undefined, layerDigest: undefined, claimedKind: legacyKind, claimedPredicateType: undefined };
    return [{ ...whole, kind: 'malformed', error: { code: 'BUNDLE_FORMAT', message: `${manifestDigest} has ${layers.length} layers, more than the ${MAX_EVIDENCE_LAYERS} allowed` } }];
  }
  // All layers at once (one round trip, not one per layer).
  return Promise.all(
    layers.map(async (layer, layerIndex): Promise<Candidate> => {
      const where = {
        source,
        manifestDigest,
        layerIndex,
        layerDigest: layer.digest,
        claimedKind: legacyKind,
        claimedPredicateType: legacyKind === 'attestation' ? layer.annotations?.[CosignAnnotation.PREDICATE_TYPE] : undefined,
      };
      try {
        const blob = await store.fetchBlob(layer, { ...call, maxBytes });
        const converted = legacyLayerToBundle(layer, blob, legacyKind);
        return { ...where, kind: 'bundle', bundleJson: converted.bundle, artifact: converted.artifact };
      } catch (err) {
        if (hasCode(err, OciError, 'ABORTED')) throw err;
        return { ...where, kind: 'malformed', error: failureOf(err) };
      }
    }),
  );
}


async function verifyAndBind(
  subject: Digest,
  candidate: Extract<Candidate, { kind: 'bundle' }>,
  evidenceSigner: EvidenceSigner,
  options: CollectEvidenceOptions,
  subjectBytes: () => Promise<Buffer>,
): Promise<VerifiedEvidence> {
  const signer: SignerPolicy =
    evidenceSigner.kind === 'issuer-only' ? { kind: 'identity', san: claimedIdentity(candidate.bundleJson).san, issuer: evidenceSigner.issuer } : evidenceSigner;
  // Key-signed evidence without a Rekor entry (legacy `.sig` with no bundle annotation, Chains bundles)
  // is accepted on the key alone unless the caller asks for log entries (keyTlogThreshold).
  const parsed = parseBundle(candidate.bundleJson);
  const keySigned = parsed.verificationMaterial.content.$case === 'publicKey';
  const tlogThreshold = keySigned ? (options.keyTlogThreshold ?? 0) : options.tlogThreshold;
  // Message signatures: over the legacy payload blob, or (referrer) over the subject manifest itself.
  const artifactBytes = parsed.content.$case === 'messageSignature' ? (candidate.artifact ?? (await subjectBytes())) : undefined;
  const bundle = await verifyBundle(candidate.bundleJson, {
    trust: options.trust,
    signer,
    ...(artifactBytes === undefined ? {} : { artifact: { kind: 'bytes' as const, bytes: artifactBytes } }),
    ...(tlogThreshold === undefined ? {} : { tlogThreshold }),
    ...(options.ignoreTlog === true ? { ignoreTlog: true } : {}),
  });
  let payload: SignedPayload;
  let payloadBytes: Buffer;
  if (bundle.content.kind === 'dsse') {
    payloadBytes = bundle.content.payload;
    payload = parseDssePayload(bundle.content.payloadType, payloadBytes);
  } else if (candidate.artifact !== undefined) {
    payloadBytes = candidate.artifact;
    payload = parseSimpleSigning(payloadBytes);
  } else {
    // A message signature over the subject manifest bytes (which hashed to `subject` when fetched).
    payloadBytes = artifactBytes!;
    payload = { format: 'subject-manifest', manifestDigest: subject };
  }
  assertPayloadNamesDigest(payload, subject);
  if (candidate.source === 'legacy-att' && payload.format !== 'in-toto') {
    throw new VerificationError('BUNDLE_FORMAT', 'a cosign .att layer must carry an in-toto statement');
  }
  return { bundle, payload, payloadBytes };
}

/** Verify one candidate and bind its payload to `subject`; never throws for bad evidence. */
async function verifyCandidate(subject: Digest, candidate: Candidate, options: CollectEvidenceOptions, subjectBytes: () => Promise<Buffer>): Promise<EvidenceItem> {
  const base = {
    source: candidate.source,
    manifestDigest: candidate.manifestDigest,
    layerIndex: candidate.layerIndex,
    layerDigest: candidate.layerDigest,
  };
  if (candidate.kind === 'malformed') {
    return { ...base, kind: candidate.claimedKind, predicateType: candidate.claimedPredicateType, status: 'failed', error: candidate.error };
  }
  const signers: readonly EvidenceSigner[] = Array.isArray(options.signer) ? options.signer : [options.signer as EvidenceSigner];
  let failure: EvidenceFailure = { code: 'POLICY', message: 'no signer was given to verify evidence against' };
  for (const signer of signers) {
    try {
      const verified = await verifyAndBind(subject, candidate, signer, options, subjectBytes);
      const kind = candidate.source === 'referrer' ? payloadKind(verified.payload) : candidate.claimedKind;
      const predicateType = verified.payload.format === 'in-toto' ? verified.payload.statement.predicateType : undefined;
      return { ...base, kind, predicateType, status: 'verified', verified };
    } catch (err) {
      if (hasCode(err, OciError, 'ABORTED')) throw err;
      // A signer of the wrong kind (key vs certificate) says least about the evidence: keep it only if nothing better.
      if (failure.code === 'POLICY' || !hasCode(err, VerificationError, 'POLICY')) failure = failureOf(err);
    }
  }
  return { ...base, kind: candidate.claimedKind, predicateType: candidate.claimedPredicateType, status: 'failed', error: failure };
}

/**
 * Find and verify every cosign signature and attestation of `subject` in `store`.
 * Throws only when discovery cannot even be attempted (abort); per-source failures are `problems`,
 * per-candidate failures are failed items. A caller admits only on `items` with status `verified`.
 */
export async function collectEvidence(store: ArtifactStore, subject: Digest, options: CollectEvidenceOptions): Promise<EvidenceReport> {
  parseDigest(subject);
  const sources = new Set<EvidenceSource>(options.sources ?? ['referrer', 'legacy-sig', 'legacy-att']);
  const maxBytes = options.maxBlobBytes ?? DEFAULT_MAX_EVIDENCE_BYTES;
  const problems: DiscoveryProblem[] = [];
  const discover = async (source: EvidenceSource, run: () => Promise<Candidate[]>): Promise<Candidate[]> => {
    if (!sources.has(source)) return [];
    try {
      return await run();
    } catch (err) {
      if (hasCode(err, OciError, 'ABORTED')) throw err;
      problems.push({ source, ...failureOf(err) });
      return [];
    }
  };
  const evidenceStore = options.evidenceStore ?? store;
  const found = await Promise.all([
    discover('referrer', () => referrerCandidates(evidenceStore, subject, options, maxBytes)),
    discover('legacy-sig', () => legacyCandidates(evidenceStore, subject, 'signature', options, maxBytes)),
    discover('legacy-att', () => legacyCandidates(evidenceStore, subject, 'attestation', options, maxBytes)),
  ]);
  let subjectManifest: Promise<Buffer> | undefined;
  const subjectBytes = (): Promise<Buffer> => {
    subjectManifest ??= store.fetchManifest(subject, { signal: options.signal, timeoutMs: options.timeoutMs }).then((m) => m.bytes);
    return subjectManifest;
  };
  const items: EvidenceItem[] = [];
  for (const candidate of found.flat()) items.push(await verifyCandidate(subject, candidate, options, subjectBytes));
  return { subject, store: evidenceStore.name, items, problems };
}

/** The verified items of a report. */
export function verifiedEvidence(report: EvidenceReport): Array<Extract<EvidenceItem, { status: 'verified' }>> {
  return report.items.filter((item): item is Extract<EvidenceItem, { status: 'verified' }> => item.status === 'verified');
}

/** Fulcio extension names as the policy input spells them (`sourceRepositoryURI` → `sourceRepositoryUri`). */
function oidcExtensionsOf(extensions: Readonly<Record<string, string>>): Record<string, string> {
  const named: Record<string, string> = {};
  for (const [name, oid] of Object.entries(FULCIO_OID)) {
    const value = extensions[oid];
    if (value !== undefined && name !== 'issuer' && name !== 'issuerV1') named[name.replace(/URI$/, 'Uri')] = value;
  }
  return named;
}

function signerIdentityOf(bundle: VerifiedBundle): SignerIdentity {
  const { signer } = bundle;
  if (signer.kind === 'key') return { method: 'key', keyId: `sha256:${signer.keyId}` };
  return { method: 'keyless', san: signer.san, issuer: signer.issuer, oidcExtensions: oidcExtensionsOf(signer.extensions) };
}

function signedEvidenceOf(subject: Digest, bundle: VerifiedBundle): { signer: SignerIdentity; subjectDigest: Digest; tlog?: TransparencyLogEvidence; timestamps?: Date[] } {
  const logged = bundle.tlogEntries.find((entry) => entry.integratedTime !== undefined);
  const timestamps = bundle.verifiedTimes.filter((t) => t.source === 'tsa').map((t) => t.time);
  return {
    signer: signerIdentityOf(bundle),
    subjectDigest: subject,
    ...(logged === undefined ? {} : { tlog: { logIndex: Number(logged.logIndex), integratedTime: logged.integratedTime!, logId: logged.logId } }),
    ...(timestamps.length === 0 ? {} : { timestamps }),
  };
}

/**
 * The verified items of a report in the policy layer's input types (`src/policy/input.ts`): signatures
 * (simple-signing or cosign v3 sign statements) and attestations (in-toto statements with their predicate).
 */
export function policyEvidence(report: EvidenceReport): { signatures: VerifiedSignature[]; attestations: VerifiedAttestation[] } {
  const signatures: VerifiedSignature[] = [];
  const attestations: VerifiedAttestation[] = [];
  for (const item of verifiedEvidence(report)) {
    const evidence = signedEvidenceOf(report.subject, item.verified.bundle);
    const { payload } = item.verified;
    if (item.kind === 'attestation' && payload.format === 'in-toto') {
      attestations.push({ ...evidence, predicateType: payload.statement.predicateType, predicate: payload.statement.predicate });
    } else {
      signatures.push(evidence);
    }
  }
  return { signatures, attestations };
}
