/**
 * The `ArtifactStore` interface: one repository of content-addressed manifests and blobs, served by a
 * registry (`registry.ts`) or by an OCI image layout on disk (`layout.ts`). Everything above `src/oci`
 * (evidence discovery, the emitter, the init container) talks to this interface only.
 *
 * Contract for every implementation:
 *   - content read by digest is verified against that digest (and descriptor size) before it is
 *     returned; content read by tag is verified against the digest the store announced;
 *   - every network call honours `signal` and `timeoutMs` and fails with a typed OciError;
 *   - writes are atomic: readers see either the old state or the complete new object.
 */
import type { Readable } from 'node:stream';
import type { Digest } from './digest.ts';
import type { Descriptor, FetchedManifest } from './manifest.ts';

export interface CallOptions {
  /** Abort the call (and any retries or resumes). */
  readonly signal?: AbortSignal;
  /**
   * Overall deadline for this call in milliseconds. For streaming reads it is the maximum silence
   * between two chunks (a stall), not the total transfer time.
   */
  readonly timeoutMs?: number;
}

export interface BlobReadOptions extends CallOptions {
  /** Refuse (TOO_LARGE) if the descriptor or the content exceeds this many bytes. */
  readonly maxBytes?: number;
}

export interface DownloadOptions extends CallOptions {
  /** How many times to resume with `Range` after a dropped connection (default 3). */
  readonly maxResumes?: number;
  /** Called with the running byte count while downloading. */
  readonly onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /**
   * Keep the bytes received so far in this file instead of a throw-away temporary one: a download
   * that fails or whose process dies leaves it in place, and the next download given the same path
   * continues from its length with `Range` (after re-hashing the kept prefix). Removed when the
   * content turns out wrong. The caller must hold the path exclusively (the init node cache leases it).
   */
  readonly partialPath?: string;
}

export interface ReferrersOptions extends CallOptions {
  /** Only referrers whose artifactType (or config media type) equals this. */
  readonly artifactType?: string;
  /**
   * Reads the manifests a listing is validated with (default: the store itself) — e.g. the caller's
   * memo, so the referrer manifests it reads next are not fetched twice.
   */
  readonly manifestReader?: Pick<ArtifactStore, 'fetchManifest'>;
}

/** Content to push: bytes in memory, or a file on disk whose digest and size are already known. */
export type BlobSource =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly mediaType: string }
  | { readonly kind: 'file'; readonly path: string; readonly digest: Digest; readonly size: number; readonly mediaType: string };

export interface PushBlobOptions extends CallOptions {
  /** Called with the bytes stored so far while a large blob uploads (granularity: the upload chunk). */
  readonly onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface PushManifestOptions extends CallOptions {
  /** Also point this tag at the manifest. */
  readonly tag?: string;
}

export interface ArtifactStore {
  /** Human-readable location of the repository (`host/repo` or `oci-layout://dir`), for messages. */
  readonly name: string;

  /** Resolve a tag or digest to the manifest's descriptor (digest, size, media type). */
  resolve(selector: string, options?: CallOptions): Promise<Descriptor>;

  /** Fetch and verify a manifest by tag or digest. */
  fetchManifest(selector: string, options?: CallOptions): Promise<FetchedManifest>;

  /** Read a (small) blob into memory, verified. Default maxBytes: 16 MiB. */
  fetchBlob(descriptor: Descriptor, options?: BlobReadOptions): Promise<Buffer>;

  /**
   * Stream a blob. The stream verifies size and digest as it goes and emits an OciError
   * (SIZE_MISMATCH / DIGEST_MISMATCH / TIMEOUT…) instead of `end` when the content is bad, so a consumer
   * that waits for `end` never accepts corrupted bytes.
   */
  openBlob(descriptor: Descriptor, options?: CallOptions): Promise<Readable>;

  /**
   * Download a blob to `path`: streamed, verified while writing, resumed with `Range` after a broken
   * connection, written to a temporary file beside `path` and renamed into place only once verified.
   */
  downloadBlob(descriptor: Descriptor, path: string, options?: DownloadOptions): Promise<void>;

  /** True when the store already has a blob with this digest. */
  hasBlob(digest: Digest, options?: CallOptions): Promise<boolean>;

  /** Upload a blob unless present; returns its descriptor. */
  pushBlob(source: BlobSource, options?: PushBlobOptions): Promise<Descriptor>;

  /**
   * Store manifest bytes (by digest, and under `options.tag` if given). When the manifest has a
   * `subject` and the store does not maintain referrers itself, the referrers fallback index
   * (tag `sha256-<hex>`) is updated so `listReferrers` finds it.
   */
  pushManifest(bytes: Uint8Array, mediaType: string, options?: PushManifestOptions): Promise<Descriptor>;

  /** All tags of the repository. */
  listTags(options?: CallOptions): Promise<string[]>;

  /**
   * Manifests whose `subject` is `subject`: the referrers API when available, otherwise the
   * `sha256-<hex>` fallback tag index. Every candidate is fetched and its `subject.digest` checked.
   */
  listReferrers(subject: Digest, options?: ReferrersOptions): Promise<Descriptor[]>;
}
