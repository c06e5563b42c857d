/**
 * Packaging a model directory as a CNCF ModelPack artifact and pushing it into any `ArtifactStore`.
 *
 * Owns: walking a model directory (refusing symlinks and special files, so what is packed is exactly
 * what was hashed), hashing each file once, building the config and manifest bytes deterministically
 * (same directory + same options → same manifest digest), and pushing blobs, config and manifest.
 * Files are hashed HASH_CONCURRENCY at a time and uploaded `concurrency` at a time (default
 * PUSH_CONCURRENCY): a directory of many small files is bound by round trips, not bytes. The manifest
 * goes last, once every blob is in: a failed push leaves no manifest naming missing blobs.
 * Used by `modelgate push` and the demo.
 */
import { open, readdir, lstat } from 'node:fs/promises';
import { join, relative, resolve as resolvePath, sep } from 'node:path';
import { createHash } from 'node:crypto';
import pMap from 'p-map';
import { ModelgateError } from '../errors.ts';
import { entryNameProblem, escapeName } from '../fs/entry-name.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import { MediaType, type Descriptor } from '../oci/manifest.ts';
import type { ArtifactStore, CallOptions, PushBlobOptions } from '../oci/store.ts';
import {
  CREATED_ANNOTATION,
  FILEPATH_ANNOTATION,
  ModelPackMediaType,
  classifyModelFile,
  detectFormat,
  rawMediaType,
  type ModelFileKind,
  type ModelPackConfig,
} from './spec.ts';

export const MODEL_PACK_ERROR_CODES = ['BAD_MODEL_DIRECTORY'] as const;
export type ModelPackErrorCode = (typeof MODEL_PACK_ERROR_CODES)[number];

export class ModelPackError extends ModelgateError<ModelPackErrorCode> {}

/** Directory names never packed (version-control metadata). */
const IGNORED_NAMES = new Set(['.git']);
const HASH_CHUNK_BYTES = 4 * 1024 * 1024;
/** Files up to this size are read whole while hashing and their bytes kept for the push… */
const SMALL_FILE_BYTES = 64 * 1024;
/** …up to this many bytes in all. */
const MAX_HELD_BYTES = 64 * 1024 * 1024;
/** Files hashed at once while scanning. */
const HASH_CONCURRENCY = 8;
/** Blobs uploaded at once by default. */
export const PUSH_CONCURRENCY = 16;

export interface ModelFile {
  /** Path relative to the model directory, `/`-separated. */
  readonly path: string;
  readonly absolutePath: string;
  readonly size: number;
  /** SHA-256 of the file content (= its `.raw` layer digest). */
  readonly digest: Digest;
  readonly kind: ModelFileKind;
  readonly mediaType: string;
  /** The content as hashed, kept for small files (see `hashFile`); larger ones are read again to push. */
  readonly bytes?: Buffer;
}

export interface ModelPackOptions {
  readonly name?: string;
  readonly version?: string;
  /** RFC 3339 time recorded in the config and manifest; omitted by default to keep builds reproducible. */
  readonly createdAt?: string;
  /** Extra manifest annotations. */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface BuiltModelPack {
  readonly files: readonly ModelFile[];
  readonly config: { readonly bytes: Buffer; readonly descriptor: Descriptor };
  readonly manifest: { readonly bytes: Buffer; readonly descriptor: Descriptor };
  /** The layer descriptors, in manifest order (sorted by file path). */
  readonly layers: readonly Descriptor[];
}

/**
 * Hash one file. A small file (at most SMALL_FILE_BYTES, while the scan's `heldBudget` lasts) is read
 * whole and its bytes are kept: pushing them later sends exactly what was hashed, with no second read.
 */
async function hashFile(path: string, heldBudget: { bytes: number }, signal?: AbortSignal): Promise<{ digest: Digest; size: number; bytes?: Buffer }> {
  const handle = await open(path, 'r');
  try {
    const statSize = (await handle.stat()).size;
    if (statSize <= SMALL_FILE_BYTES && heldBudget.bytes >= statSize) {
      const bytes = await handle.readFile();
      if (bytes.byteLength <= SMALL_FILE_BYTES) {
        heldBudget.bytes -= bytes.byteLength;
        return { digest: digestOf(bytes), size: bytes.byteLength, bytes };
      }
    }
    const hash = createHash('sha256');
    // Sized to the file (as it is now) so many small files do not each allocate a 4 MiB buffer.
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(HASH_CHUNK_BYTES, statSize + 1)));
    let size = 0;
    for (let position = 0; ; ) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
      position += bytesRead;
    }
    return { digest: `sha256:${hash.digest('hex')}` as Digest, size };
  } finally {
    await handle.close();
  }
}

/** List and hash every regular file under `dir`, sorted by relative path. */
export async function scanModelDirectory(dir: string, options: CallOptions = {}): Promise<ModelFile[]> {
  const root = resolvePath(dir);
  let rootInfo;
  try {
    rootInfo = await lstat(root);
  } catch {
    throw new ModelPackError('BAD_MODEL_DIRECTORY', `model directory ${root} does not exist`);
  }
  if (!rootInfo.isDirectory()) throw new ModelPackError('BAD_MODEL_DIRECTORY', `${root} is not a directory`);
  const paths: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      if (IGNORED_NAMES.has(entry.name)) continue;
      const full = join(current, entry.name);
      const problem = entryNameProblem(relative(root, full).split(sep).join('/'));
      if (problem !== undefined) throw new ModelPackError('BAD_MODEL_DIRECTORY', `${escapeName(relative(root, full))} in ${root}: the name ${problem}; rename it (README "Extraction rules")`);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) paths.push(full);
      else {
        // A symlink could point outside the model, or change between hashing and serving: refuse it.
        const what = entry.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
        throw new ModelPackError('BAD_MODEL_DIRECTORY', `${relative(root, full)} in ${root} is ${what}; only regular files can be packed`);
      }
    }
  };
  await walk(root);
  if (paths.length === 0) throw new ModelPackError('BAD_MODEL_DIRECTORY', `model directory ${root} has no files`);
  const heldBudget = { bytes: MAX_HELD_BYTES };
  const files = await pMap(
    paths,
    async (absolutePath): Promise<ModelFile> => {
      const path = relative(root, absolutePath).split(sep).join('/');
      const { digest, size, bytes } = await hashFile(absolutePath, heldBudget, options.signal);
      const kind = classifyModelFile(path);
      return { path, absolutePath, size, digest, kind, mediaType: rawMediaType(kind), ...(bytes !== undefined ? { bytes } : {}) };
    },
    { concurrency: HASH_CONCURRENCY },
  );
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Build config and manifest bytes for already-scanned files. Pure and deterministic. */
export function buildModelPack(files: readonly ModelFile[], options: ModelPackOptions = {}): BuiltModelPack {
  const layers: Descriptor[] = files.map((f) => ({
    mediaType: f.mediaType,
    digest: f.digest,
    size: f.size,
    annotations: { [FILEPATH_ANNOTATION]: f.path },
  }));
  const format = detectFormat(files.map((f) => f.path));
  const config: ModelPackConfig = {
    descriptor: {
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.version !== undefined ? { version: options.version } : {}),
      ...(options.createdAt !== undefined ? { createdAt: options.createdAt } : {}),
    },
    config: format !== undefined ? { format } : {},
    modelfs: { type: 'layers', diffIds: files.map((f) => f.digest) },
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor: Descriptor = {
    mediaType: ModelPackMediaType.CONFIG,
    digest: digestOf(configBytes),
    size: configBytes.byteLength,
  };
  const annotations = {
    ...(options.createdAt !== undefined ? { [CREATED_ANNOTATION]: options.createdAt } : {}),
    ...options.annotations,
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: ModelPackMediaType.ARTIFACT,
    config: configDescriptor,
    layers,
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDescriptor: Descriptor = {
    mediaType: MediaType.OCI_MANIFEST,
    digest: digestOf(manifestBytes),
    size: manifestBytes.byteLength,
    artifactType: ModelPackMediaType.ARTIFACT,
  };
  return { files, layers, config: { bytes: configBytes, descriptor: configDescriptor }, manifest: { bytes: manifestBytes, descriptor: manifestDescriptor } };
}

export interface PushModelOptions extends ModelPackOptions, CallOptions {
  /** Also point this tag at the pushed manifest. */
  readonly tag?: string;
  /** Blobs uploaded at once (default PUSH_CONCURRENCY). */
  readonly concurrency?: number;
  /** Called once the directory is scanned and hashed, before any upload. */
  readonly onScanned?: (files: readonly ModelFile[]) => void;
  /** Called after each file's blob is in the store (in completion order). */
  readonly onLayer?: (file: ModelFile, descriptor: Descriptor) => void;
  /** Called while a large file uploads, with its bytes stored so far. */
  readonly onLayerProgress?: (file: ModelFile, bytesDone: number) => void;
}

/**
 * Scan `dir`, push every file as a `.raw` layer (small files: the bytes hashed; others re-verified
 * against the digest computed while scanning, so a file changed in between is refused; a blob the store
 * has is not sent again),
 * then the config and, once all blobs are in, the manifest. The first failure aborts the uploads
 * still running and is what the promise rejects with.
 */
export async function pushModelDirectory(store: ArtifactStore, dir: string, options: PushModelOptions = {}): Promise<BuiltModelPack> {
  const call: CallOptions = { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
  const files = await scanModelDirectory(dir, call);
  const built = buildModelPack(files, options);
  options.onScanned?.(files);
  const concurrency = options.concurrency ?? PUSH_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError(`push concurrency must be a positive integer, got ${concurrency}`);
  const failed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  const uploads = [...files, undefined]; // undefined: the config blob
  await pMap(
    uploads,
    async (file) => {
      try {
        if (file === undefined) {
          await store.pushBlob({ kind: 'bytes', bytes: built.config.bytes, mediaType: ModelPackMediaType.CONFIG }, { ...call, signal });
          return;
        }
        const blobOptions: PushBlobOptions = { ...call, signal, ...(options.onLayerProgress ? { onProgress: (done: number) => options.onLayerProgress!(file, done) } : {}) };
        const source = file.bytes !== undefined
          ? ({ kind: 'bytes', bytes: file.bytes, mediaType: file.mediaType } as const)
          : ({ kind: 'file', path: file.absolutePath, digest: file.digest, size: file.size, mediaType: file.mediaType } as const);
        const descriptor = await store.pushBlob(source, blobOptions);
        options.onLayer?.(file, descriptor);
      } catch (err) {
        if (!failed.signal.aborted) failed.abort(err);
        throw err;
      }
    },
    { concurrency },
  );
  await store.pushManifest(built.manifest.bytes, MediaType.OCI_MANIFEST, { ...call, ...(options.tag !== undefined ? { tag: options.tag } : {}) });
  return built;
}
