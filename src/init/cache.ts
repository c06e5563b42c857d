/**
 * The node cache of verified blobs, shared by every init container on the node.
 *
 * Owns: the layout `blobs/sha256/<hex>` + `records/sha256/<hex>.json` + `locks/<hex>.lock`, the
 * per-blob lock (one downloader per digest across processes; a lock whose owner died is taken over),
 * trust of entries and size-bounded LRU eviction. A blob is trusted only when its record exists: the
 * record is written by this tool after the registry client verified digest and size, and it pins the
 * file's size, mtime and inode, so a file changed or replaced behind our back is dropped and fetched
 * again. `rehash` re-hashes every blob in parallel (`src/hashing/`) and drops the ones that no longer
 * match their digest.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { hashJobs } from '../hashing/pool.ts';
import { InitError } from './errors.ts';

interface BlobRecord {
  readonly digest: Digest;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly verifiedAt: string;
  readonly lastUsed: string;
}

export interface CacheUse {
  readonly path: string;
  /** True when the blob was already cached (no download). */
  readonly reused: boolean;
}

const LOCK_POLL_MS = 100;

function hexOf(digest: Digest): string {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' || hex === undefined || !/^[0-9a-f]{64}$/.test(hex)) throw new InitError('CACHE', `unsupported digest ${digest} for the cache`);
  return hex;
}

/** True while a process with this PID exists in our PID namespace (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class BlobCache {
  readonly root: string;
  readonly maxBytes: number;

  constructor(root: string, maxBytes = Number.MAX_SAFE_INTEGER) {
    this.root = root;
    this.maxBytes = maxBytes;
  }

  blobPath(digest: Digest): string {
    return join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  #recordPath(digest: Digest): string {
    return join(this.root, 'records', 'sha256', `${hexOf(digest)}.json`);
  }

  async init(): Promise<void> {
    for (const dir of ['blobs/sha256', 'records/sha256', 'locks']) await mkdir(join(this.root, dir), { recursive: true });
  }

  /** True when `descriptor`'s blob is cached and its record matches the file (size, mtime, inode). */
  async #trusted(descriptor: Descriptor): Promise<boolean> {
    let record: BlobRecord;
    try {
      record = JSON.parse(await readFile(this.#recordPath(descriptor.digest), 'utf8')) as BlobRecord;
    } catch {
      return false;
    }
    try {
      const st = await stat(this.blobPath(descriptor.digest));
      return record.digest === descriptor.digest && record.size === descriptor.size && st.size === record.size && st.mtimeMs === record.mtimeMs && st.ino === record.ino;
    } catch {
      return false;
    }
  }

  async #writeRecord(descriptor: Descriptor, verifiedAt: string): Promise<void> {
    const st = await stat(this.blobPath(descriptor.digest));
    const record: BlobRecord = { digest: descriptor.digest, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, verifiedAt, lastUsed: new Date().toISOString() };
    await writeFileAtomic(this.#recordPath(descriptor.digest), JSON.stringify(record), { overwrite: true });
  }

  async #drop(digest: Digest): Promise<void> {
    await unlink(this.#recordPath(digest)).catch(() => {});
    await unlink(this.blobPath(digest)).catch(() => {});
  }

  /** Hold the lock of `digest` while `work` runs (waits for another holder; takes over a dead one's lock). */
  async #withLock<T>(digest: Digest, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const lockPath = join(this.root, 'locks', `${hexOf(digest)}.lock`);
    for (;;) {
      signal?.throwIfAborted();
      try {
        const handle = await open(lockPath, 'wx');
        await handle.writeFile(`${process.pid} ${randomBytes(4).toString('hex')}`);
        await handle.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new InitError('CACHE', `cannot lock ${lockPath}: ${(err as Error).message}`, { cause: err });
      }
      const owner = Number.parseInt((await readFile(lockPath, 'utf8').catch(() => '')).split(' ')[0] ?? '', 10);
      if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) {
        await unlink(lockPath).catch(() => {});
        continue;
      }
      await sleep(LOCK_POLL_MS);
    }
    try {
      return await work();
    } finally {
      await unlink(lockPath).catch(() => {});
    }
  }

  /**
   * The path of a trusted copy of `descriptor`'s blob, downloading it with `download(path)` (which
   * must verify digest and size before the file appears at `path`) when it is not cached yet.
   */
  async obtain(descriptor: Descriptor, download: (path: string) => Promise<void>, signal?: AbortSignal): Promise<CacheUse> {
    return this.#withLock(
      descriptor.digest,
      async () => {
        const path = this.blobPath(descriptor.digest);
        if (await this.#trusted(descriptor)) {
          await this.#touch(descriptor);
          return { path, reused: true };
        }
        await this.#drop(descriptor.digest);
        await this.#removePartials(descriptor.digest); // left by a holder that died mid-download
        await download(path);
        await this.#writeRecord(descriptor, new Date().toISOString());
        return { path, reused: false };
      },
      signal,
    );
  }

  async #removePartials(digest: Digest): Promise<void> {
    const dir = join(this.root, 'blobs', 'sha256');
    const prefix = `.${hexOf(digest)}.`;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith(prefix) && name.endsWith('.partial')) await unlink(join(dir, name)).catch(() => {});
    }
  }

  async #touch(descriptor: Descriptor): Promise<void> {
    try {
      const record = JSON.parse(await readFile(this.#recordPath(descriptor.digest), 'utf8')) as BlobRecord;
      await writeFileAtomic(this.#recordPath(descriptor.digest), JSON.stringify({ ...record, lastUsed: new Date().toISOString() }), { overwrite: true });
    } catch {
      /* recency is advisory */
    }
  }

  async #entries(): Promise<Array<{ digest: Digest; size: number; lastUsed: string }>> {
    const names = await readdir(join(this.root, 'records', 'sha256')).catch(() => [] as string[]);
    const out: Array<{ digest: Digest; size: number; lastUsed: string }> = [];
    for (const name of names) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      try {
        const record = JSON.parse(await readFile(join(this.root, 'records', 'sha256', name), 'utf8')) as BlobRecord;
        out.push({ digest: record.digest, size: record.size, lastUsed: record.lastUsed });
      } catch {
        /* a record being replaced: skip */
      }
    }
    return out;
  }

  /** Drop least recently used blobs (not in `keep`) until the cache fits `maxBytes`. Returns the digests dropped. */
  async evict(keep: ReadonlySet<Digest>): Promise<Digest[]> {
    const entries = (await this.#entries()).sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    const dropped: Digest[] = [];
    for (const entry of entries) {
      if (total <= this.maxBytes) break;
      if (keep.has(entry.digest)) continue;
      await this.#withLock(entry.digest, () => this.#drop(entry.digest));
      total -= entry.size;
      dropped.push(entry.digest);
    }
    return dropped;
  }

  /** Re-hash every cached blob in parallel; drop the ones whose content no longer matches. Returns the digests dropped. */
  async rehash(): Promise<{ checked: number; dropped: Digest[] }> {
    const entries = await this.#entries();
    const outcomes = await hashJobs(entries.map((e) => ({ kind: 'file' as const, path: this.blobPath(e.digest), algorithm: 'sha256' as const })));
    const dropped: Digest[] = [];
    for (const [i, entry] of entries.entries()) {
      const outcome = outcomes[i]!;
      if (`sha256:${outcome.hex}` !== entry.digest) {
        await this.#withLock(entry.digest, () => this.#drop(entry.digest));
        dropped.push(entry.digest);
      }
    }
    return { checked: entries.length, dropped };
  }

  /** Remove the whole cache (tests, operators). */
  async clear(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
