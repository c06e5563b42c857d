/**
 * RFC 6962 / RFC 9162 Merkle tree hashing over SHA-256: tree head, audit paths, path verification.
 *
 * Owns: the tree arithmetic only (no notion of files). Definitions (RFC 6962 §2.1):
 *   MTH({})        = SHA-256()                          (the empty string: e3b0c442…b855)
 *   MTH({d0})      = SHA-256(0x00 || d0)                (leaf hash)
 *   MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k = largest power of two < n
 * Audit paths are RFC 6962 §2.1.1 `PATH(m, D[n])` (leaf-to-root order); verification is the
 * RFC 9162 §2.1.3.2 algorithm, which also pins the path length to the tree size.
 *
 * Why hand-written: ~80 lines over `node:crypto`; the npm Merkle libraries either do not follow
 * RFC 6962's split rule and domain separation, or pull in a large dependency tree.
 */
import { createHash, hash } from 'node:crypto';

export const HASH_BYTES = 32;

// One-shot `crypto.hash` over a reused scratch buffer: a `createHash` object per node cost several
// times more than the hashing itself (20k-file manifests build ~40k nodes and leaves).
const nodeInput = Buffer.alloc(1 + 2 * HASH_BYTES, 0x01);

/** SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0x00)).update(data).digest();
}

/** SHA-256(0x00 || UTF-8 of `text`): a leaf over a string, without building its bytes first. */
export function leafHashOfText(text: string): Buffer {
  return hash('sha256', `\0${text}`, 'buffer');
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) return createHash('sha256').update(Buffer.of(0x01)).update(left).update(right).digest();
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_BYTES);
  return hash('sha256', nodeInput, 'buffer');
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * MTH over already-computed leaf hashes. Computed level by level, an unpaired last node carried up
 * unchanged: the same tree as the recursive definition's split at the largest power of two (each
 * level pairs nodes from the left, so every complete subtree of 2^j leaves is formed before the
 * ragged right edge is joined), without recursion or a copy of every leaf.
 */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Buffer {
  if (leafHashes.length === 0) return createHash('sha256').digest();
  let level = leafHashes;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
    level = next;
  }
  return Buffer.from(level[0] as Uint8Array);
}

/** MTH over leaf data entries (each is hashed with `leafHash`). */
export function merkleTreeHash(leaves: readonly Uint8Array[]): Buffer {
  return rootFromLeafHashes(leaves.map(leafHash));
}

function subtreeRoot(hashes: readonly Uint8Array[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 1) return Buffer.from(hashes[start] as Uint8Array);
  const k = splitPoint(n);
  return nodeHash(subtreeRoot(hashes, start, start + k), subtreeRoot(hashes, start + k, end));
}

/** RFC 6962 `PATH(index, D[n])`: sibling hashes from the leaf up to the root. */
export function auditPath(leafHashes: readonly Uint8Array[], index: number): Buffer[] {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafHashes.length) {
    throw new RangeError(`leaf index ${index} is outside a tree of ${leafHashes.length} leaves`);
  }
  const path: Buffer[] = [];
  collectPath(leafHashes, index, 0, leafHashes.length, path);
  return path;
}

function collectPath(hashes: readonly Uint8Array[], index: number, start: number, end: number, path: Buffer[]): void {
  const n = end - start;
  if (n <= 1) return;
  const k = splitPoint(n);
  if (index - start < k) {
    collectPath(hashes, index, start, start + k, path);
    path.push(subtreeRoot(hashes, start + k, end));
  } else {
    collectPath(hashes, index, start + k, end, path);
    path.push(subtreeRoot(hashes, start, start + k));
  }
}

/**
 * RFC 9162 §2.1.3.2: does `path` prove that the leaf with hash `leaf` sits at `index` in a tree of
 * `treeSize` leaves whose root is `root`? Never throws; malformed input is simply not a proof.
 */
export function verifyAuditPath(leaf: Uint8Array, index: number, treeSize: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false;
  if (leaf.length !== HASH_BYTES || root.length !== HASH_BYTES || path.some((p) => p.length !== HASH_BYTES)) return false;
  // BigInt keeps the bit arithmetic exact beyond 2^31 leaves.
  let fn = BigInt(index);
  let sn = BigInt(treeSize - 1);
  let r: Buffer = Buffer.from(leaf);
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.equals(root);
}
