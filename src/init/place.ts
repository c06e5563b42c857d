/**
 * Placement of a raw layer's file into the staging directory, out of the node cache.
 *
 * Owns: the copy of a cached blob to its path in the model. A published file is always its own copy
 * (a reflink where the file system has them, else a full copy): never a hard link, through which a
 * model container writing to DEST would write into the node cache.
 *  - Small blobs (below `SMALL_BLOB_BYTES`, a model of many small files): read once into memory,
 *    checked against the layer's verified size and SHA-256, and written (O_EXCL) from that same
 *    buffer, synchronously — a few system calls per file instead of a thread-pool round trip per call.
 *    The digest checked is the file's entry in the receipt: the bytes written are the bytes hashed, so
 *    the file table does not read the file again (`PlacedFile`). A cached blob whose content is not the
 *    digest (changed behind the cache's size/mtime/inode record) is reported, never published.
 *  - Larger blobs: `copyFile` (reflink when possible); the file table hashes the copy, and `initModel`
 *    refuses it unless that hash is the layer digest.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import type { Descriptor } from '../oci/manifest.ts';

/** Blobs below this size are placed by `copyVerifiedSync` (read, verify, write from one buffer). */
export const SMALL_BLOB_BYTES = 1024 * 1024;

/** A file this pull wrote into staging whose size and SHA-256 are known from the write itself. */
export interface PlacedFile {
  readonly size: number;
  readonly sha256: string;
}

/** One buffer for every small copy (the copy is synchronous: never shared by two at once); one byte more than the largest small blob, to see a longer file. */
let buffer: Buffer | undefined;

function withPath<T extends Error>(err: T, path: string): T {
  return Object.assign(err, { path: (err as NodeJS.ErrnoException).path ?? path });
}

/**
 * Copy the small blob at `from` to `to` (created, never overwritten, mode 0644) when its content is
 * `descriptor` (size and SHA-256). `absent`: no file at `from`; `mismatch`: its content differs
 * (nothing written). Local failures (ENOSPC, EACCES, …) are thrown as system errors naming the path.
 */
export function copyVerifiedSync(from: string, to: string, descriptor: Descriptor): { kind: 'copied'; placed: PlacedFile } | { kind: 'absent' } | { kind: 'mismatch' } {
  if (descriptor.size >= SMALL_BLOB_BYTES || !descriptor.digest.startsWith('sha256:')) throw new RangeError(`copyVerifiedSync is for SHA-256 blobs below ${SMALL_BLOB_BYTES} bytes`);
  let fd: number;
  try {
    fd = openSync(from, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  buffer ??= Buffer.allocUnsafe(SMALL_BLOB_BYTES + 1);
  let got = 0;
  try {
    // One byte more than the size, to see a longer file; a short read of a regular file is its end.
    const want = descriptor.size + 1;
    while (got < want) {
      const asked = want - got;
      const n = readSync(fd, buffer, got, asked, got);
      got += n;
      if (n < asked) break;
    }
  } catch (err) {
    throw withPath(err as Error, from);
  } finally {
    closeSync(fd);
  }
  if (got !== descriptor.size) return { kind: 'mismatch' };
  const bytes = buffer.subarray(0, got);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (`sha256:${sha256}` !== descriptor.digest) return { kind: 'mismatch' };
  const out = openSync(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    for (let written = 0; written < bytes.length; ) written += writeSync(out, bytes, written, bytes.length - written);
  } catch (err) {
    throw withPath(err as Error, to);
  } finally {
    closeSync(out);
  }
  return { kind: 'copied', placed: { size: got, sha256 } };
}

/** Copy a (large) blob to `to` as its own file: a reflink where the file system has them, else a full copy. */
export async function copyBlob(from: string, to: string): Promise<void> {
  await copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
}
