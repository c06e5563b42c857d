/**
 * OCI 1.1 referrers: the parts every store shares.
 *
 * Owns: the referrers tag-schema fallback (read: the `sha256-<hex>` index; write: read-modify-write of
 * that index with no duplicates), validation of candidates (each one is fetched by digest and kept only
 * if its `subject.digest` is the subject — GitLab resolves the fallback tag to the subject itself), the
 * descriptor a referrer is listed under (artifactType + annotations) and artifactType filtering.
 * Stores supply I/O through `fetchManifest` and a `putIndex` callback; the registry client adds the
 * referrers API in front of this (`registry.ts`), the OCI-layout store uses the fallback directly.
 */
import { hasCode, OciError } from '../errors.ts';
import type { Digest } from './digest.ts';
import { effectiveArtifactType, MediaType, type Descriptor, type FetchedManifest, type ImageIndex } from './manifest.ts';
import type { ArtifactStore, CallOptions, ReferrersOptions } from './store.ts';
import { referrersFallbackTag } from './tag-schema.ts';

type ManifestReader = Pick<ArtifactStore, 'fetchManifest'>;

/** The descriptor under which a fetched manifest is listed as a referrer. */
export function referrerDescriptor(fetched: FetchedManifest): Descriptor {
  const artifactType = effectiveArtifactType(fetched.manifest);
  return {
    mediaType: fetched.descriptor.mediaType,
    digest: fetched.descriptor.digest,
    size: fetched.descriptor.size,
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(fetched.manifest.annotations !== undefined ? { annotations: fetched.manifest.annotations } : {}),
  };
}

/**
 * Fetch every candidate by digest (verified by the store) and keep those whose `subject.digest` is
 * `subject` and, when asked, whose artifact type matches. Listed descriptors are rebuilt from the
 * fetched manifests, so a lying index cannot change a referrer's artifactType or annotations.
 * Candidates that are missing or unparsable are dropped.
 */
export async function validatedReferrers(
  store: ManifestReader,
  subject: Digest,
  candidates: readonly Descriptor[],
  options: ReferrersOptions = {},
): Promise<Descriptor[]> {
  const seen = new Set<string>();
  const wanted: Descriptor[] = [];
  for (const candidate of candidates) {
    if (seen.has(candidate.digest) || candidate.digest === subject) continue;
    seen.add(candidate.digest);
    if (options.artifactType !== undefined && candidate.artifactType !== undefined && candidate.artifactType !== options.artifactType) continue;
    wanted.push(candidate);
  }
  // Fetched VALIDATION_BATCH at a time (one round trip for a usual listing, not one per referrer); order kept.
  const checked: (Descriptor | undefined)[] = [];
  for (let i = 0; i < wanted.length; i += VALIDATION_BATCH) {
    checked.push(...(await Promise.all(wanted.slice(i, i + VALIDATION_BATCH).map(validate))));
  }
  return checked.filter((d): d is Descriptor => d !== undefined);

  async function validate(candidate: Descriptor): Promise<Descriptor | undefined> {
    let fetched: FetchedManifest;
    try {
      fetched = await store.fetchManifest(candidate.digest, callOptions(options));
    } catch (err) {
      if (hasCode(err, OciError, 'NOT_FOUND', 'BAD_MANIFEST', 'UNSUPPORTED')) return undefined;
      throw err;
    }
    if (fetched.manifest.subject?.digest !== subject) return undefined;
    const descriptor = referrerDescriptor(fetched);
    if (options.artifactType !== undefined && descriptor.artifactType !== options.artifactType) return undefined;
    return descriptor;
  }
}

/** Referrer manifests fetched at once while validating a listing. */
const VALIDATION_BATCH = 16;

function callOptions(options: CallOptions): CallOptions {
  return { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
}

/** The fallback index at `sha256-<hex>`, or undefined when the tag is missing or not an index. */
export async function readFallbackIndex(store: ManifestReader, subject: Digest, options: CallOptions = {}): Promise<ImageIndex | undefined> {
  let fetched: FetchedManifest;
  try {
    fetched = await store.fetchManifest(referrersFallbackTag(subject), callOptions(options));
  } catch (err) {
    if (hasCode(err, OciError, 'NOT_FOUND', 'BAD_MANIFEST', 'UNSUPPORTED')) return undefined;
    throw err;
  }
  return fetched.manifest.kind === 'index' ? fetched.manifest : undefined;
}

/** Referrers found through the tag-schema fallback only (validated as `validatedReferrers` does). */
export async function fallbackReferrers(store: ManifestReader, subject: Digest, options: ReferrersOptions = {}): Promise<Descriptor[]> {
  const index = await readFallbackIndex(store, subject, options);
  return index ? validatedReferrers(store, subject, index.manifests, options) : [];
}

/**
 * The fallback index with `referrer` added (existing entries kept in order, any older entry with the
 * same digest replaced), or undefined when it is already listed identically. Pure: serialises JSON.
 */
export function fallbackIndexWith(existing: ImageIndex | undefined, referrer: Descriptor): Buffer | undefined {
  const manifests = existing ? [...existing.manifests] : [];
  const at = manifests.findIndex((d) => d.digest === referrer.digest);
  if (at >= 0) {
    if (JSON.stringify(manifests[at]) === JSON.stringify(referrer)) return undefined;
    manifests.splice(at, 1);
  }
  manifests.push(referrer);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_INDEX,
    manifests,
    ...(existing?.annotations ? { annotations: existing.annotations } : {}),
  };
  return Buffer.from(JSON.stringify(index));
}

/** Read-modify-write rounds before giving up on a fallback index that concurrent writers keep replacing. */
const MAX_FALLBACK_INDEX_WRITES = 8;

/**
 * Add `referrer` (a manifest whose subject is `subject`) to the fallback index: read it (missing →
 * empty), add, and write it back through `putIndex` under the `sha256-<hex>` tag. No write when the
 * referrer is already listed.
 *
 * Registries without the referrers API have no conditional manifest writes either (distribution 2.8
 * ignores `If-Match`), so a writer that read the index before our write can replace it and drop our
 * entry. Within one process, updates of one store's index for one subject are therefore serialised
 * (no loss at all); against other processes (e.g. `sign` and `attest attach` run at once) the index is
 * read back after each write and the round repeated until our entry is listed — which narrows the race
 * but, without compare-and-swap on the registry, cannot close it.
 */
export async function addToFallbackIndex(
  store: ManifestReader,
  putIndex: (bytes: Buffer, tag: string) => Promise<void>,
  subject: Digest,
  referrer: Descriptor,
  options: CallOptions = {},
): Promise<void> {
  const tag = referrersFallbackTag(subject);
  let queues = indexUpdates.get(store);
  if (queues === undefined) indexUpdates.set(store, (queues = new Map()));
  const previous = queues.get(tag) ?? Promise.resolve();
  const update = previous.then(() => writeUntilListed(store, putIndex, tag, subject, referrer, options));
  const settled = update.then(
    () => undefined,
    () => undefined,
  );
  queues.set(tag, settled);
  void settled.then(() => {
    if (queues.get(tag) === settled) queues.delete(tag);
  });
  return update;
}

/** Pending fallback-index updates per store and tag: one read-modify-write at a time in this process. */
const indexUpdates = new WeakMap<ManifestReader, Map<string, Promise<void>>>();

async function writeUntilListed(
  store: ManifestReader,
  putIndex: (bytes: Buffer, tag: string) => Promise<void>,
  tag: string,
  subject: Digest,
  referrer: Descriptor,
  options: CallOptions,
): Promise<void> {
  for (let round = 1; ; round++) {
    const existing = await readFallbackIndex(store, subject, options);
    // After our first write, being listed (by digest) is enough: a concurrent writer may have re-serialised it.
    if (round > 1 && existing?.manifests.some((d) => d.digest === referrer.digest)) return;
    const bytes = fallbackIndexWith(existing, referrer);
    if (bytes === undefined) return; // already listed identically
    if (round > MAX_FALLBACK_INDEX_WRITES) {
      throw new OciError('REGISTRY_ERROR', `the referrers fallback index ${tag} kept losing ${referrer.digest} to concurrent writers (${MAX_FALLBACK_INDEX_WRITES} writes)`);
    }
    await putIndex(bytes, tag);
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 25 * round)));
  }
}
