/**
 * The storage initializer for one `URI DEST` pair: verify first, then pull, extract and publish.
 *
 * Owns: `initModel` and the init outcome (published / refused with an exit code), the mapping of
 * modelgate storage URIs to pipeline locations, the layer plan of a CNCF ModelPack artifact, the
 * bounded-concurrency pull through the node cache when there is a usable one, else pod-local into the
 * staging directory (KServe modelcar images too: files under `models/`, whiteouts honoured), JSON
 * progress lines, the receipt (`receipt.ts`) and the reuse of a published DEST only once its bytes
 * are proven (`checkPublished`; changed bytes are taken out and published again).
 * Order: the URI must be pinned by digest; when it names a model index, the variant is selected first
 * (`selectVariant`: `#variant=NAME` in the URI, else `InitDeps.variant` — MODELGATE_VARIANT, the node's
 * platform and accelerator) and the pipeline verifies the index and that variant, which is what is
 * pulled; the whole pipeline (`decideArtifact`, context `init`) runs before any layer is fetched; the manifest is then read by that digest (verified by the store),
 * and every layer is downloaded by the registry client (digest and size checked against the verified
 * manifest, `Range` resume), kept in the cache only once verified, and extracted into a staging
 * directory that is published at DEST in one step with `DEST/.modelgate/receipt.json`; every raw
 * layer's copy must hash to the layer digest before that (`src/init/place.ts`, the file table).
 * When the artifact carries `model.sig` (OMS), the published files are verified against it too, and
 * the policy decides a second time before publication (stage `before-publish`) with that result in
 * `modelSignatures` of its input, so a policy can require it (`modelSignature.required`).
 * Exit codes follow `EXIT_CODE` (`src/pipeline/decide.ts`): 1 verification failed (deny, corrupted
 * blob, unsafe archive: permanent), 2 invalid (bad URI, unsupported artifact, a local I/O failure:
 * NO_SPACE / INIT_IO, one line naming the path, staging removed, leases released), 3
 * registry unavailable or cache lease lost (transient: retry), 4 registry refused (permanent).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hasCode, ModelgateError, OciError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { parseReference, repositoryName, type ArtifactReference } from '../oci/reference.ts';
import { isModelIndex, nodePlatform, selectVariant, splitVariantSelector, VariantError, variantsOfIndex, type NodeTarget, type Variant } from '../modelpack/variants.ts';
import { FILEPATH_ANNOTATION, TITLE_ANNOTATION } from '../modelpack/spec.ts';
import { decideArtifact, EXIT_CODE, exitCodeOf, type ArtifactDecision, type PipelineDeps } from '../pipeline/decide.ts';
import type { Failure } from '../evidence/verified.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { HashingError } from '../hashing/errors.ts';
import { ModelSignatureError } from '../oms/errors.ts';
import type { ModelSigner, ModelSigningMethod } from '../oms/signature.ts';
import { EvidenceCache } from '../pipeline/evidence-cache.ts';
import type { SignerIdentity } from '../evidence/signers.ts';
import type { VerifiedModelSignature } from '../evidence/verified.ts';
import { VerificationError } from '../sigstore/errors.ts';
import type { BlobCache } from './cache.ts';
import { InitError, localFailure } from './errors.ts';
import { ExtractionScope, extractTarFile, type TarCompression } from './extract.ts';
import { entryNameProblem, escapeName, normalisedEntryName } from '../fs/entry-name.ts';
import { copyBlob, copyVerifiedSync, SMALL_BLOB_BYTES, type PlacedFile } from './place.ts';
import { locationOfUri } from './storage-uri.ts';
import { commitStaging, discardStaging, isBookkeeping, prepareStaging, readReceipt, RECEIPT_DIR, RECEIPT_FILE, unpublish } from './publish.ts';
import { checkPublished, fileTable, parseReceipt, RECEIPT_SCHEMA, type ModelSignatureRecord, type Receipt } from './receipt.ts';

export { locationOfUri, MODELGATE_SCHEME_PREFIX } from './storage-uri.ts';

export interface InitDeps {
  readonly pipeline: PipelineDeps;
  /** The node cache; undefined: none (a pod-local pull, the receipt says `cached: false`). */
  readonly cache: BlobCache | undefined;
  /**
   * Layers of ≥ 1 MiB pulled at once (default 4); layers below 1 MiB (their cost is round trips, not
   * bytes: a model of many small files) up to 4 × this many at once.
   */
  readonly concurrency?: number;
  /** Deadline of each registry call / longest stall of a download (default 30 s). */
  readonly timeoutMs?: number;
  /** Bytes a compressed tar layer may expand to, per byte of the layer (default 100). */
  readonly maxExpansion?: number;
  /** One JSON object per progress line. */
  readonly log: (event: Record<string, unknown>) => void;
  /** How a variant of a model index is chosen when the URI names none (`src/modelpack/variants.ts`). */
  readonly variant?: { readonly name?: string; readonly node: NodeTarget };
  readonly signal?: AbortSignal;
}

export type InitOutcome =
  | { readonly kind: 'published'; readonly dest: string; readonly digest: Digest; readonly reused: boolean; readonly receipt: Receipt }
  | { readonly kind: 'refused'; readonly exitCode: number; readonly digest: Digest | null; readonly reasons: readonly Failure[] };

/**
 * A manifest of `ref`'s repository by digest, through the pipeline's manifest cache when it has one
 * (init asks for the model's manifest while its configuration loads; every later read is that answer).
 */
function manifestOf(deps: InitDeps, ref: ArtifactReference, digest: Digest, timeoutMs: number, signal: AbortSignal | undefined) {
  const fetch = () => deps.pipeline.stores(ref).fetchManifest(digest, { timeoutMs, ...(signal ? { signal } : {}) });
  return deps.pipeline.manifestCache === undefined ? fetch() : deps.pipeline.manifestCache.get(repositoryName(ref), digest, fetch, signal);
}

/**
 * When the URI names a model index: the variant this node uses (`selectVariant`'s rule) and the
 * location that has the pipeline verify the index and that variant; otherwise the location as is.
 */
async function variantLocation(location: string, ref: ArtifactReference, named: string | undefined, deps: InitDeps): Promise<{ location: string; variant?: Variant; rule?: string }> {
  const fetched = await manifestOf(deps, ref, ref.digest!, deps.timeoutMs ?? 30_000, deps.signal);
  if (fetched.manifest.kind !== 'index' || !isModelIndex(fetched.manifest)) return { location: named === undefined ? location : `${location}#variant=${named}` }; // the pipeline refuses a selector on a manifest
  const name = named ?? deps.variant?.name;
  const variant = selectVariant(variantsOfIndex(fetched.manifest, location), { name, node: deps.variant?.node ?? { ...nodePlatform(), accelerator: null } }, location);
  const rule = named !== undefined ? 'storage URI' : name !== undefined ? 'MODELGATE_VARIANT' : 'node platform and accelerator';
  return { location: `${location}#variant=${variant.name}`, variant, rule };
}

interface LayerPlan {
  readonly descriptor: Descriptor;
  readonly action:
    | { readonly kind: 'raw'; readonly path: string }
    | { readonly kind: 'tar'; readonly compression: TarCompression }
    /** A modelcar image layer: files under `models/`, extracted top layer first after every layer is fetched. */
    | { readonly kind: 'image'; readonly compression: TarCompression };
  /** Bytes this layer may publish. */
  readonly budget: number;
}

const MODELPACK_LAYER = /^application\/vnd\.cncf\.model\.(?:weight|weight\.config|doc|code|dataset)\.v1\.(raw|tar|tar\+gzip|tar\+zstd)$/;

const IMAGE_LAYER: ReadonlyMap<string, TarCompression> = new Map([
  ['application/vnd.oci.image.layer.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
  ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
]);
/** Where a KServe modelcar image keeps the model. */
const MODELCAR_DIRECTORY = 'models';

function planLayers(layers: readonly Descriptor[], maxExpansion: number): LayerPlan[] {
  if (layers.length > 0 && layers.every((l) => IMAGE_LAYER.has(l.mediaType))) {
    return layers.map((descriptor): LayerPlan => {
      const compression = IMAGE_LAYER.get(descriptor.mediaType)!;
      return { descriptor, action: { kind: 'image', compression }, budget: compression === 'none' ? descriptor.size : descriptor.size * maxExpansion };
    });
  }
  return layers.map((descriptor): LayerPlan => {
    const format = MODELPACK_LAYER.exec(descriptor.mediaType)?.[1];
    if (format === undefined) throw new InitError('UNSUPPORTED_LAYER', `layer ${descriptor.digest} has media type ${descriptor.mediaType}: neither a CNCF ModelPack layer nor (all layers) a modelcar image`);
    if (format === 'raw') {
      const name = descriptor.annotations?.[FILEPATH_ANNOTATION] ?? descriptor.annotations?.[TITLE_ANNOTATION];
      if (name === undefined) throw new InitError('UNSUPPORTED_LAYER', `raw layer ${descriptor.digest} names no file (${FILEPATH_ANNOTATION})`);
      const problem = entryNameProblem(name);
      if (problem !== undefined) throw new InitError('UNSAFE_ENTRY', `raw layer ${descriptor.digest}: file path ${escapeName(name)} ${problem}`);
      const path = normalisedEntryName(name);
      return { descriptor, action: { kind: 'raw', path }, budget: descriptor.size };
    }
    const compression: TarCompression = format === 'tar' ? 'none' : format === 'tar+gzip' ? 'gzip' : 'zstd';
    return { descriptor, action: { kind: 'tar', compression }, budget: compression === 'none' ? descriptor.size : descriptor.size * maxExpansion };
  });
}

/** Progress of the whole pull as JSON lines: bytes, rate, ETA (at most one line a second, plus the last). */
class ProgressMeter {
  readonly #total: number;
  readonly #done = new Map<string, number>();
  readonly #started = Date.now();
  #lastLine = 0;
  readonly #log: InitDeps['log'];

  constructor(total: number, log: InitDeps['log']) {
    this.#total = total;
    this.#log = log;
  }

  update(digest: string, bytes: number, final = false): void {
    this.#done.set(digest, bytes);
    const now = Date.now();
    if (!final && now - this.#lastLine < 1000) return;
    this.#lastLine = now;
    const done = [...this.#done.values()].reduce((a, b) => a + b, 0);
    const seconds = Math.max((now - this.#started) / 1000, 0.001);
    const rate = done / seconds;
    this.#log({ event: 'progress', bytes: done, total: this.#total, bytesPerSecond: Math.round(rate), etaSeconds: rate > 0 ? Math.round((this.#total - done) / rate) : null });
  }
}

/** `mkdir -p` once per directory of a pull (`made` remembers them): a model of many files shares few directories. */
async function makeDirectory(dir: string, made: Set<string>): Promise<void> {
  if (made.has(dir)) return;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  made.add(dir);
}

/** Layers below this size count as small for the concurrency bound (see `InitDeps.concurrency`) and are placed by `copyVerifiedSync`. */
const SMALL_LAYER_BYTES = SMALL_BLOB_BYTES;
const SMALL_LAYER_FACTOR = 4;

/** `run` bounded to `max` at once (a FIFO semaphore). */
function limiter(max: number): <T>(run: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (run) => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await run();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>, abort: AbortController): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && firstError === undefined) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        firstError ??= err;
        abort.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (firstError !== undefined) throw firstError;
}

function refusedByDecision(result: Exclude<ArtifactDecision, { outcome: 'allow' }>): InitOutcome {
  const reasons = result.outcome === 'deny' ? result.decision.reasons.map((r) => ({ code: r.code, message: r.message })) : [result.failure];
  return { kind: 'refused', exitCode: exitCodeOf(result), digest: result.digest, reasons };
}

/** Exit code of an error raised while pulling: integrity → 1, registry transient → 3, registry refused → 4, else 2. */
export function exitCodeOfPullError(err: unknown): number {
  if (hasCode(err, OciError, 'DIGEST_MISMATCH', 'SIZE_MISMATCH', 'TOO_LARGE') || hasCode(err, InitError, 'UNSAFE_ENTRY', 'INIT_TOO_LARGE', 'NOT_PINNED')) return EXIT_CODE.deny;
  if (err instanceof ModelSignatureError || err instanceof VerificationError) return EXIT_CODE.deny; // model.sig does not verify
  if (err instanceof OciError) return err.transient ? EXIT_CODE.unavailableTransient : EXIT_CODE.unavailablePermanent;
  if (hasCode(err, InitError, 'LEASE_LOST')) return EXIT_CODE.unavailableTransient; // another init container has the blob: a retry reuses it
  return EXIT_CODE.invalid;
}

/** True when `err` says the cache at `root` cannot be used by this process (permissions, read-only), not that the pull failed. */
function cacheUnusable(err: unknown, root: string): boolean {
  if (hasCode(err, InitError, 'CACHE')) return true;
  const e = err as NodeJS.ErrnoException | null;
  return (e?.code === 'EACCES' || e?.code === 'EPERM' || e?.code === 'EROFS') && typeof e.path === 'string' && e.path.startsWith(root);
}

function failureOf(err: unknown): Failure {
  return err instanceof ModelgateError ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/** The OMS signature file a model may carry at its root. */
export const MODEL_SIGNATURE_FILE = 'model.sig';

/** The policy's view of a model signature verified against the files (`modelSignatures[]` of the input). */
export function policyModelSignature(record: ModelSignatureRecord): VerifiedModelSignature {
  if (record.modelDigest === null || !/^sha256:[0-9a-f]{64}$/.test(record.modelDigest)) {
    throw new InitError('UNSUPPORTED_LAYER', `${MODEL_SIGNATURE_FILE} has no root digest (legacy format): it cannot be given to the policy`);
  }
  let signer: SignerIdentity;
  switch (record.signer.kind) {
    case 'key':
      signer = { method: 'key', keyId: `sha256:${record.signer.keyId}` };
      break;
    case 'certificate':
      signer = { method: 'certificate', keyId: `sha256:${record.signer.fingerprint256.replaceAll(':', '').toLowerCase()}` };
      break;
    case 'sigstore':
      signer = { method: 'keyless', san: record.signer.identity, issuer: record.signer.issuer };
      break;
  }
  return { signer, modelName: record.modelName, rootDigest: record.modelDigest as Digest, resourceCount: record.files, verifiedAgainst: 'files' };
}

/**
 * When the staged model carries `model.sig`, verify the published files against it (`src/oms/`) with
 * each configured signer (keys, then keyless identities under the pipeline's trust material): the
 * first that verifies wins; none → the last failure is thrown (MISMATCH, SIGNATURE_INVALID, …).
 */
async function verifyPublishedFiles(dir: string, pipeline: PipelineDeps, signal: AbortSignal): Promise<ModelSignatureRecord | undefined> {
  let bundle: Buffer;
  try {
    bundle = await readFile(join(dir, MODEL_SIGNATURE_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InitError('INIT_IO', `cannot read ${MODEL_SIGNATURE_FILE}: ${(err as Error).message}`, { cause: err });
  }
  const { verifyModelDirectory } = await import('../oms/verify.ts');
  const methods: ModelSigningMethod[] = [
    ...pipeline.signers.keys.map((publicKey): ModelSigningMethod => ({ kind: 'key', publicKey })),
    ...pipeline.signers.identities.map((i): ModelSigningMethod => ({ kind: 'sigstore', identity: i.san, issuer: i.issuer, trust: pipeline.trust })),
  ];
  if (methods.length === 0) throw new InitError('UNSUPPORTED_LAYER', `the model carries ${MODEL_SIGNATURE_FILE} but no signer is configured to verify it`);
  let lastError: unknown;
  for (const method of methods) {
    try {
      const verified = await verifyModelDirectory(dir, bundle, method, { signaturePath: join(dir, MODEL_SIGNATURE_FILE), signal });
      return { method: verified.method, signer: verified.signer, modelName: verified.manifest.modelName, modelDigest: verified.modelDigest ?? null, files: verified.resources.length, verifiedAgainst: 'files' };
    } catch (err) {
      if (lastError === undefined || hasCode(err, ModelSignatureError, 'MISMATCH', 'ROOT_DIGEST', 'PAYLOAD')) lastError = err;
    }
  }
  throw lastError;
}

/** The refusal of a URI that is not a digest-pinned modelgate URI (checked before anything is loaded), else undefined. */
export function refusalOfUri(uri: string): Extract<InitOutcome, { kind: 'refused' }> | undefined {
  try {
    locationOfUri(uri);
    return undefined;
  } catch (err) {
    return { kind: 'refused', exitCode: hasCode(err, InitError, 'NOT_PINNED') ? EXIT_CODE.deny : EXIT_CODE.invalid, digest: null, reasons: [failureOf(err)] };
  }
}

/** Verify, pull and publish the model at `uri` into `dest`. Never throws for a refusal: returns it with its exit code. */
export async function initModel(uri: string, dest: string, deps: InitDeps): Promise<InitOutcome> {
  let location: string;
  let ref: ArtifactReference;
  let named: string | undefined;
  const refusal = refusalOfUri(uri);
  if (refusal !== undefined) return refusal;
  ({ location, ref, variant: named } = locationOfUri(uri));

  // 0. A model index: select the variant first, so the pipeline verifies the index and that variant.
  let selected: Variant | undefined;
  try {
    const chosen = await variantLocation(location, ref, named, deps);
    location = chosen.location;
    selected = chosen.variant;
    if (selected !== undefined) deps.log({ event: 'variant', uri, index: ref.digest, name: selected.name, digest: selected.digest, rule: chosen.rule });
  } catch (err) {
    if ((hasCode(err, OciError, 'ABORTED') || hasCode(err, HashingError, 'HASHING_ABORTED')) && deps.signal?.aborted) throw err;
    return { kind: 'refused', exitCode: err instanceof VariantError ? EXIT_CODE.invalid : exitCodeOfPullError(err), digest: ref.digest ?? null, reasons: [failureOf(err)] };
  }

  // 1. Verify first: the whole pipeline, before any layer is fetched. The evidence it verifies is kept
  //    for the second decision, made before publication with the OMS result (policy context `init`,
  //    stages before-pull / before-publish).
  const pipeline: PipelineDeps = deps.pipeline.evidenceCache !== undefined ? deps.pipeline : { ...deps.pipeline, evidenceCache: new EvidenceCache({ max: 4, ttlMs: 24 * 3600_000 }) };
  const decide = async (stage: 'before-pull' | 'before-publish', modelSignature?: ModelSignatureRecord | null): Promise<ArtifactDecision> => {
    const modelSignatures = modelSignature ? [policyModelSignature(modelSignature)] : [];
    const decision = await decideArtifact(location, { mode: 'init', stage, ...(stage === 'before-publish' ? { modelSignatures } : {}), ...(deps.signal ? { signal: deps.signal } : {}) }, pipeline);
    deps.log({ event: 'decision', stage, uri, outcome: decision.outcome, digest: decision.digest, ...(decision.outcome === 'allow' && decision.decision.warnings.length > 0 ? { warnings: decision.decision.warnings } : {}) });
    return decision;
  };
  const result = await decide('before-pull');
  if (result.outcome !== 'allow') return refusedByDecision(result);
  // What is pulled: the selected variant (verified with its index by the decision), else the artifact.
  const digest = selected !== undefined ? result.variants?.find((v) => v.name === selected.name && v.outcome === 'allow')?.digest : result.digest!;
  if (digest === undefined) return { kind: 'refused', exitCode: EXIT_CODE.invalid, digest: result.digest, reasons: [{ code: 'VARIANT_NOT_FOUND', message: `the decision on ${location} did not verify variant "${selected?.name}"` }] };

  const timeoutMs = deps.timeoutMs ?? 30_000;
  const abort = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, abort.signal]) : abort.signal;
  const store = deps.pipeline.stores(ref);
  let staging;
  try {
    // The digest-verified manifest the decision was made on (a model index's chosen variant is read here).
    const fetched = result.manifest?.descriptor.digest === digest ? result.manifest : await manifestOf(deps, ref, digest, timeoutMs, signal);
    if (fetched.manifest.kind !== 'manifest') throw new InitError('UNSUPPORTED_LAYER', `${digest} is an image index, not a model artifact`);
    const plan = planLayers(fetched.manifest.layers, deps.maxExpansion ?? 100);

    // A restart after a complete publication: nothing to pull when DEST still holds exactly the
    // verified bytes (`checkPublished`: the receipt against the manifest, every file re-hashed). The
    // policy decides again on what the receipt records of the model signature. Changed bytes are
    // taken out of DEST and pulled again (from the cache when it has them): never reused.
    const existing = await readReceipt(dest);
    if (existing !== undefined && existing.digest === digest) {
      const receipt = parseReceipt(existing);
      const raw = plan.flatMap((l) => (l.action.kind === 'raw' ? [{ descriptor: l.descriptor, path: l.action.path }] : []));
      const problem = typeof receipt === 'string' ? `the receipt is not valid: ${receipt}` : await checkPublished(dest, receipt, digest, fetched.manifest.layers, raw, isBookkeeping, signal);
      if (problem === undefined && typeof receipt !== 'string') {
        const final = await decide('before-publish', receipt.modelSignature);
        if (final.outcome !== 'allow') return refusedByDecision(final);
        deps.log({ event: 'reuse', dest, digest, files: receipt.files.length, verified: 're-hashed' });
        return { kind: 'published', dest, digest, reused: true, receipt };
      }
      deps.log({ event: 'reuse-refused', dest, digest, reason: problem });
      await unpublish(dest);
    }

    staging = await prepareStaging(dest);
    const scope = new ExtractionScope(staging.dir, plan.reduce((sum, l) => sum + l.budget, 0));
    scope.claim(RECEIPT_DIR, 'directory');
    const total = plan.reduce((sum, l) => sum + l.descriptor.size, 0);
    const meter = new ProgressMeter(total, deps.log);
    // The node cache is optional: none configured, or one this process cannot use (another uid's
    // hostPath, a read-only mount), means a pod-local pull into the staging directory, with a warning.
    let cache = deps.cache;
    let cachedAll = cache !== undefined;
    const dropCache = (err: unknown): void => {
      deps.log({ event: 'warning', code: 'CACHE', message: `the node cache ${cache?.root ?? ''} cannot be used, pulling without it (not cached): ${err instanceof Error ? err.message : String(err)}` });
      cache = undefined;
      cachedAll = false;
    };
    if (cache === undefined) deps.log({ event: 'cache', cached: false, message: 'no node cache configured: the pull is not cached' });
    else await cache.init().catch(dropCache);
    const podLocalBlobs = join(staging.dir, RECEIPT_DIR, 'blobs');
    let downloaded = 0;
    const imageLayers = new Map<Digest, string>();
    const madeDirectories = new Set<string>();
    /** Raw layers' files whose SHA-256 is known from writing them (the file table takes it instead of reading them again). */
    const placed = new Map<string, PlacedFile>();
    const concurrency = deps.concurrency ?? 4;
    const large = limiter(concurrency);
    await eachLimited(
      plan,
      concurrency * SMALL_LAYER_FACTOR,
      (layer) => (layer.descriptor.size >= SMALL_LAYER_BYTES ? large(() => pullLayer(layer)) : pullLayer(layer)),
      abort,
    );
    async function pullLayer(layer: LayerPlan): Promise<void> {
        const { descriptor } = layer;
        const rawPath = layer.action.kind === 'raw' ? layer.action.path : undefined;
        const target = rawPath === undefined ? undefined : join(staging!.dir, rawPath);
        const small = descriptor.size < SMALL_LAYER_BYTES;
        if (rawPath !== undefined) {
          scope.claim(rawPath, 'file');
          scope.spend(descriptor.size, descriptor.digest);
          await makeDirectory(dirname(target!), madeDirectories);
        }
        const reusedLayer = (): void => {
          meter.update(descriptor.digest, descriptor.size);
          deps.log({ event: 'layer', digest: descriptor.digest, size: descriptor.size, cached: true });
        };
        const onProgress = (done: number): void => meter.update(descriptor.digest, done);
        let use: { path: string; reused: boolean; resumedFrom: number } | undefined;
        const used = cache;
        // A small raw layer already cached (a warm pull of a model of many files): copied out and
        // verified by its content in one read, no lease, no record read (`copyVerifiedSync`). A blob
        // whose content is not its digest is dropped and downloaded again below.
        if (used !== undefined && rawPath !== undefined && small) {
          try {
            if (used.recordedSync(descriptor)) {
              const copied = copyVerifiedSync(used.blobPath(descriptor.digest), target!, descriptor);
              if (copied.kind === 'copied') {
                placed.set(rawPath, copied.placed);
                return reusedLayer();
              }
              if (copied.kind === 'mismatch') await used.drop(descriptor, signal);
            }
          } catch (err) {
            if (!cacheUnusable(err, used.root)) throw err;
            if (cache === used) dropCache(err);
          }
        }
        if (cache !== undefined) {
          const current = cache;
          try {
            use = await current.obtain(
              descriptor,
              (download) =>
                store.downloadBlob(descriptor, download.path, { timeoutMs, signal: download.signal, partialPath: download.partialPath, onProgress }).catch((err: unknown) => {
                  // Aborted because the lease was lost (not by our caller): report that, not "aborted".
                  throw hasCode(download.signal.reason, InitError, 'LEASE_LOST') && !signal.aborted ? download.signal.reason : err;
                }),
              signal,
            );
          } catch (err) {
            if (!cacheUnusable(err, current.root)) throw err;
            if (cache === current) dropCache(err);
          }
        }
        if (use === undefined) {
          // Pod-local: a raw layer straight to its place in the staging directory, others beside the receipt (removed before publication).
          cachedAll = false;
          const local = target ?? join(podLocalBlobs, descriptor.digest.replace(':', '-'));
          await makeDirectory(dirname(local), madeDirectories);
          await store.downloadBlob(descriptor, local, { timeoutMs, signal, onProgress });
          use = { path: local, reused: false, resumedFrom: 0 };
        }
        if (!use.reused) downloaded += descriptor.size;
        meter.update(descriptor.digest, descriptor.size);
        if (rawPath !== undefined) {
          if (use.path === target) {
            if (descriptor.digest.startsWith('sha256:')) placed.set(rawPath, { size: descriptor.size, sha256: descriptor.digest.slice('sha256:'.length) }); // the download verified these bytes as it wrote them
          } else if (small && descriptor.digest.startsWith('sha256:')) {
            const copied = copyVerifiedSync(use.path, target!, descriptor);
            if (copied.kind === 'absent') throw new InitError('INIT_IO', `layer ${descriptor.digest}: the cached blob ${use.path} was removed before it could be copied`);
            if (copied.kind === 'mismatch') {
              await cache?.drop(descriptor, signal).catch(() => {});
              throw new OciError('DIGEST_MISMATCH', `layer ${descriptor.digest}: the cached blob ${use.path} does not hash to it (changed right after it was verified: dropped from the cache)`);
            }
            placed.set(rawPath, copied.placed);
          } else {
            await copyBlob(use.path, target!);
          }
        } else if (layer.action.kind === 'tar') {
          await extractTarFile(use.path, scope, { compression: layer.action.compression, what: `layer ${descriptor.digest}` });
        } else {
          imageLayers.set(descriptor.digest, use.path);
        }
        deps.log({ event: 'layer', digest: descriptor.digest, size: descriptor.size, cached: use.reused, ...(use.resumedFrom > 0 ? { resumedFrom: use.resumedFrom } : {}) });
    }
    // The cache records of this pull, durable in one directory fsync (they were renamed into place without one each).
    if (cache !== undefined) await cache.sync();
    for (const layer of [...plan].reverse()) {
      if (layer.action.kind !== 'image') continue;
      const what = `layer ${layer.descriptor.digest}`;
      await extractTarFile(imageLayers.get(layer.descriptor.digest)!, scope, { compression: layer.action.compression, what, stripPrefix: MODELCAR_DIRECTORY, layered: true });
      scope.endLayer();
    }
    meter.update('', 0, true);
    await rm(podLocalBlobs, { recursive: true, force: true });
    const modelSignature = await verifyPublishedFiles(staging.dir, deps.pipeline, signal);
    if (modelSignature !== undefined) deps.log({ event: 'model-signature', ...modelSignature });
    // 2. The decision before publication, with the model signature verified against the files.
    const final = await decide('before-publish', modelSignature);
    if (final.outcome !== 'allow') return refusedByDecision(final);
    const decision = final.decision;
    const table = await fileTable(staging.dir, isBookkeeping, signal, placed);
    // Every raw layer's file is that layer's bytes. A large blob is copied (or reflinked) as the cache
    // holds it, trusted by its record: one changed behind a record that still matches is caught by the
    // file table's hash, refused and dropped from the cache, so the retry downloads it again.
    const published = new Map(table.files.map((f) => [f.path, f]));
    for (const layer of plan) {
      if (layer.action.kind !== 'raw' || !layer.descriptor.digest.startsWith('sha256:')) continue;
      const file = published.get(layer.action.path);
      if (file !== undefined && `sha256:${file.sha256}` === layer.descriptor.digest && file.size === layer.descriptor.size) continue;
      await cache?.drop(layer.descriptor, signal).catch(() => {}); // the mismatch is what is reported
      throw new OciError('DIGEST_MISMATCH', `layer ${layer.descriptor.digest}: its copy ${escapeName(layer.action.path)} does not hash to it (the cached blob changed behind its record: dropped from the cache, a retry downloads it again)`);
    }
    const receipt: Receipt = {
      schema: RECEIPT_SCHEMA,
      uri,
      digest,
      decision: 'allow' as const,
      stage: 'before-publish' as const,
      time: new Date().toISOString(),
      policy: { name: decision.policy, bundleDigest: decision.bundleDigest, dataDigest: decision.dataDigest },
      warnings: decision.warnings,
      exceptions: decision.exceptions,
      modelSignature: modelSignature ?? null,
      evidence: result.evidence === null ? null : { store: result.evidence.store, signers: result.evidence.signers, predicateTypes: result.evidence.predicateTypes },
      layers: plan.map((l) => ({ digest: l.descriptor.digest, size: l.descriptor.size, mediaType: l.descriptor.mediaType })),
      files: table.files,
      symlinks: table.symlinks,
      bytesDownloaded: downloaded,
      cached: cachedAll,
    };
    await mkdir(join(staging.dir, RECEIPT_DIR), { recursive: true, mode: 0o755 });
    await writeFileAtomic(join(staging.dir, RECEIPT_DIR, RECEIPT_FILE), `${JSON.stringify(receipt, null, 2)}\n`);
    await commitStaging(staging);
    staging = undefined;
    if (cache !== undefined) await cache.evict(new Set(plan.map((l) => l.descriptor.digest))).catch(() => []);
    return { kind: 'published', dest, digest, reused: false, receipt };
  } catch (thrown) {
    if ((hasCode(thrown, OciError, 'ABORTED') || hasCode(thrown, HashingError, 'HASHING_ABORTED')) && deps.signal?.aborted) throw thrown;
    const err = localFailure(thrown); // ENOSPC, EACCES, EROFS, EIO…: one coded line naming the path
    return { kind: 'refused', exitCode: exitCodeOfPullError(err), digest, reasons: [failureOf(err)] };
  } finally {
    if (staging !== undefined) await discardStaging(staging);
  }
}
