/**
 * Dataset manifests: a canonical, signable list of every file of a dataset with a Merkle root.
 *
 * Owns: the v1 manifest format, building it from a directory, its canonical bytes, strict parsing,
 * comparing a directory (or another manifest) against it, and inclusion/exclusion proofs.
 *
 * Format v1, media type `application/vnd.modelgate.dataset.manifest.v1+json`. The bytes are the
 * RFC 8785 (JCS) serialisation of
 *   { "mediaType": "application/vnd.modelgate.dataset.manifest.v1+json", "schemaVersion": 1,
 *     "fileCount": n, "totalSize": Σ size, "merkleRoot": "sha256:<hex>",
 *     "files": [ { "path": "a/b.csv", "sha256": "<hex>", "size": 123 }, … ] }
 * - `path`: relative, `/`-separated, the UTF-8 names on disk (see `walk.ts`); `files` is sorted by
 *   the UTF-8 bytes of `path` (not by locale, not by UTF-16 code units), without duplicates.
 * - `merkleRoot`: RFC 6962 Merkle tree hash (SHA-256) over the files in that order, where the data
 *   of leaf i is the UTF-8 bytes of the JCS serialisation of `files[i]`, i.e. exactly
 *   `{"path":"<path>","sha256":"<hex>","size":<size>}`; leaf hash = SHA-256(0x00 || data),
 *   node hash = SHA-256(0x01 || left || right); the empty dataset's root is SHA-256("") = e3b0c442…
 * - No timestamps, host names or walk order leak in: the same tree gives the same bytes everywhere.
 * Readers accept only canonical bytes (optionally followed by one "\n"), so what was signed is what
 * is read, and recompute `merkleRoot`, `fileCount` and `totalSize` from `files`.
 */
import { readFile } from 'node:fs/promises';
import canonicalize from 'canonicalize';
import { digestHex, parseDigest, type Digest } from '../oci/digest.ts';
import { DatasetError } from './errors.ts';
import { hashFilesSha256, type HashFiles } from './hash-files.ts';
import { auditPath, leafHashOfText, rootFromLeafHashes, verifyAuditPath } from './merkle.ts';
import { compareUtf8, listDatasetFiles, type SymlinkPolicy } from './walk.ts';

export const DATASET_MANIFEST_MEDIA_TYPE = 'application/vnd.modelgate.dataset.manifest.v1+json';

export interface DatasetManifestEntry {
  readonly path: string;
  readonly size: number;
  /** Lowercase hex SHA-256 of the content. */
  readonly sha256: string;
}

export interface DatasetManifest {
  readonly mediaType: typeof DATASET_MANIFEST_MEDIA_TYPE;
  readonly schemaVersion: 1;
  readonly fileCount: number;
  readonly totalSize: number;
  readonly merkleRoot: Digest;
  readonly files: readonly DatasetManifestEntry[];
}

function jcs(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new DatasetError('DATASET_BAD_MANIFEST', 'value has no JSON form');
  return text;
}

/**
 * The data of a Merkle leaf: UTF-8 of `{"path":…,"sha256":…,"size":…}` (JCS). For this fixed shape
 * `JSON.stringify` gives the JCS bytes (RFC 8785 takes ECMAScript's string and number serialisation;
 * the keys are written in sorted order; sizes are safe integers; paths are well-formed Unicode, as
 * walk.ts and validatePath guarantee) at a tenth of the generic canonicaliser's cost — it runs once
 * per file.
 */
export function leafData(entry: DatasetManifestEntry): Buffer {
  return Buffer.from(leafText(entry), 'utf8');
}

function leafText(entry: DatasetManifestEntry): string {
  return JSON.stringify({ path: entry.path, sha256: entry.sha256, size: entry.size });
}

/** The RFC 6962 leaf hash of an entry: SHA-256(0x00 || leafData(entry)). */
function entryLeafHash(entry: DatasetManifestEntry): Buffer {
  return leafHashOfText(leafText(entry));
}

/** RFC 6962 root over `entries` (already in manifest order). */
export function merkleRootOf(entries: readonly DatasetManifestEntry[]): Digest {
  return parseDigest(`sha256:${rootFromLeafHashes(entries.map(entryLeafHash)).toString('hex')}`);
}

function validatePath(path: unknown, where: string): asserts path is string {
  if (typeof path !== 'string' || path === '') throw new DatasetError('DATASET_BAD_MANIFEST', `${where}: "path" must be a non-empty string`);
  if (!path.isWellFormed()) throw new DatasetError('DATASET_BAD_MANIFEST', `${where}: "path" is not valid Unicode`);
  if (path.startsWith('/') || path.includes('\0')) throw new DatasetError('DATASET_BAD_MANIFEST', `${where}: "path" ${JSON.stringify(path)} must be relative and free of NUL`);
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new DatasetError('DATASET_BAD_MANIFEST', `${where}: "path" ${JSON.stringify(path)} has an empty, "." or ".." segment`);
    }
  }
}

function validateEntry(value: unknown, where: string): DatasetManifestEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DatasetError('DATASET_BAD_MANIFEST', `${where} is not an object`);
  const record = value as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => k !== 'path' && k !== 'size' && k !== 'sha256');
  if (extra.length > 0) throw new DatasetError('DATASET_BAD_MANIFEST', `${where} has unknown field(s) ${extra.join(', ')}`);
  validatePath(record.path, where);
  if (typeof record.size !== 'number' || !Number.isSafeInteger(record.size) || record.size < 0) {
    throw new DatasetError('DATASET_BAD_MANIFEST', `${where}: "size" must be a non-negative integer`);
  }
  if (typeof record.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(record.sha256)) {
    throw new DatasetError('DATASET_BAD_MANIFEST', `${where}: "sha256" must be 64 lowercase hex characters`);
  }
  return { path: record.path, size: record.size, sha256: record.sha256 };
}

/** Build a manifest from entries in any order (sorted here; duplicates and bad paths refused). */
export function createDatasetManifest(entries: readonly DatasetManifestEntry[]): DatasetManifest {
  const files = entries.map((e, i) => validateEntry(e, `files[${i}]`)).sort((a, b) => compareUtf8(a.path, b.path));
  let totalSize = 0;
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as DatasetManifestEntry;
    if (i > 0 && (files[i - 1] as DatasetManifestEntry).path === file.path) throw new DatasetError('DATASET_BAD_MANIFEST', `duplicate path ${JSON.stringify(file.path)}`);
    totalSize += file.size;
  }
  if (!Number.isSafeInteger(totalSize)) throw new DatasetError('DATASET_BAD_MANIFEST', 'total size exceeds 2^53 bytes');
  return { mediaType: DATASET_MANIFEST_MEDIA_TYPE, schemaVersion: 1, fileCount: files.length, totalSize, merkleRoot: merkleRootOf(files), files };
}

/**
 * The canonical bytes of a manifest (RFC 8785), no trailing newline. The top level goes through the
 * generic canonicaliser with an empty `files` array, and the entries are spliced in with the
 * per-entry JCS form of `leafData` (the generic canonicaliser cost ~10 µs per file; tested equal).
 */
export function serializeDatasetManifest(manifest: DatasetManifest): Buffer {
  const head = jcs({
    mediaType: manifest.mediaType,
    schemaVersion: manifest.schemaVersion,
    fileCount: manifest.fileCount,
    totalSize: manifest.totalSize,
    merkleRoot: manifest.merkleRoot,
    files: [],
  });
  const at = head.indexOf('"files":[]') + '"files":['.length; // top-level keys are fixed: `files` appears once
  return Buffer.from(`${head.slice(0, at)}${manifest.files.map(leafText).join(',')}${head.slice(at)}`, 'utf8');
}

const TOP_LEVEL_FIELDS = ['fileCount', 'files', 'mediaType', 'merkleRoot', 'schemaVersion', 'totalSize'];

/** Parse and fully check manifest bytes. Throws DatasetError DATASET_BAD_MANIFEST naming what is wrong. */
export function parseDatasetManifest(bytes: Uint8Array | string): DatasetManifest {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
  const body = buffer.at(-1) === 0x0a ? buffer.subarray(0, -1) : buffer;
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new DatasetError('DATASET_BAD_MANIFEST', `manifest is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new DatasetError('DATASET_BAD_MANIFEST', 'manifest is not a JSON object');
  const record = json as Record<string, unknown>;
  if (record.mediaType !== DATASET_MANIFEST_MEDIA_TYPE) {
    throw new DatasetError('DATASET_BAD_MANIFEST', `unsupported mediaType ${JSON.stringify(record.mediaType)} (expected ${DATASET_MANIFEST_MEDIA_TYPE})`);
  }
  if (record.schemaVersion !== 1) throw new DatasetError('DATASET_BAD_MANIFEST', `unsupported schemaVersion ${JSON.stringify(record.schemaVersion)} (expected 1)`);
  const unknown = Object.keys(record).filter((k) => !TOP_LEVEL_FIELDS.includes(k));
  if (unknown.length > 0) throw new DatasetError('DATASET_BAD_MANIFEST', `unknown top-level field(s) ${unknown.join(', ')}`);
  if (!Array.isArray(record.files)) throw new DatasetError('DATASET_BAD_MANIFEST', '"files" must be an array');
  const files = record.files.map((f, i) => validateEntry(f, `files[${i}]`));
  for (let i = 1; i < files.length; i++) {
    if (compareUtf8((files[i - 1] as DatasetManifestEntry).path, (files[i] as DatasetManifestEntry).path) >= 0) {
      throw new DatasetError('DATASET_BAD_MANIFEST', `files are not sorted by UTF-8 path bytes without duplicates at files[${i}] (${JSON.stringify((files[i] as DatasetManifestEntry).path)})`);
    }
  }
  const rebuilt = createDatasetManifest(files);
  if (record.fileCount !== rebuilt.fileCount) throw new DatasetError('DATASET_BAD_MANIFEST', `fileCount ${JSON.stringify(record.fileCount)} does not match the ${rebuilt.fileCount} files listed`);
  if (record.totalSize !== rebuilt.totalSize) throw new DatasetError('DATASET_BAD_MANIFEST', `totalSize ${JSON.stringify(record.totalSize)} does not match the listed sizes (${rebuilt.totalSize})`);
  if (record.merkleRoot !== rebuilt.merkleRoot) {
    throw new DatasetError('DATASET_BAD_MANIFEST', `merkleRoot ${JSON.stringify(record.merkleRoot)} does not match the listed files (${rebuilt.merkleRoot})`);
  }
  if (!serializeDatasetManifest(rebuilt).equals(body)) {
    throw new DatasetError('DATASET_BAD_MANIFEST', 'manifest is not in canonical form (RFC 8785 JCS, as `modelgate dataset manifest` writes it)');
  }
  return rebuilt;
}

export async function readDatasetManifest(path: string): Promise<DatasetManifest> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new DatasetError('DATASET_IO', `cannot read manifest ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return parseDatasetManifest(bytes);
}

export interface BuildOptions {
  readonly symlinks?: SymlinkPolicy;
  /** Hash implementation; default: the shared worker-thread pool. */
  readonly hashFiles?: HashFiles;
  /** Progress: bytes hashed so far out of the total. */
  readonly onProgress?: (bytesDone: number, totalBytes: number) => void;
  readonly signal?: AbortSignal;
}

/** Hash the listed files; a size that changed since listing means the dataset is being written to. */
async function hashListed(files: readonly { path: string; absolutePath: string; size: number }[], options: BuildOptions): Promise<DatasetManifestEntry[]> {
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const hashFiles = options.hashFiles ?? hashFilesSha256;
  let digests;
  try {
    digests = await hashFiles(
      files.map((f) => f.absolutePath),
      {
        totalBytes,
        sizes: files.map((f) => f.size),
        ...(options.onProgress === undefined ? {} : { onProgress: (done: number) => options.onProgress?.(done, totalBytes) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError('DATASET_IO', `hashing the dataset failed: ${(err as Error).message}`, { cause: err });
  }
  return files.map((file, i) => {
    const digest = digests[i];
    if (digest === undefined) throw new DatasetError('DATASET_IO', `no digest was returned for ${file.path}`);
    if (digest.bytes !== file.size) {
      throw new DatasetError('CHANGED_DURING_SCAN', `${file.path} changed size while it was being hashed (${file.size} → ${digest.bytes} bytes); is the dataset still being written?`);
    }
    return { path: file.path, size: digest.bytes, sha256: digest.sha256 };
  });
}

/** List and hash every regular file under `root` and build its manifest. */
export async function buildDatasetManifest(root: string, options: BuildOptions = {}): Promise<DatasetManifest> {
  const files = await listDatasetFiles(root, options.symlinks === undefined ? {} : { symlinks: options.symlinks });
  return createDatasetManifest(await hashListed(files, options));
}

/** One difference between a manifest and a directory (or a second manifest), by path. */
export type DatasetChange =
  | { readonly kind: 'added'; readonly path: string; readonly actual: { readonly size: number; readonly sha256?: string } }
  | { readonly kind: 'removed'; readonly path: string; readonly expected: DatasetManifestEntry }
  | { readonly kind: 'changed'; readonly path: string; readonly expected: DatasetManifestEntry; readonly actual: { readonly size: number; readonly sha256?: string } };

/** All differences, sorted by path; empty when identical. `sha256` is omitted where hashing was not needed. */
export function diffDatasetManifests(expected: DatasetManifest, actual: DatasetManifest): DatasetChange[] {
  const byPath = new Map(expected.files.map((f) => [f.path, f]));
  const changes: DatasetChange[] = [];
  for (const file of actual.files) {
    const old = byPath.get(file.path);
    if (old === undefined) changes.push({ kind: 'added', path: file.path, actual: { size: file.size, sha256: file.sha256 } });
    else if (old.size !== file.size || old.sha256 !== file.sha256) changes.push({ kind: 'changed', path: file.path, expected: old, actual: { size: file.size, sha256: file.sha256 } });
    byPath.delete(file.path);
  }
  for (const old of byPath.values()) changes.push({ kind: 'removed', path: old.path, expected: old });
  return changes.sort((a, b) => compareUtf8(a.path, b.path));
}

/**
 * Compare the directory `root` with `manifest`. Files whose size already differs, and added files,
 * are not hashed; every other file is hashed exactly once.
 */
export async function verifyDatasetDirectory(root: string, manifest: DatasetManifest, options: BuildOptions = {}): Promise<DatasetChange[]> {
  const listed = await listDatasetFiles(root, options.symlinks === undefined ? {} : { symlinks: options.symlinks });
  const expected = new Map(manifest.files.map((f) => [f.path, f]));
  const changes: DatasetChange[] = [];
  const toHash: typeof listed = [];
  for (const file of listed) {
    const old = expected.get(file.path);
    if (old === undefined) changes.push({ kind: 'added', path: file.path, actual: { size: file.size } });
    else if (old.size !== file.size) changes.push({ kind: 'changed', path: file.path, expected: old, actual: { size: file.size } });
    else toHash.push(file);
    expected.delete(file.path);
  }
  for (const old of expected.values()) changes.push({ kind: 'removed', path: old.path, expected: old });
  const hashed = await hashListed(toHash, options);
  const manifestByPath = new Map(manifest.files.map((f) => [f.path, f]));
  for (const entry of hashed) {
    const old = manifestByPath.get(entry.path) as DatasetManifestEntry;
    if (old.sha256 !== entry.sha256) changes.push({ kind: 'changed', path: entry.path, expected: old, actual: { size: entry.size, sha256: entry.sha256 } });
  }
  return changes.sort((a, b) => compareUtf8(a.path, b.path));
}

/** Proof that one file entry is in the manifest whose root is `root` (RFC 6962 audit path). */
export interface InclusionProof {
  readonly entry: DatasetManifestEntry;
  readonly leafIndex: number;
  readonly treeSize: number;
  /** Sibling hashes, leaf to root, lowercase hex. */
  readonly hashes: readonly string[];
}

/**
 * Proof that `path` is NOT in the manifest: the inclusion proofs of its neighbours in sort order
 * (none before it → `before` absent; none after → `after` absent; empty manifest → both absent).
 */
export interface ExclusionProof {
  readonly path: string;
  readonly treeSize: number;
  readonly before?: InclusionProof;
  readonly after?: InclusionProof;
}

function proofAt(manifest: DatasetManifest, leafHashes: readonly Buffer[], index: number): InclusionProof {
  return {
    entry: manifest.files[index] as DatasetManifestEntry,
    leafIndex: index,
    treeSize: manifest.files.length,
    hashes: auditPath(leafHashes, index).map((h) => h.toString('hex')),
  };
}

function leafHashesOf(manifest: DatasetManifest): Buffer[] {
  return manifest.files.map(entryLeafHash);
}

/** Index of the first entry whose path is ≥ `path` (binary search over UTF-8 order). */
function lowerBound(files: readonly DatasetManifestEntry[], path: string): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8((files[mid] as DatasetManifestEntry).path, path) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inclusion proof for `path`. Throws NOT_IN_MANIFEST when the manifest does not list it. */
export function inclusionProof(manifest: DatasetManifest, path: string): InclusionProof {
  const index = lowerBound(manifest.files, path);
  if (manifest.files[index]?.path !== path) throw new DatasetError('NOT_IN_MANIFEST', `${JSON.stringify(path)} is not in the manifest`);
  return proofAt(manifest, leafHashesOf(manifest), index);
}

/**
 * What a proof is checked against: the signed manifest's root and file count. The count matters: an
 * RFC 6962 root alone does not fix the tree size, so without it a leaf's claimed index could shift.
 * A `DatasetManifest` is a `TreeHead`.
 */
export interface TreeHead {
  readonly merkleRoot: Digest | string;
  readonly fileCount: number;
}

function rootBytes(root: Digest | string): Buffer | undefined {
  if (!root.startsWith('sha256:')) return undefined;
  try {
    return Buffer.from(digestHex(parseDigest(root)), 'hex');
  } catch {
    return undefined;
  }
}

/** Does `proof` show its entry at its index in the tree `head`? Never throws. */
export function verifyInclusion(proof: InclusionProof, head: TreeHead): boolean {
  const expectedRoot = rootBytes(head.merkleRoot);
  if (expectedRoot === undefined || proof.treeSize !== head.fileCount) return false;
  let entry: DatasetManifestEntry;
  try {
    entry = validateEntry(proof.entry, 'entry');
  } catch {
    return false;
  }
  if (!Array.isArray(proof.hashes) || !proof.hashes.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) return false;
  return verifyAuditPath(entryLeafHash(entry), proof.leafIndex, proof.treeSize, proof.hashes.map((h) => Buffer.from(h, 'hex')), expectedRoot);
}

/**
 * Exclusion proof for `path` (sound because valid manifests are strictly sorted, which `parseDatasetManifest`
 * enforces before a root is trusted). Throws IN_MANIFEST when `path` is listed.
 */
export function exclusionProof(manifest: DatasetManifest, path: string): ExclusionProof {
  const index = lowerBound(manifest.files, path);
  if (manifest.files[index]?.path === path) throw new DatasetError('IN_MANIFEST', `${JSON.stringify(path)} is in the manifest; it has an inclusion proof, not an exclusion proof`);
  const leafHashes = leafHashesOf(manifest);
  return {
    path,
    treeSize: manifest.files.length,
    ...(index > 0 ? { before: proofAt(manifest, leafHashes, index - 1) } : {}),
    ...(index < manifest.files.length ? { after: proofAt(manifest, leafHashes, index) } : {}),
  };
}

/** Does `proof` show that `proof.path` is absent from the tree `head`? Never throws. */
export function verifyExclusion(proof: ExclusionProof, head: TreeHead): boolean {
  const { before, after, treeSize, path } = proof;
  if (typeof path !== 'string' || !path.isWellFormed() || treeSize !== head.fileCount) return false;
  if (treeSize === 0) return before === undefined && after === undefined && rootBytes(head.merkleRoot)?.equals(rootFromLeafHashes([])) === true;
  if (before !== undefined && (!verifyInclusion(before, head) || compareUtf8(before.entry.path, path) >= 0)) return false;
  if (after !== undefined && (!verifyInclusion(after, head) || compareUtf8(path, after.entry.path) >= 0)) return false;
  if (before === undefined && after === undefined) return false;
  if (before === undefined) return after?.leafIndex === 0;
  if (after === undefined) return before.leafIndex === treeSize - 1;
  return after.leafIndex === before.leafIndex + 1;
}
