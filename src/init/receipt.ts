/**
 * The receipt `DEST/.modelgate/receipt.json`: a typed, versioned record of what init verified and
 * published, and the proof that a published DEST still holds exactly those bytes.
 *
 * Owns: the `Receipt` type (schema `modelgate.dev/init-receipt/v1`), its parsing (anything else —
 * an older receipt, a field of the wrong type — is not a receipt, so DEST is published again), the
 * file table (`files`: every regular file with size and SHA-256, every symlink with its target; a
 * file init wrote from bytes it hashed as it wrote them is not read again) and
 * `checkPublished`, which a restart runs before it reports `reused: true`:
 *  - the receipt names the verified digest and exactly the verified manifest's layers;
 *  - every raw layer's file is in the table with the layer's own digest and size (bound to the
 *    signed manifest, not to the receipt);
 *  - DEST holds exactly the table's files and symlinks (none missing, none added), and every file is
 *    re-hashed and matches its size and SHA-256.
 * A re-hash rather than a record of sizes/mtimes: DEST is a volume the model container shares and can
 * write (there is no place in it only init can write, and the node cache is optional), and a write
 * that keeps size and mtime (or resets them) must not pass. The cost is reading every byte once on a
 * restart (README "Reuse of a published DEST"). What it cannot catch: a writer inside the pod that
 * changes a tar-extracted file *and* recomputes its entry in the receipt — that is code already
 * running in the pod, which could serve anything anyway; raw layers are checked against the manifest.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { hashJobs } from '../hashing/pool.ts';
import { isRecord } from '../evidence/json.ts';
import type { ModelSigner } from '../oms/signature.ts';

export const RECEIPT_SCHEMA = 'modelgate.dev/init-receipt/v1';

export interface ReceiptFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export interface ReceiptSymlink {
  readonly path: string;
  readonly target: string;
}

export interface ReceiptLayer {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
}

/** What the receipt records of a model signature verified against the published files. */
export interface ModelSignatureRecord {
  readonly method: string;
  readonly signer: ModelSigner;
  readonly modelName: string;
  readonly modelDigest: string | null;
  readonly files: number;
  readonly verifiedAgainst: 'files';
}

export interface Receipt {
  readonly schema: typeof RECEIPT_SCHEMA;
  readonly uri: string;
  readonly digest: Digest;
  readonly decision: 'allow';
  readonly stage: 'before-publish';
  readonly time: string;
  readonly policy: Record<string, unknown>;
  readonly warnings: readonly unknown[];
  readonly exceptions: readonly unknown[];
  readonly modelSignature: ModelSignatureRecord | null;
  readonly evidence: Record<string, unknown> | null;
  readonly layers: readonly ReceiptLayer[];
  readonly files: readonly ReceiptFile[];
  readonly symlinks: readonly ReceiptSymlink[];
  readonly bytesDownloaded: number;
  /** False when the blobs were not kept in a node cache (none configured, or unusable). */
  readonly cached: boolean;
}

const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function isModelSigner(v: unknown): v is ModelSigner {
  if (!isRecord(v)) return false;
  switch (v.kind) {
    case 'key':
      return typeof v.keyId === 'string';
    case 'certificate':
      return typeof v.subject === 'string' && typeof v.fingerprint256 === 'string' && isSize(v.chainLength);
    case 'sigstore':
      return typeof v.identity === 'string' && typeof v.issuer === 'string';
    default:
      return false;
  }
}

function isModelSignatureRecord(v: unknown): v is ModelSignatureRecord {
  return (
    isRecord(v) &&
    typeof v.method === 'string' &&
    isModelSigner(v.signer) &&
    typeof v.modelName === 'string' &&
    (v.modelDigest === null || typeof v.modelDigest === 'string') &&
    isSize(v.files) &&
    v.verifiedAgainst === 'files'
  );
}

/** The receipt in `value`, or why it is not one (not this version, a field missing or mistyped). */
export function parseReceipt(value: unknown): Receipt | string {
  if (!isRecord(value)) return 'not a JSON object';
  if (value.schema !== RECEIPT_SCHEMA) return `schema ${JSON.stringify(value.schema ?? null)} is not ${RECEIPT_SCHEMA}`;
  if (typeof value.uri !== 'string' || typeof value.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(value.digest)) return 'uri or digest missing';
  if (value.decision !== 'allow' || value.stage !== 'before-publish' || typeof value.time !== 'string') return 'not an allow decision before publication';
  if (!isRecord(value.policy) || !Array.isArray(value.warnings) || !Array.isArray(value.exceptions)) return 'policy, warnings or exceptions mistyped';
  if (value.modelSignature !== null && !isModelSignatureRecord(value.modelSignature)) return 'modelSignature mistyped';
  if (value.evidence !== null && !isRecord(value.evidence)) return 'evidence mistyped';
  if (!Array.isArray(value.layers) || !value.layers.every((l) => isRecord(l) && typeof l.digest === 'string' && isSize(l.size) && typeof l.mediaType === 'string')) return 'layers mistyped';
  if (!Array.isArray(value.files) || !value.files.every((f) => isRecord(f) && typeof f.path === 'string' && isSize(f.size) && typeof f.sha256 === 'string' && /^[0-9a-f]{64}$/.test(f.sha256))) return 'files mistyped';
  if (!Array.isArray(value.symlinks) || !value.symlinks.every((l) => isRecord(l) && typeof l.path === 'string' && typeof l.target === 'string')) return 'symlinks mistyped';
  if (!isSize(value.bytesDownloaded) || typeof value.cached !== 'boolean') return 'bytesDownloaded or cached mistyped';
  return value as unknown as Receipt;
}

/**
 * Every regular file and symlink under `root` (relative `/` paths), skipping the top-level names `skip`
 * accepts; the size of a file in `known` is taken from it (no `lstat`).
 */
async function listTree(root: string, skip: (topLevelName: string) => boolean, known?: ReadonlyMap<string, { readonly size: number }>): Promise<{ files: Array<{ path: string; size: number }>; symlinks: ReceiptSymlink[]; other: string[] }> {
  const files: Array<{ path: string; size: number }> = [];
  const symlinks: ReceiptSymlink[] = [];
  const other: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (prefix === '' && skip(entry.name)) continue;
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, path);
      else if (entry.isSymbolicLink()) symlinks.push({ path, target: await readlink(full) });
      else if (entry.isFile()) files.push({ path, size: known?.get(path)?.size ?? (await lstat(full)).size });
      else other.push(path);
    }
  };
  await walk(root, '');
  const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { files: files.sort(byPath), symlinks: symlinks.sort(byPath), other };
}

/**
 * The file table of the staged model in `root`: every file hashed once, in parallel, except those in
 * `placed` — files this pull wrote itself from bytes it hashed as it wrote them (`src/init/place.ts`),
 * whose size and SHA-256 are those of the write.
 */
export async function fileTable(root: string, skip: (topLevelName: string) => boolean, signal?: AbortSignal, placed?: ReadonlyMap<string, { readonly size: number; readonly sha256: string }>): Promise<{ files: ReceiptFile[]; symlinks: ReceiptSymlink[] }> {
  const tree = await listTree(root, skip, placed);
  const unknown = tree.files.filter((f) => placed?.get(f.path) === undefined);
  const outcomes = await hashJobs(
    unknown.map((f) => ({ kind: 'file' as const, path: join(root, f.path), algorithm: 'sha256' as const })),
    signal ? { signal } : {},
  );
  const hashed = new Map(unknown.map((f, i) => [f.path, outcomes[i]!.hex]));
  return { files: tree.files.map((f) => ({ path: f.path, size: f.size, sha256: placed?.get(f.path)?.sha256 ?? hashed.get(f.path)! })), symlinks: tree.symlinks };
}

/** A raw layer's published path, for the manifest binding of `checkPublished`. */
export interface RawPlacement {
  readonly descriptor: Descriptor;
  readonly path: string;
}

/**
 * Why the model published at `dest` under `receipt` is not exactly the verified one, or undefined
 * when every byte checks out (see the module comment).
 */
export async function checkPublished(dest: string, receipt: Receipt, digest: Digest, layers: readonly Descriptor[], raw: readonly RawPlacement[], skip: (topLevelName: string) => boolean, signal?: AbortSignal): Promise<string | undefined> {
  if (receipt.digest !== digest) return `the receipt names ${receipt.digest}, not ${digest}`;
  const same = receipt.layers.length === layers.length && receipt.layers.every((l, i) => l.digest === layers[i]!.digest && l.size === layers[i]!.size && l.mediaType === layers[i]!.mediaType);
  if (!same) return 'the receipt does not list the verified manifest\'s layers';
  const recorded = new Map(receipt.files.map((f) => [f.path, f]));
  for (const r of raw) {
    const file = recorded.get(r.path);
    if (file === undefined || `sha256:${file.sha256}` !== r.descriptor.digest || file.size !== r.descriptor.size) return `the receipt's entry for ${r.path} is not layer ${r.descriptor.digest}`;
  }
  let tree;
  try {
    tree = await listTree(dest, skip);
  } catch (err) {
    return `cannot list ${dest}: ${(err as Error).message}`;
  }
  if (tree.other.length > 0) return `${tree.other[0]} is neither a file, a directory nor a symlink`;
  const paths = (xs: ReadonlyArray<{ path: string }>): string => xs.map((x) => x.path).join('\0');
  if (paths(tree.files) !== paths([...receipt.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)))) {
    const present = new Set(tree.files.map((f) => f.path));
    const missing = receipt.files.find((f) => !present.has(f.path));
    const added = tree.files.find((f) => !recorded.has(f.path));
    return missing !== undefined ? `${missing.path} is missing` : `${added?.path ?? 'a file'} was added`;
  }
  const links = new Map(receipt.symlinks.map((l) => [l.path, l.target]));
  if (tree.symlinks.length !== links.size || tree.symlinks.some((l) => links.get(l.path) !== l.target)) return 'a symlink was added, removed or changed';
  const sized = tree.files.find((f) => f.size !== recorded.get(f.path)!.size);
  if (sized !== undefined) return `${sized.path} changed size`;
  let outcomes;
  try {
    outcomes = await hashJobs(
      tree.files.map((f) => ({ kind: 'file' as const, path: join(dest, f.path), algorithm: 'sha256' as const })),
      signal ? { signal } : {},
    );
  } catch (err) {
    return `cannot re-hash ${dest}: ${(err as Error).message}`;
  }
  const changed = tree.files.find((f, i) => outcomes[i]!.hex !== recorded.get(f.path)!.sha256);
  return changed === undefined ? undefined : `${changed.path} changed (SHA-256 differs from the receipt)`;
}
