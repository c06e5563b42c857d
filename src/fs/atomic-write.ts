/**
 * Atomic publication of small files (keys, manifests, bundles) written by the CLI.
 *
 * Owns: `writeFileAtomic`: the content goes to a temporary file in the destination directory
 * (created with the final mode, filtered by the umask, so a private key is never readable by
 * others, not even briefly), is fsynced, then published in one step: `rename` when overwriting is allowed, `link` when it is
 * not (link fails with EEXIST atomically, so a concurrent writer can never be clobbered). Readers
 * see either the old file, no file, or the complete new file: never a partial one.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the published file (the umask can only remove bits); default 0o644. Use 0o600 for secrets. */
  readonly mode?: number;
  /** Replace an existing file; default false (fail with an EEXIST error instead). */
  readonly overwrite?: boolean;
}

/**
 * Write `data` to `path` atomically. Without `overwrite`, an existing `path` makes it throw the
 * system error with `code === 'EEXIST'` and leaves the existing file untouched.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const mode = options.mode ?? 0o644;
  const directory = dirname(path);
  const temp = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  let published = false;
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.overwrite === true) {
      await rename(temp, path);
      published = true;
    } else {
      await link(temp, path);
    }
    await syncDirectory(directory);
  } finally {
    if (!published) await unlink(temp).catch(() => {});
  }
}

async function syncDirectory(directory: string): Promise<void> {
  // Some file systems refuse fsync on directories; the rename/link itself is still atomic.
  try {
    const dir = await open(directory, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* best effort */
  }
}
