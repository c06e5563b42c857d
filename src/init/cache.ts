/**
 * The node cache of verified blobs, shared by every init container on the node.
 *
 * Owns: the layout `blobs/sha256/<hex>` + `records/sha256/<hex>.json` + `partial/<hex>` +
 * `locks/<hex>.lease`, the per-blob lease (one downloader per digest across processes, pods and PID
 * namespaces), resumable partial downloads (removed when not continued for a day), trust of entries
 * and size-bounded LRU eviction.
 * Records are written to a temporary file and renamed into place without an fsync each (a model of
 * 10,000 files would cost 20,000 fsyncs); `sync` flushes the records directory once, after a pull.
 * The per-blob file operations of a download's lease and record (the lease's candidate write, link and
 * unlinks, the owner read on release, the record's stat, write and rename) are synchronous system
 * calls: each would otherwise be a thread-pool round trip, thousands for a model of many small files
 * (waiting for, taking over and refreshing leases stay asynchronous).
 * A record lost or torn by a crash before that is not valid JSON or does not match its file: the blob
 * is simply not trusted and fetched again (fail closed), never trusted wrongly.
 * A trusted blob is found without taking its lease (the record and the file's stat are read, nothing
 * is written but its record's mtime, the advisory `lastUsed`); the lease is taken only to download or drop a blob.
 * A blob is trusted only when its record exists: the record is written by this tool after the registry
 * client verified digest and size, and it pins the file's size, mtime and inode, so a file changed or
 * replaced behind our back is dropped and fetched again. A small blob can instead be checked by its
 * content (`recordedSync`: the record exists, the caller hashes the bytes it copies, `drop` when they
 * differ), which also catches a change that kept the record matching. `rehash` re-hashes every blob in parallel
 * (`src/hashing/`) and drops the ones that no longer match their digest.
 *
 * Leases (hand-written: `flock(2)` is not in Node, and the npm bindings need a native build): a lease
 * is a file naming a random owner id and its holder (boot id, PID namespace, PID, and a Unix socket
 * the holder listens on), created with `link(2)` from a fully written temporary file (so it appears
 * atomically, and exactly one creator wins). A holder that died is detected at once when it ran on
 * this kernel (same `/proc/sys/kernel/random/boot_id`): its socket refuses connections (the kernel
 * closed it with the process, whatever the container or PID namespace), or, without a socket, its PID
 * is gone from our PID namespace. Otherwise (another node sharing the cache, an unreadable lease) the
 * heartbeat decides: the holder refreshes the mtime every heartbeat, and a lease not refreshed for
 * `lockStaleMs` (by the injected `Clock`) is taken over. Either way the taker first creates
 * `locks/<hex>.takeover-<owner>` with O_EXCL, so one taker per stale owner proceeds, re-reads the lease,
 * and removes it only if the same stale owner still holds it. A holder checks on every heartbeat that
 * the lease is still its own and aborts its work if not. The lease only prevents double downloads: a
 * blob enters the cache only after its digest verified, so even a lease lost in a race can never let
 * wrong content in (at worst a download is repeated).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { chmod, mkdir, open, readdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { hashJobs } from '../hashing/pool.ts';
import { InitError } from './errors.ts';
import { BOOT_ID, holderDead, PID_NAMESPACE, type LeaseHolder } from './holder.ts';
import { systemClock, type Clock } from '../time/clock.ts';

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
  /** Bytes of an interrupted download that this one continued from (0: from the start). */
  readonly resumedFrom: number;
}

/** What `obtain` hands to the download it asks for. */
export interface DownloadTarget {
  /** Where the verified blob must appear (renamed into place only once verified). */
  readonly path: string;
  /** Where the bytes received so far are kept across failures and kills (held exclusively under the lease). */
  readonly partialPath: string;
  /** Aborted when the caller aborts or the lease is lost. */
  readonly signal: AbortSignal;
}

export interface BlobCacheOptions {
  /** Evict least recently used blobs above this many bytes (default: unbounded). */
  readonly maxBytes?: number;
  /** A lease not refreshed for this long is taken over (default 30 s). */
  readonly lockStaleMs?: number;
  /** How often a holder refreshes its lease (default: a sixth of `lockStaleMs`). */
  readonly lockHeartbeatMs?: number;
  /** The clock lease ages are judged by (default: the system clock). */
  readonly clock?: Clock;
}

export const DEFAULT_LOCK_STALE_MS = 30_000;
/** Partial downloads not continued for this long are removed by `evict`. */
const PARTIAL_MAX_AGE_MS = 24 * 3600_000;
const LOCK_POLL_MS = 100;
const CACHE_DIRECTORY_MODE = 0o2775;

function hexOf(digest: Digest): string {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' || hex === undefined || !/^[0-9a-f]{64}$/.test(hex)) throw new InitError('CACHE', `unsupported digest ${digest} for the cache`);
  return hex;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** The holder and age of a lease file (read through one descriptor, so both belong to the same file). */
async function readLease(path: string): Promise<(LeaseHolder & { mtimeMs: number }) | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const [text, st] = [await handle.readFile('utf8'), await handle.stat()];
    const record = JSON.parse(text) as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    return {
      owner: str(record.owner) ?? '',
      ...(str(record.bootId) !== undefined ? { bootId: str(record.bootId)! } : {}),
      ...(str(record.pidNamespace) !== undefined ? { pidNamespace: str(record.pidNamespace)! } : {}),
      ...(typeof record.pid === 'number' ? { pid: record.pid } : {}),
      ...(str(record.socket) !== undefined ? { socket: str(record.socket)! } : {}),
      mtimeMs: st.mtimeMs,
    };
  } catch {
    return { owner: '', mtimeMs: (await handle.stat()).mtimeMs }; // unreadable content: judged by age alone
  } finally {
    await handle.close();
  }
}

/** The owner id a lease file names; undefined when there is none or it cannot be read. */
function leaseOwnerSync(path: string): string | undefined {
  try {
    const owner = (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>).owner;
    return typeof owner === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** A lease held by this process: refreshed until released; `signal` aborts when it is lost. */
class HeldLease {
  readonly #path: string;
  readonly #owner: string;
  readonly #lost = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #beating = false;

  readonly #clock: Clock;
  readonly #onRelease: () => Promise<void>;

  constructor(path: string, owner: string, heartbeatMs: number, clock: Clock, onRelease: () => Promise<void>) {
    this.#path = path;
    this.#owner = owner;
    this.#clock = clock;
    this.#onRelease = onRelease;
    this.#timer = setInterval(() => void this.#beat(), heartbeatMs);
    this.#timer.unref();
  }

  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  async #beat(): Promise<void> {
    if (this.#beating || this.#lost.signal.aborted) return;
    this.#beating = true;
    try {
      const current = await readLease(this.#path);
      if (current?.owner !== this.#owner) {
        this.#lost.abort(new InitError('LEASE_LOST', `lost the cache lease ${this.#path} (taken over after it was not refreshed in time)`));
        return;
      }
      const now = new Date(this.#clock.now());
      await utimes(this.#path, now, now);
    } catch {
      /* a failed refresh is retried on the next beat; staleness spans several beats */
    } finally {
      this.#beating = false;
    }
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    if (leaseOwnerSync(this.#path) === this.#owner) {
      try {
        unlinkSync(this.#path);
      } catch {
        /* gone already */
      }
    }
    await this.#onRelease();
  }
}

export class BlobCache {
  readonly root: string;
  readonly maxBytes: number;
  readonly lockStaleMs: number;
  readonly lockHeartbeatMs: number;
  readonly #clock: Clock;
  /** Records were renamed into place since the last `sync`. */
  #unsynced = false;
  /** The socket this process listens on while it holds leases of this cache (shared by all of them). */
  #holder: { readonly started: Promise<{ server: Server; path: string } | undefined>; users: number } | undefined;

  constructor(root: string, options: BlobCacheOptions = {}) {
    this.root = root;
    this.#clock = options.clock ?? systemClock;
    this.maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    this.lockStaleMs = options.lockStaleMs ?? DEFAULT_LOCK_STALE_MS;
    this.lockHeartbeatMs = options.lockHeartbeatMs ?? Math.max(10, Math.floor(this.lockStaleMs / 6));
    if (!(this.lockHeartbeatMs < this.lockStaleMs)) throw new InitError('CACHE', `the lease heartbeat (${this.lockHeartbeatMs} ms) must be shorter than the staleness window (${this.lockStaleMs} ms)`);
  }

  blobPath(digest: Digest): string {
    return join(this.root, 'blobs', 'sha256', hexOf(digest));
  }

  partialPath(digest: Digest): string {
    return join(this.root, 'partial', hexOf(digest));
  }

  #recordPath(digest: Digest): string {
    return join(this.root, 'records', 'sha256', `${hexOf(digest)}.json`);
  }

  /**
   * Create the layout. Directories this process creates are group-writable and setgid (02775), so
   * init containers of any uid sharing the volume's group (Kubernetes `fsGroup`) can use them; a cache
   * this process cannot write fails here or at its first lease, and the caller pulls without it.
   */
  async init(): Promise<void> {
    for (const dir of ['blobs', 'blobs/sha256', 'records', 'records/sha256', 'partial', 'locks']) {
      const path = join(this.root, dir);
      const made = await mkdir(path, { recursive: true, mode: CACHE_DIRECTORY_MODE });
      if (made !== undefined) await chmod(path, CACHE_DIRECTORY_MODE).catch(() => {}); // the umask would take the group bits
    }
  }

  /** The record of `descriptor`'s blob when it is cached and the record matches the file (size, mtime, inode). */
  async #trusted(descriptor: Descriptor): Promise<BlobRecord | undefined> {
    // Not cached is the common case of a cold pull: answered without an exception (an ENOENT error per blob costs).
    if (!existsSync(this.#recordPath(descriptor.digest))) return undefined;
    let record: BlobRecord;
    try {
      record = JSON.parse(await readFile(this.#recordPath(descriptor.digest), 'utf8')) as BlobRecord;
    } catch {
      return undefined;
    }
    try {
      const st = await stat(this.blobPath(descriptor.digest));
      const matches = record.digest === descriptor.digest && record.size === descriptor.size && st.size === record.size && st.mtimeMs === record.mtimeMs && st.ino === record.ino;
      return matches ? record : undefined;
    } catch {
      return undefined;
    }
  }

  #writeRecord(descriptor: Descriptor, verifiedAt: string): void {
    const st = statSync(this.blobPath(descriptor.digest));
    const record: BlobRecord = { digest: descriptor.digest, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, verifiedAt, lastUsed: new Date(this.#clock.now()).toISOString() };
    this.#putRecord(descriptor.digest, record);
  }

  /** Replace a record in one step (temporary file + rename), without an fsync: see `sync`. Synchronous (see the module comment). */
  #putRecord(digest: Digest, record: BlobRecord): void {
    const path = this.#recordPath(digest);
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify(record), { flag: 'wx', mode: 0o644 });
      renameSync(temp, path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    this.#unsynced = true;
  }

  /**
   * Make the records written since the last call durable: one fsync of the records directory (the
   * renames) after `fsync`-free record writes. Best effort: a record lost in a crash only costs a
   * download (the blob is not trusted without it).
   */
  async sync(): Promise<void> {
    if (!this.#unsynced) return;
    this.#unsynced = false;
    try {
      const dir = await open(join(this.root, 'records', 'sha256'), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      /* some file systems refuse fsync on directories */
    }
  }

  async #drop(digest: Digest): Promise<void> {
    // Nothing to drop is the common case (a cold pull): answered without an ENOENT error per file.
    for (const path of [this.#recordPath(digest), this.blobPath(digest)]) if (existsSync(path)) await unlink(path).catch(() => {}); // rare: stays asynchronous
  }

  /** Take the lease of `digest`: waits while a live holder refreshes it (undefined instead when `wait` is false), takes over a stale one. */
  async #acquire(digest: Digest, signal?: AbortSignal, wait?: true): Promise<HeldLease>;
  async #acquire(digest: Digest, signal: AbortSignal | undefined, wait: false): Promise<HeldLease | undefined>;
  async #acquire(digest: Digest, signal?: AbortSignal, wait = true): Promise<HeldLease | undefined> {
    const hex = hexOf(digest);
    const locks = join(this.root, 'locks');
    const path = join(locks, `${hex}.lease`);
    const owner = randomBytes(16).toString('hex');
    const candidate = join(locks, `.${hex}.${owner}.tmp`);
    const socket = await this.#holdSocket();
    let held = false;
    try {
      const holder = { owner, host: hostname(), pid: process.pid, bootId: BOOT_ID, pidNamespace: PID_NAMESPACE, socket, since: new Date(this.#clock.now()).toISOString() };
      writeFileSync(candidate, JSON.stringify(holder), { flag: 'wx' });
    } catch (err) {
      await this.#releaseSocket();
      throw new InitError('CACHE', `cannot lock ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      for (;;) {
        signal?.throwIfAborted();
        try {
          linkSync(candidate, path);
          held = true;
          return new HeldLease(path, owner, this.lockHeartbeatMs, this.#clock, () => this.#releaseSocket());
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw new InitError('CACHE', `cannot lock ${path}: ${(err as Error).message}`, { cause: err });
        }
        const current = await readLease(path);
        if (current !== undefined && (this.#stale(current.mtimeMs) || (await holderDead(current)))) {
          await this.#takeOver(path, join(locks, `${hex}.takeover-${current.owner || 'unreadable'}`), current, owner);
          continue;
        }
        if (current !== undefined && !wait) return undefined;
        if (current !== undefined) await sleep(LOCK_POLL_MS, undefined, signal ? { signal } : {}).catch(() => signal?.throwIfAborted());
      }
    } finally {
      rmSync(candidate, { force: true });
      if (!held) await this.#releaseSocket();
    }
  }

  #stale(mtimeMs: number): boolean {
    return this.#clock.now() - mtimeMs > this.lockStaleMs;
  }

  /** Start (or share) this process's holder socket; undefined when none can be listened on (the heartbeat still applies). */
  async #holdSocket(): Promise<string | undefined> {
    if (this.#holder === undefined) {
      const path = join(this.root, 'locks', `holder-${randomBytes(8).toString('hex')}.sock`);
      const started = new Promise<{ server: Server; path: string } | undefined>((resolve) => {
        const server = createServer((connection) => connection.destroy());
        server.once('error', () => resolve(undefined)); // e.g. a path longer than sun_path, a file system without sockets
        server.listen(path, () => {
          server.unref();
          resolve({ server, path });
        });
      });
      this.#holder = { started, users: 0 };
    }
    this.#holder.users++;
    return (await this.#holder.started)?.path;
  }

  async #releaseSocket(): Promise<void> {
    const holder = this.#holder;
    if (holder === undefined || --holder.users > 0) return;
    this.#holder = undefined;
    const started = await holder.started;
    if (started !== undefined) await new Promise<void>((resolve) => started.server.close(() => resolve()));
  }

  /** Remove the lease at `path` if `stale` (its owner) still holds it and it is still stale or dead; one taker per stale owner. */
  async #takeOver(path: string, marker: string, stale: LeaseHolder, owner: string): Promise<void> {
    try {
      await writeFile(marker, owner, { flag: 'wx' });
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw new InitError('CACHE', `cannot take over ${path}: ${(err as Error).message}`, { cause: err });
      // Another taker is at it; a marker left by a taker that died is itself removed once stale.
      const st = await stat(marker).catch(() => undefined);
      if (st !== undefined && this.#stale(st.mtimeMs)) await unlink(marker).catch(() => {});
      else await sleep(LOCK_POLL_MS);
      return;
    }
    try {
      const again = await readLease(path);
      if (again !== undefined && again.owner === stale.owner && (this.#stale(again.mtimeMs) || (await holderDead(again)))) {
        await unlink(path).catch(() => {});
        // A dead holder's socket file stays behind (nobody closed it); remove it once it refuses connections.
        if (again.socket !== undefined && dirname(again.socket) === dirname(path) && (await holderDead(again))) await unlink(again.socket).catch(() => {});
      }
    } finally {
      await unlink(marker).catch(() => {});
    }
  }

  /** Hold the lease of `digest` while `work` runs; `work` gets a signal that aborts when the lease is lost. */
  async #withLock<T>(digest: Digest, work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const lease = await this.#acquire(digest, signal);
    try {
      return await work(signal ? AbortSignal.any([signal, lease.signal]) : lease.signal);
    } finally {
      await lease.release();
    }
  }

  /**
   * The path of a trusted copy of `descriptor`'s blob, downloading it with `download(target)` when it
   * is not cached yet. The download must verify digest and size before the file appears at
   * `target.path`, and keep what it received at `target.partialPath` when it fails (a later obtain
   * continues from there).
   */
  async obtain(descriptor: Descriptor, download: (target: DownloadTarget) => Promise<void>, signal?: AbortSignal): Promise<CacheUse> {
    // Already trusted: no lease needed to read it (the lease serialises downloads and drops; a blob
    // dropped by an eviction right after this check fails its placement like it would after a locked check).
    signal?.throwIfAborted();
    const trusted = await this.#trusted(descriptor);
    if (trusted !== undefined) {
      await this.#touch(descriptor);
      return { path: this.blobPath(descriptor.digest), reused: true, resumedFrom: 0 };
    }
    return this.#withLock(
      descriptor.digest,
      async (held) => {
        const path = this.blobPath(descriptor.digest);
        const record = await this.#trusted(descriptor);
        if (record !== undefined) {
          await this.#touch(descriptor);
          return { path, reused: true, resumedFrom: 0 };
        }
        await this.#drop(descriptor.digest);
        const partialPath = this.partialPath(descriptor.digest);
        let kept = 0;
        try {
          const partial = statSync(partialPath, { throwIfNoEntry: false }); // none: the common case, without an ENOENT error
          if (partial !== undefined && partial.size <= descriptor.size) kept = partial.size;
        } catch {
          /* unreadable: the download starts from 0 (and names the failure if it cannot write either) */
        }
        await download({ path, partialPath, signal: held });
        this.#writeRecord(descriptor, new Date(this.#clock.now()).toISOString());
        return { path, reused: false, resumedFrom: kept };
      },
      signal,
    );
  }

  /**
   * For a caller that verifies a small blob's content itself (`copyVerifiedSync`: size and SHA-256 of
   * the bytes it copies): whether the blob has a record (it entered the cache verified, and eviction
   * sees it), marking it used now. Synchronous, like that copy: one `utimes`, no thread-pool round trip.
   */
  recordedSync(descriptor: Descriptor): boolean {
    try {
      const now = new Date(this.#clock.now());
      utimesSync(this.#recordPath(descriptor.digest), now, now);
      return true;
    } catch (err) {
      const code = errno(err);
      return code === 'EPERM' || code === 'EACCES'; // another uid's record exists (recency is advisory); none: `obtain` decides
    }
  }

  /** Drop `descriptor`'s blob under its lease (its content was found not to be its digest): the next `obtain` downloads it again. */
  async drop(descriptor: Descriptor, signal?: AbortSignal): Promise<void> {
    await this.#withLock(descriptor.digest, () => this.#drop(descriptor.digest), signal);
  }

  /** Mark a reused blob as used now: the record file's mtime (one `utimes`; `#entries` reads the later of it and `lastUsed`). */
  async #touch(descriptor: Descriptor): Promise<void> {
    try {
      const now = new Date(this.#clock.now());
      await utimes(this.#recordPath(descriptor.digest), now, now);
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
        const path = join(this.root, 'records', 'sha256', name);
        const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        const record = JSON.parse(text) as BlobRecord;
        const lastUsed = new Date(Math.max(Date.parse(record.lastUsed) || 0, st.mtimeMs)).toISOString();
        out.push({ digest: record.digest, size: record.size, lastUsed });
      } catch {
        /* a record being replaced: skip */
      }
    }
    return out;
  }

  /**
   * Remove partial downloads nobody has continued for `maxAgeMs` (a model that was never pulled
   * again), under their blob's lease so a running download is never touched. Returns how many.
   */
  async dropStalePartials(maxAgeMs = PARTIAL_MAX_AGE_MS): Promise<number> {
    const dir = join(this.root, 'partial');
    let dropped = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const digest = `sha256:${name}` as Digest;
      const old = async (): Promise<boolean> => this.#clock.now() - ((await stat(join(dir, name)).catch(() => undefined))?.mtimeMs ?? this.#clock.now()) > maxAgeMs;
      if (!(await old())) continue;
      const lease = await this.#acquire(digest, undefined, false); // held: someone is continuing it, leave it
      if (lease === undefined) continue;
      try {
        if (await old()) {
          await unlink(join(dir, name));
          dropped++;
        }
      } finally {
        await lease.release();
      }
    }
    return dropped;
  }

  /** Drop least recently used blobs (not in `keep`) until the cache fits `maxBytes`. Returns the digests dropped. */
  async evict(keep: ReadonlySet<Digest>): Promise<Digest[]> {
    await this.dropStalePartials();
    if (this.maxBytes === Number.MAX_SAFE_INTEGER) return []; // unbounded: nothing to weigh (reading every record costs on a large cache)
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
  async rehash(): Promise<{ checked: number; bytes: number; dropped: Digest[] }> {
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
    return { checked: entries.length, bytes: entries.reduce((sum, e) => sum + e.size, 0), dropped };
  }

  /** Remove the whole cache (tests, operators). */
  async clear(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
