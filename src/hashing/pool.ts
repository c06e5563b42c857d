/**
 * A pool of worker threads that hash files and file byte ranges in parallel.
 *
 * Owns: scheduling hash jobs over `node:worker_threads` (one worker per core by default), returning
 * results in job order, failing a batch on its first error (queued jobs of that batch are dropped),
 * honouring an AbortSignal, a fast path that hashes tiny batches on the calling thread (starting
 * a worker costs more than hashing a few MiB), and packing: queued jobs with a size hint are sent to
 * a worker in packs of up to 4 MiB / 256 jobs, so a dataset of many small files costs one message
 * round trip per pack instead of per file. Used by OMS model verification, and meant for the
 * dataset-manifest emitter and the init container's cache re-hash.
 *
 * Why hand-written: no maintained npm package hashes files across worker threads with positioned
 * large reads; the whole mechanism is ~150 lines over Node built-ins.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HashingError } from './errors.ts';
import { DEFAULT_READ_SIZE, hashJobSync, validateJob, type HashJob, type HashOutcome, type WireError } from './hash-range.ts';

export type { HashAlgorithm, HashJob, HashOutcome } from './hash-range.ts';
export { HASH_ALGORITHMS } from './hash-range.ts';

export interface HashPoolOptions {
  /** Worker threads; default `os.availableParallelism()`. */
  readonly threads?: number;
  /** Bytes per read (and per worker buffer); default 2 MiB, minimum 1 MiB. */
  readonly readSize?: number;
}

interface Pending {
  readonly id: number;
  /** The `hashAll` call the job belongs to (identity only). */
  readonly batch: object;
  readonly job: HashJob;
  readonly resolve: (outcome: HashOutcome) => void;
  readonly reject: (err: HashingError) => void;
}

type JobReply = { ok: true; hex: string; bytes: number } | { ok: false; error: WireError };

interface WorkerReply {
  readonly id: number;
  readonly results: readonly JobReply[];
}

interface PoolWorker {
  readonly worker: Worker;
  /** The pack of jobs the worker is hashing (identified by its first job's id). */
  current: Pending[] | undefined;
}

// The compiled build runs `worker.js`; tests and `node src/…` run the TypeScript source directly.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
const MIN_READ_SIZE = 1024 * 1024;
/** Jobs smaller than this (by their size hint) may share one message; packs stay below it in total. */
const PACK_BYTES = 4 * 1024 * 1024;
const PACK_JOBS = 256;

export class HashPool implements AsyncDisposable {
  readonly threads: number;
  readonly readSize: number;
  /** Jobs waiting for a worker: `#queue[#head…]` (an index, not `shift()`, which is O(n) per call on long queues). */
  #queue: Pending[] = [];
  #head = 0;
  #workers: PoolWorker[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: HashPoolOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new HashingError('BAD_JOB', `threads must be a positive integer, got ${threads}`);
    this.threads = threads;
    this.readSize = Math.max(MIN_READ_SIZE, options.readSize ?? DEFAULT_READ_SIZE);
  }

  /** Hash one job on a worker thread. */
  hash(job: HashJob, signal?: AbortSignal): Promise<HashOutcome> {
    return this.hashAll([job], signal).then((outcomes) => outcomes[0] as HashOutcome);
  }

  /**
   * Hash every job in parallel; results come back in the order of `jobs`. The first failure rejects
   * the whole batch and drops the batch's jobs that have not started yet. `onOutcome` hears of each
   * job as it completes (progress) — cheaper than one `hash` call per job for large batches.
   */
  hashAll(jobs: readonly HashJob[], signal?: AbortSignal, onOutcome?: (index: number, outcome: HashOutcome) => void): Promise<HashOutcome[]> {
    if (this.#closed) return Promise.reject(new HashingError('POOL_CLOSED', 'the hashing pool is closed'));
    try {
      for (const job of jobs) validateJob(job);
    } catch (err) {
      return Promise.reject(err);
    }
    if (jobs.length === 0) return Promise.resolve([]);
    return new Promise<HashOutcome[]>((resolve, reject) => {
      const outcomes: HashOutcome[] = new Array<HashOutcome>(jobs.length);
      const batch = {};
      let remaining = jobs.length;
      let settled = false;
      const fail = (err: HashingError): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        this.#queue = this.#queue.slice(this.#head).filter((p) => p.batch !== batch);
        this.#head = 0;
        reject(err);
      };
      const onAbort = (): void => fail(new HashingError('HASHING_ABORTED', 'hashing was aborted'));
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      jobs.forEach((job, index) => {
        const pending: Pending = {
          id: this.#nextId++,
          batch,
          job,
          resolve: (outcome) => {
            if (settled) return;
            outcomes[index] = outcome;
            onOutcome?.(index, outcome);
            remaining -= 1;
            if (remaining === 0) {
              settled = true;
              signal?.removeEventListener('abort', onAbort);
              resolve(outcomes);
            }
          },
          reject: fail,
        };
        this.#queue.push(pending);
      });
      this.#dispatch();
    });
  }

  /** Stop all workers; queued and running jobs fail with POOL_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const queued = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const p of queued) p.reject(new HashingError('POOL_CLOSED', 'the hashing pool was closed'));
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(workers.map(async (w) => {
      for (const p of w.current ?? []) p.reject(new HashingError('POOL_CLOSED', 'the hashing pool was closed'));
      w.current = undefined;
      await w.worker.terminate();
    }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #dispatch(): void {
    while (this.#head < this.#queue.length) {
      let idle = this.#workers.find((w) => w.current === undefined);
      if (idle === undefined) {
        if (this.#workers.length >= this.threads) return;
        idle = this.#spawn();
      }
      const pack = this.#takePack();
      idle.current = pack;
      idle.worker.ref();
      idle.worker.postMessage({ id: pack[0]!.id, jobs: pack.map((p) => p.job) });
    }
  }

  /** The next queued job, plus the small jobs right behind it while the pack stays under PACK_BYTES. */
  #takePack(): Pending[] {
    const queue = this.#queue;
    const pack = [queue[this.#head++] as Pending];
    let bytes = pack[0]!.job.size;
    if (bytes !== undefined) {
      while (pack.length < PACK_JOBS && this.#head < queue.length) {
        const size = queue[this.#head]!.job.size;
        if (size === undefined || bytes + size > PACK_BYTES) break;
        bytes += size;
        pack.push(queue[this.#head++] as Pending);
      }
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 4096 && this.#head * 2 >= queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    return pack;
  }

  #spawn(): PoolWorker {
    const worker = new Worker(WORKER_URL, { workerData: { readSize: this.readSize } });
    const entry: PoolWorker = { worker, current: undefined };
    worker.on('message', (reply: WorkerReply) => {
      const pack = entry.current;
      if (pack === undefined || pack[0]?.id !== reply.id) return;
      entry.current = undefined;
      worker.unref();
      pack.forEach((pending, i) => {
        const result = reply.results[i];
        if (result?.ok === true) pending.resolve({ hex: result.hex, bytes: result.bytes });
        else pending.reject(new HashingError(result?.error.code ?? 'POOL_CLOSED', result?.error.message ?? 'a hashing worker returned no result'));
      });
      this.#dispatch();
    });
    const onDeath = (reason: string): void => {
      this.#workers = this.#workers.filter((w) => w !== entry);
      const pack = entry.current ?? [];
      entry.current = undefined;
      for (const pending of pack) pending.reject(new HashingError('POOL_CLOSED', `a hashing worker stopped: ${reason}`));
      if (!this.#closed) this.#dispatch();
    };
    worker.on('error', (err) => onDeath(err.message));
    worker.on('exit', (code) => onDeath(`exit code ${code}`));
    this.#workers.push(entry);
    return entry;
  }
}

export interface HashJobsOptions extends HashPoolOptions {
  readonly signal?: AbortSignal;
  /** A long-lived pool to run on (not closed afterwards); default: a temporary pool. */
  readonly pool?: HashPool;
  /**
   * Batches whose total size is below this many bytes are hashed on the calling thread, since a
   * worker's start-up (~30 ms) costs more than the hashing. Default 16 MiB; 0 always uses workers.
   */
  readonly inlineBelowBytes?: number;
}

function jobBytes(job: HashJob): number {
  if (job.kind === 'range') return job.end - job.start;
  try {
    return statSync(job.path).size;
  } catch {
    return 0; // the hash itself will report the I/O error with its proper code
  }
}

/** One-shot convenience: hash `jobs` with a temporary pool (or inline when tiny), largest first, results in job order. */
export async function hashJobs(jobs: readonly HashJob[], options: HashJobsOptions = {}): Promise<HashOutcome[]> {
  for (const job of jobs) validateJob(job);
  const inlineBelow = options.inlineBelowBytes ?? 16 * 1024 * 1024;
  const sizes = jobs.map(jobBytes);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total < inlineBelow) {
    const buffer = Buffer.allocUnsafe(Math.min(Math.max(total, 1), options.readSize ?? DEFAULT_READ_SIZE));
    return jobs.map((job) => {
      if (options.signal?.aborted) throw new HashingError('HASHING_ABORTED', 'hashing was aborted');
      return hashJobSync(job, buffer);
    });
  }
  const pool = options.pool ?? new HashPool({ ...options, threads: Math.min(options.threads ?? availableParallelism(), jobs.length) });
  try {
    // Largest first: a big file started last would leave the other workers idle at the end.
    const order = jobs.map((_, i) => i).sort((a, b) => (sizes[b] ?? 0) - (sizes[a] ?? 0));
    const outcomes = await pool.hashAll(order.map((i) => ({ ...(jobs[i] as HashJob), size: sizes[i] ?? 0 })), options.signal);
    const inOrder = new Array<HashOutcome>(jobs.length);
    order.forEach((jobIndex, k) => {
      inOrder[jobIndex] = outcomes[k] as HashOutcome;
    });
    return inOrder;
  } finally {
    if (options.pool === undefined) await pool.close();
  }
}
