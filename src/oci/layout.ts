/**
 * `LayoutStore`: the `ArtifactStore` over an OCI image layout directory on disk
 * (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`, OCI image-spec "image-layout.md").
 *
 * Owns: reading and writing a layout safely.
 *   - Tags are the `org.opencontainers.image.ref.name` annotations of `index.json` entries. Layouts
 *     written by `cosign save` carry no tag names, only a `kind` annotation per entry; their signature
 *     and attestation entries are exposed under the cosign tags `sha256-<image hex>.sig|.att` so the
 *     evidence code finds them exactly as it would in a registry.
 *   - Every read is verified against its digest (and descriptor size); a tampered blob is a
 *     DIGEST_MISMATCH, a truncated or padded one a SIZE_MISMATCH.
 *   - Blobs are written to a temporary file inside `blobs/<alg>/`, fsynced and renamed into place;
 *     `index.json` is rewritten the same way under an exclusive lock file (`index.json.lock`), so
 *     concurrent writers (threads or processes) never lose each other's entries.
 *   - Every pushed manifest gets an `index.json` entry (tagged or not, as oras-go does), so manifests
 *     stay reachable and referrers (entries whose manifest `subject` matches) can be found by scanning
 *     the index; a `sha256-<hex>` referrers fallback index, if some other tool wrote one, is read too
 *     (shared fallback and validation code in `referrers.ts`).
 * There is no network here: `timeoutMs` is ignored, `signal` is honoured between chunks.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { Transform, type Readable, pipeline } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { OciError } from '../errors.ts';
import { DigestVerifier, digestAlgorithm, digestHex, digestOf, isDigest, parseDigest, verifyBytes, type Digest } from './digest.ts';
import {
  MAX_MANIFEST_BYTES,
  MediaType,
  parseDescriptor,
  parseManifest,
  type Descriptor,
  type FetchedManifest,
} from './manifest.ts';
import type {
  ArtifactStore,
  BlobReadOptions,
  BlobSource,
  CallOptions,
  DownloadOptions,
  PushManifestOptions,
  ReferrersOptions,
} from './store.ts';
import { readFallbackIndex, validatedReferrers } from './referrers.ts';
import { cosignTag } from './tag-schema.ts';

/** The annotation that names a tag in `index.json`. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const LAYOUT_VERSION = '1.0.0';

/** `cosign save` marks its index.json entries with `kind` instead of tag names. */
const COSIGN_KIND_ANNOTATION = 'kind';
const COSIGN_KIND_IMAGE = new Set(['dev.cosignproject.cosign/image', 'dev.cosignproject.cosign/imageIndex']);
const COSIGN_KIND_TAG: Record<string, 'sig' | 'att'> = {
  'dev.cosignproject.cosign/sigs': 'sig',
  'dev.cosignproject.cosign/atts': 'att',
};

/** Read and hash in 4 MiB chunks: Node's default 64 KiB halves hashing throughput (performance-facts.md). */
const CHUNK_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_BLOB_BYTES = 16 * 1024 * 1024;
/** index.json is an index of manifests, not content; refuse absurd ones the same way as manifests. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const LOCK_TIMEOUT_MS = 15_000;
/** A lock file older than this is assumed to belong to a crashed writer and is broken. */
const LOCK_STALE_MS = 30_000;

export interface LayoutStoreOptions {
  /** Create the directory, `oci-layout` and an empty `index.json` if they do not exist. */
  readonly create?: boolean;
}

type MutableDescriptor = { -readonly [K in keyof Descriptor]: Descriptor[K] };

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OciError('ABORTED', 'operation aborted', { cause: signal.reason });
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

function tempName(): string {
  return `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, fsConstants.O_RDONLY);
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    await handle?.close();
  }
}

/** Write `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir. */
async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, tempName());
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await fsyncDirectory(dir);
}

/**
 * Copy `source` (an open file) to an atomically published file at `path`, verifying digest and size
 * of every byte written. Two 4 MiB buffers alternate so that reading the next chunk, writing the
 * current one (both on libuv's thread pool) and hashing it (on this thread) overlap.
 */
async function copyVerified(
  source: FileHandle,
  verifier: DigestVerifier,
  path: string,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; total: number },
): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, tempName());
  const out = await open(temp, 'wx', 0o644);
  let current = Buffer.allocUnsafe(CHUNK_BYTES);
  let next = Buffer.allocUnsafe(CHUNK_BYTES);
  let pendingRead: Promise<{ bytesRead: number }> | undefined;
  try {
    pendingRead = source.read(current, 0, CHUNK_BYTES, null);
    for (;;) {
      const { bytesRead } = await pendingRead;
      pendingRead = undefined;
      if (bytesRead === 0) break;
      throwIfAborted(options.signal);
      const chunk = current.subarray(0, bytesRead);
      [current, next] = [next, current];
      pendingRead = source.read(current, 0, CHUNK_BYTES, null);
      const written = writeAll(out, chunk);
      try {
        verifier.update(chunk);
      } finally {
        await written;
      }
      options.onProgress?.(verifier.received, options.total);
    }
    verifier.finish();
    await out.sync();
    await out.close();
    await rename(temp, path);
  } catch (err) {
    await pendingRead?.catch(() => {});
    await out.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  await fsyncDirectory(dir);
}

async function writeAll(out: FileHandle, chunk: Buffer): Promise<void> {
  let written = 0;
  while (written < chunk.byteLength) {
    const result = await out.write(chunk, written, chunk.byteLength - written);
    written += result.bytesWritten;
  }
}

interface IndexDocument {
  /** The parsed JSON object, kept so unknown top-level fields survive a rewrite. */
  readonly raw: Record<string, unknown>;
  readonly manifests: Descriptor[];
}

export class LayoutStore implements ArtifactStore {
  readonly name: string;
  /** Absolute path of the layout directory. */
  readonly dir: string;
  #checked = false;

  constructor(dir: string, options: LayoutStoreOptions = {}) {
    this.dir = resolvePath(dir);
    this.name = `oci-layout://${this.dir}`;
    if (options.create === true) this.#createSync();
  }

  /** Create the layout skeleton. Synchronous so a freshly constructed store is immediately usable. */
  #createSync(): void {
    mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    const layoutFile = join(this.dir, 'oci-layout');
    // `wx` fails if another writer created the file first, which is fine: the content is identical.
    if (!existsSync(layoutFile)) {
      try {
        writeFileSync(layoutFile, JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }), { flag: 'wx' });
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
    }
    const indexFile = join(this.dir, 'index.json');
    if (!existsSync(indexFile)) {
      try {
        writeFileSync(indexFile, JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] }), { flag: 'wx' });
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
    }
  }

  /** Check once that the directory is an OCI image layout of a version we understand. */
  async #ensureLayout(): Promise<void> {
    if (this.#checked) return;
    let text: string;
    try {
      text = await readFile(join(this.dir, 'oci-layout'), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) {
        throw new OciError('NOT_FOUND', `${this.dir} is not an OCI image layout (no oci-layout file)`);
      }
      throw err;
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new OciError('BAD_MANIFEST', `${join(this.dir, 'oci-layout')} is not valid JSON`);
    }
    if (typeof version !== 'string' || !/^1\.\d+\.\d+$/.test(version)) {
      throw new OciError('UNSUPPORTED', `${this.name}: unsupported imageLayoutVersion ${JSON.stringify(version)} (expected 1.x.y)`);
    }
    this.#checked = true;
  }

  /** Path of a blob; safe because a parsed digest only contains `[a-z0-9]` and hex. */
  blobPath(digest: Digest): string {
    return join(this.dir, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  async #readIndex(): Promise<IndexDocument> {
    await this.#ensureLayout();
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir, 'index.json'));
    } catch (err) {
      // The spec requires index.json; a layout without one simply has no manifests listed.
      if (isErrno(err, 'ENOENT')) return { raw: { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] }, manifests: [] };
      throw err;
    }
    if (bytes.byteLength > MAX_INDEX_BYTES) throw new OciError('TOO_LARGE', `${this.name}: index.json is ${bytes.byteLength} bytes, limit ${MAX_INDEX_BYTES}`);
    let raw: unknown;
    try {
      raw = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new OciError('BAD_MANIFEST', `${this.name}: index.json is not valid JSON (${(err as Error).message})`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new OciError('BAD_MANIFEST', `${this.name}: index.json must be a JSON object`);
    const record = raw as Record<string, unknown>;
    if (record.schemaVersion !== 2) throw new OciError('BAD_MANIFEST', `${this.name}: index.json schemaVersion must be 2`);
    if (!Array.isArray(record.manifests)) throw new OciError('BAD_MANIFEST', `${this.name}: index.json manifests must be an array`);
    const manifests = record.manifests.map((d, i) => parseDescriptor(d, `${this.name} index.json manifests[${i}]`));
    return { raw: record, manifests };
  }

  /**
   * Tag → descriptor map, including the synthetic cosign tags of a `cosign save` layout, and the tags
   * left out because index.json maps them to more than one manifest.
   */
  #tagMap(index: IndexDocument): { tags: Map<string, Descriptor>; conflicts: Set<string> } {
    const tags = new Map<string, Descriptor>();
    const conflicts = new Set<string>();
    for (const entry of index.manifests) {
      const tag = entry.annotations?.[REF_NAME_ANNOTATION];
      if (tag === undefined) continue;
      const previous = tags.get(tag);
      if (previous !== undefined && previous.digest !== entry.digest) conflicts.add(tag);
      tags.set(tag, entry);
    }
    // Fail closed: a tag that index.json maps to two different manifests names nothing reliably.
    for (const tag of conflicts) tags.delete(tag);
    const images = index.manifests.filter((e) => COSIGN_KIND_IMAGE.has(e.annotations?.[COSIGN_KIND_ANNOTATION] ?? ''));
    const image = images.length === 1 ? images[0] : undefined;
    if (image !== undefined) {
      for (const entry of index.manifests) {
        const kind = COSIGN_KIND_TAG[entry.annotations?.[COSIGN_KIND_ANNOTATION] ?? ''];
        if (kind === undefined) continue;
        const tag = cosignTag(image.digest, kind);
        if (!tags.has(tag) && !conflicts.has(tag)) tags.set(tag, entry);
      }
    }
    return { tags, conflicts };
  }

  async #lookupTag(tag: string): Promise<Descriptor> {
    const { tags, conflicts } = this.#tagMap(await this.#readIndex());
    const entry = tags.get(tag);
    if (entry === undefined) {
      if (conflicts.has(tag)) {
        throw new OciError('BAD_MANIFEST', `${this.name}: index.json lists tag "${tag}" for more than one manifest`);
      }
      throw new OciError('NOT_FOUND', `${this.name}: no manifest tagged "${tag}"`);
    }
    return entry;
  }

  /** Read a whole blob (bounded), verifying size and digest. */
  async #readVerified(digest: Digest, size: number | undefined, maxBytes: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    throwIfAborted(signal);
    await this.#ensureLayout();
    if (size !== undefined && size > maxBytes) {
      throw new OciError('TOO_LARGE', `${what} ${digest} is ${size} bytes, limit ${maxBytes}`);
    }
    let handle: FileHandle;
    try {
      handle = await open(this.blobPath(digest), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new OciError('NOT_FOUND', `${this.name}: ${what} ${digest} not found`);
      throw err;
    }
    try {
      const { size: actual } = await handle.stat();
      if (size !== undefined && actual !== size) {
        throw new OciError('SIZE_MISMATCH', `${this.name}: ${what} ${digest} has ${actual} bytes, descriptor says ${size}`);
      }
      if (actual > maxBytes) throw new OciError('TOO_LARGE', `${what} ${digest} is ${actual} bytes, limit ${maxBytes}`);
      // Read exactly the size seen by stat: memory stays bounded even if the file grows meanwhile.
      const bytes = Buffer.alloc(actual);
      let filled = 0;
      while (filled < actual) {
        const { bytesRead } = await handle.read(bytes, filled, actual - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      verifyBytes(bytes.subarray(0, filled), digest, size);
      return filled === actual ? bytes : bytes.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  /** Fetch a manifest blob by digest; `listed` is its index.json entry when there is one. */
  async #fetchByDigest(digest: Digest, listed: Descriptor | undefined, signal?: AbortSignal): Promise<FetchedManifest> {
    const bytes = await this.#readVerified(digest, listed?.size, MAX_MANIFEST_BYTES, 'manifest', signal);
    const manifest = parseManifest(bytes, listed?.mediaType);
    if (listed !== undefined && listed.mediaType !== manifest.mediaType) {
      throw new OciError('BAD_MANIFEST', `${this.name}: index.json says ${digest} is ${listed.mediaType}, the manifest declares ${manifest.mediaType}`);
    }
    const descriptor: MutableDescriptor = { mediaType: manifest.mediaType, digest, size: bytes.byteLength };
    if (manifest.artifactType !== undefined) descriptor.artifactType = manifest.artifactType;
    return { descriptor, bytes, manifest };
  }

  async fetchManifest(selector: string, options: CallOptions = {}): Promise<FetchedManifest> {
    throwIfAborted(options.signal);
    if (isDigest(selector)) {
      const index = await this.#readIndex();
      const listed = index.manifests.find((e) => e.digest === selector);
      return this.#fetchByDigest(selector, listed, options.signal);
    }
    if (selector.includes(':') || selector.includes('@')) parseDigest(selector); // throws BAD_DIGEST with a clear message
    const entry = await this.#lookupTag(selector);
    return this.#fetchByDigest(entry.digest, entry, options.signal);
  }

  async resolve(selector: string, options: CallOptions = {}): Promise<Descriptor> {
    return (await this.fetchManifest(selector, options)).descriptor;
  }

  async fetchBlob(descriptor: Descriptor, options: BlobReadOptions = {}): Promise<Buffer> {
    return this.#readVerified(descriptor.digest, descriptor.size, options.maxBytes ?? DEFAULT_MAX_BLOB_BYTES, 'blob', options.signal);
  }

  async openBlob(descriptor: Descriptor, options: CallOptions = {}): Promise<Readable> {
    throwIfAborted(options.signal);
    const handle = await this.#openBlobFile(descriptor);
    const verifier = new DigestVerifier(descriptor.digest, descriptor.size);
    const verify = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        try {
          verifier.update(chunk);
          callback(null, chunk);
        } catch (err) {
          callback(err as Error);
        }
      },
      flush(callback) {
        try {
          verifier.finish();
          callback();
        } catch (err) {
          callback(err as Error);
        }
      },
    });
    const source = handle.createReadStream({ highWaterMark: CHUNK_BYTES, ...(options.signal ? { signal: options.signal } : {}) });
    // pipeline destroys `verify` with the error of any stage, so consumers see an error instead of `end`.
    pipeline(source, verify, (err) => {
      if (err && err.name === 'AbortError' && !(err instanceof OciError)) {
        verify.destroy(new OciError('ABORTED', 'blob read aborted', { cause: err }));
      }
    });
    return verify;
  }

  async #openBlobFile(descriptor: Descriptor): Promise<FileHandle> {
    await this.#ensureLayout();
    try {
      return await open(this.blobPath(descriptor.digest), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new OciError('NOT_FOUND', `${this.name}: blob ${descriptor.digest} not found`);
      throw err;
    }
  }

  async downloadBlob(descriptor: Descriptor, path: string, options: DownloadOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const handle = await this.#openBlobFile(descriptor);
    try {
      await copyVerified(handle, new DigestVerifier(descriptor.digest, descriptor.size), resolvePath(path), {
        total: descriptor.size,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    } finally {
      await handle.close();
    }
  }

  async hasBlob(digest: Digest, options: CallOptions = {}): Promise<boolean> {
    throwIfAborted(options.signal);
    await this.#ensureLayout();
    try {
      return (await stat(this.blobPath(parseDigest(digest)))).isFile();
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /** True when the blob exists with exactly `size` bytes (content is verified on every read). */
  async #hasBlobOfSize(digest: Digest, size: number): Promise<boolean> {
    try {
      const info = await stat(this.blobPath(digest));
      return info.isFile() && info.size === size;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async pushBlob(source: BlobSource, options: CallOptions = {}): Promise<Descriptor> {
    throwIfAborted(options.signal);
    await this.#ensureLayout();
    if (source.kind === 'bytes') {
      const digest = digestOf(source.bytes);
      const descriptor: Descriptor = { mediaType: source.mediaType, digest, size: source.bytes.byteLength };
      if (await this.#hasBlobOfSize(digest, descriptor.size)) return descriptor;
      await mkdir(dirname(this.blobPath(digest)), { recursive: true });
      await writeFileAtomic(this.blobPath(digest), source.bytes);
      return descriptor;
    }
    const digest = parseDigest(source.digest);
    const descriptor: Descriptor = { mediaType: source.mediaType, digest, size: source.size };
    if (await this.#hasBlobOfSize(digest, source.size)) return descriptor;
    await mkdir(dirname(this.blobPath(digest)), { recursive: true });
    let input: FileHandle;
    try {
      input = await open(source.path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new OciError('NOT_FOUND', `blob source file ${source.path} not found`);
      throw err;
    }
    try {
      // The caller's digest is verified while copying: a file that changed since it was hashed is refused.
      await copyVerified(input, new DigestVerifier(digest, source.size), this.blobPath(digest), {
        total: source.size,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      await input.close();
    }
    return descriptor;
  }

  async pushManifest(bytes: Uint8Array, mediaType: string, options: PushManifestOptions = {}): Promise<Descriptor> {
    throwIfAborted(options.signal);
    await this.#ensureLayout();
    const manifest = parseManifest(bytes, mediaType);
    if (manifest.mediaType !== mediaType) {
      throw new OciError('BAD_MANIFEST', `manifest declares mediaType ${manifest.mediaType} but is pushed as ${mediaType}`);
    }
    if (options.tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(options.tag)) {
      throw new OciError('BAD_REFERENCE', `invalid tag "${options.tag}"`);
    }
    // Like a registry, refuse a manifest whose content is not all present (the subject may be absent).
    const required = manifest.kind === 'manifest' ? [manifest.config, ...manifest.layers] : manifest.manifests;
    for (const child of required) {
      if (!(await this.#hasBlobOfSize(child.digest, child.size))) {
        throw new OciError('NOT_FOUND', `${this.name}: manifest references ${child.digest} (${child.size} bytes), which is not in the layout`);
      }
    }
    const blob = await this.pushBlob({ kind: 'bytes', bytes, mediaType }, options);
    const entry: MutableDescriptor = { mediaType, digest: blob.digest, size: blob.size };
    if (manifest.artifactType !== undefined) entry.artifactType = manifest.artifactType;
    await this.#updateIndex((manifests) => upsertEntry(manifests, entry, options.tag));
    const descriptor: MutableDescriptor = { mediaType, digest: blob.digest, size: blob.size };
    if (manifest.artifactType !== undefined) descriptor.artifactType = manifest.artifactType;
    return descriptor;
  }

  /** Read-modify-write of index.json under the lock file; the write is atomic (temp + rename). */
  async #updateIndex(change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    const lockPath = join(this.dir, 'index.json.lock');
    const release = await acquireLock(lockPath);
    try {
      const index = await this.#readIndex();
      const manifests = change(index.manifests);
      const document = { ...index.raw, schemaVersion: 2, mediaType: index.raw.mediaType ?? MediaType.OCI_INDEX, manifests };
      await writeFileAtomic(join(this.dir, 'index.json'), Buffer.from(JSON.stringify(document, null, 2) + '\n'));
    } finally {
      await release();
    }
  }

  async listTags(options: CallOptions = {}): Promise<string[]> {
    throwIfAborted(options.signal);
    return [...this.#tagMap(await this.#readIndex()).tags.keys()].sort();
  }

  async listReferrers(subject: Digest, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    throwIfAborted(options.signal);
    const target = parseDigest(subject);
    const index = await this.#readIndex();
    // Candidates: every manifest listed in index.json, plus a `sha256-<hex>` fallback index if another
    // tool wrote one. Each is fetched, verified and kept only if its subject is `target`.
    const reader = options.manifestReader ?? this;
    const fallback = await readFallbackIndex(reader, target, options);
    const candidates = [...index.manifests, ...(fallback?.manifests ?? [])];
    return validatedReferrers(reader, target, candidates, options);
  }
}

/**
 * Add a manifest to the index entries. With a tag: the tag moves to this manifest (a manifest the tag
 * used to name keeps an untagged entry so it stays reachable). Without: an untagged entry is added
 * unless the manifest is already listed. Other entries (and their annotations) are kept as they are.
 */
export function upsertEntry(manifests: readonly Descriptor[], entry: Descriptor, tag: string | undefined): Descriptor[] {
  if (tag === undefined) {
    return manifests.some((m) => m.digest === entry.digest) ? [...manifests] : [...manifests, entry];
  }
  const displaced = manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === tag).map((m) => m.digest);
  const kept = manifests.filter(
    (m) => m.annotations?.[REF_NAME_ANNOTATION] !== tag && !(m.digest === entry.digest && m.annotations?.[REF_NAME_ANNOTATION] === undefined && isPlainEntry(m)),
  );
  const result = [...kept, { ...entry, annotations: { [REF_NAME_ANNOTATION]: tag } }];
  for (const digest of new Set(displaced)) {
    if (digest !== entry.digest && !result.some((m) => m.digest === digest)) {
      const old = manifests.find((m) => m.digest === digest)!;
      const { annotations: _annotations, ...untagged } = old;
      result.push(untagged);
    }
  }
  return result;
}

/** An entry without annotations (one we wrote untagged); entries carrying e.g. cosign `kind` are kept. */
function isPlainEntry(entry: Descriptor): boolean {
  return entry.annotations === undefined || Object.keys(entry.annotations).length === 0;
}

/**
 * Exclusive lock by creating `path` with O_EXCL. Retries with back-off up to LOCK_TIMEOUT_MS; breaks a
 * lock older than LOCK_STALE_MS (a crashed writer). Returns the release function.
 */
async function acquireLock(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  let delay = 2;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return async () => {
        await unlink(path).catch(() => {});
      };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    try {
      const info = await stat(path);
      if (Date.now() - info.mtimeMs > LOCK_STALE_MS) {
        // Move it aside atomically so two processes breaking the same stale lock cannot both win.
        const aside = `${path}${tempName()}`;
        if (await rename(path, aside).then(() => true, () => false)) await unlink(aside).catch(() => {});
        continue;
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      continue;
    }
    if (Date.now() > deadline) {
      throw new OciError('TIMEOUT', `could not lock ${basename(path)} in ${dirname(path)} within ${LOCK_TIMEOUT_MS} ms (remove the file if no modelgate process is running)`);
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}
