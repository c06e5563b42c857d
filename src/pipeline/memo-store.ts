/**
 * A read-through memo over an `ArtifactStore` for the duration of one decision.
 *
 * Owns: remembering the result (or failure) of every read — `resolve`, `fetchManifest`, `fetchBlob`,
 * `listReferrers`, `listTags`, `hasBlob` — so the pipeline can verify the same evidence against several
 * signer policies while discovering it from the registry once, and so every pass sees the same
 * snapshot (a tag moved mid-decision cannot give two passes different evidence). Writes and streaming
 * reads go straight through. Create one per decision; never share it across decisions, or moved tags
 * and new evidence would go unnoticed. Manifests asked for by digest may come from a `ManifestCache`
 * shared across decisions (content-addressed, so safe: see `manifest-cache.ts`); tags never do.
 */
import type { Readable } from 'node:stream';
import { isDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor, FetchedManifest } from '../oci/manifest.ts';
import type { ArtifactStore, BlobReadOptions, BlobSource, CallOptions, DownloadOptions, PushManifestOptions, ReferrersOptions } from '../oci/store.ts';
import type { ManifestCache } from './manifest-cache.ts';

/** Manifests by digest shared across decisions: the cache, and the repository this store reads. */
export interface SharedManifests {
  readonly cache: ManifestCache;
  readonly repository: string;
}

export class MemoStore implements ArtifactStore {
  readonly #inner: ArtifactStore;
  readonly #memo = new Map<string, Promise<unknown>>();
  readonly #shared: SharedManifests | undefined;

  constructor(inner: ArtifactStore, shared?: SharedManifests) {
    this.#inner = inner;
    this.#shared = shared;
  }

  get name(): string {
    return this.#inner.name;
  }

  #once<T>(key: string, run: () => Promise<T>): Promise<T> {
    let pending = this.#memo.get(key) as Promise<T> | undefined;
    if (pending === undefined) {
      pending = run();
      this.#memo.set(key, pending);
    }
    return pending;
  }

  resolve(selector: string, options?: CallOptions): Promise<Descriptor> {
    return this.#once(`resolve ${selector}`, () => this.#inner.resolve(selector, options));
  }

  fetchManifest(selector: string, options?: CallOptions): Promise<FetchedManifest> {
    const shared = this.#shared;
    if (shared === undefined || !isDigest(selector)) return this.#once(`manifest ${selector}`, () => this.#inner.fetchManifest(selector, options));
    // Shared: fetched under its own timeout (not this decision's signal, which only stops our wait).
    const { signal, ...bounded } = options ?? {};
    return this.#once(`manifest ${selector}`, () => shared.cache.get(shared.repository, selector, () => this.#inner.fetchManifest(selector, bounded), signal));
  }

  fetchBlob(descriptor: Descriptor, options?: BlobReadOptions): Promise<Buffer> {
    return this.#once(`blob ${descriptor.digest} ${descriptor.size} ${options?.maxBytes ?? ''}`, () => this.#inner.fetchBlob(descriptor, options));
  }

  hasBlob(digest: Digest, options?: CallOptions): Promise<boolean> {
    return this.#once(`has ${digest}`, () => this.#inner.hasBlob(digest, options));
  }

  listTags(options?: CallOptions): Promise<string[]> {
    return this.#once('tags', () => this.#inner.listTags(options)).then((tags) => [...tags]);
  }

  listReferrers(subject: Digest, options?: ReferrersOptions): Promise<Descriptor[]> {
    return this.#once(`referrers ${subject} ${options?.artifactType ?? ''}`, () => this.#inner.listReferrers(subject, { ...options, manifestReader: this })).then((list) => [...list]);
  }

  openBlob(descriptor: Descriptor, options?: CallOptions): Promise<Readable> {
    return this.#inner.openBlob(descriptor, options);
  }

  downloadBlob(descriptor: Descriptor, path: string, options?: DownloadOptions): Promise<void> {
    return this.#inner.downloadBlob(descriptor, path, options);
  }

  pushBlob(source: BlobSource, options?: CallOptions): Promise<Descriptor> {
    return this.#inner.pushBlob(source, options);
  }

  pushManifest(bytes: Uint8Array, mediaType: string, options?: PushManifestOptions): Promise<Descriptor> {
    return this.#inner.pushManifest(bytes, mediaType, options);
  }
}
