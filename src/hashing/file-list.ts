/**
 * Hash a list of whole files on all cores, with the main thread out of the loop.
 *
 * Owns: `hashFileList`. Each worker (`file-list-worker.ts`) receives the whole path list once and
 * claims files from a shared schedule (largest first, so a big file is not started last) with an
 * atomic counter; digests and byte counts land in shared memory, and progress arrives in batches
 * (every 32 MiB or 100 ms per worker). The main thread spends nothing per file while the workers
 * run — unlike the general pool (`pool.ts`), which posts packs of jobs and settles each result.
 * Whole files only: a file's SHA-256 is one sequential computation (a byte range cannot be hashed
 * on its own and combined), so one file never runs faster than one core.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HashingError } from './errors.ts';
import { DEFAULT_READ_SIZE, validateJob, type HashAlgorithm, type HashOutcome, type WireError } from './hash-range.ts';
import type { FileListTask } from './file-list-worker.ts';

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './file-list-worker.ts' : './file-list-worker.js', import.meta.url);

export interface HashFileListOptions {
  readonly algorithm?: HashAlgorithm;
  /** Each path's expected size, same order: the schedule runs largest first. */
  readonly sizes?: readonly number[];
  /** Worker threads; default `os.availableParallelism()`, never more than there are files. */
  readonly threads?: number;
  /** Bytes per read (each worker's one buffer); default 2 MiB. */
  readonly readSize?: number;
  readonly signal?: AbortSignal;
  /** Called with the running total of bytes hashed (batched, not per file). */
  readonly onProgress?: (bytesDone: number) => void;
}

type WorkerMessage = { type: 'progress'; bytes: number } | { type: 'done'; bytes: number } | { type: 'error'; error: WireError };

/** Hash every file of `paths` whole; results in the order of `paths`. The first failure rejects (the other workers stop). */
export async function hashFileList(paths: readonly string[], options: HashFileListOptions = {}): Promise<HashOutcome[]> {
  const algorithm = options.algorithm ?? 'sha256';
  for (const path of paths) validateJob({ kind: 'file', path, algorithm });
  if (paths.length === 0) return [];
  if (options.signal?.aborted) throw new HashingError('HASHING_ABORTED', 'hashing was aborted');
  const count = paths.length;
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), count));
  const digestLength = createHash(algorithm).digest().length;
  const order = new Int32Array(new SharedArrayBuffer(count * 4));
  const schedule = [...order.keys()];
  const sizes = options.sizes;
  if (sizes !== undefined && sizes.length === count) schedule.sort((a, b) => sizes[b]! - sizes[a]!);
  order.set(schedule);
  const task: FileListTask = {
    paths: [...paths],
    algorithm,
    readSize: Math.max(1024 * 1024, options.readSize ?? DEFAULT_READ_SIZE),
    order,
    next: new Int32Array(new SharedArrayBuffer(4)),
    digests: new Uint8Array(new SharedArrayBuffer(count * digestLength)),
    digestLength,
    sizes: new Float64Array(new SharedArrayBuffer(count * 8)),
  };
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let running = threads;
      let done = 0;
      let settled = false;
      const fail = (err: HashingError): void => {
        if (settled) return;
        settled = true;
        options.signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onAbort = (): void => fail(new HashingError('HASHING_ABORTED', 'hashing was aborted'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      for (let i = 0; i < threads; i++) {
        const worker = new Worker(WORKER_URL, { workerData: task });
        workers.push(worker);
        let finished = false;
        worker.on('message', (message: WorkerMessage) => {
          if (settled) return;
          if (message.type === 'error') {
            fail(new HashingError(message.error.code, message.error.message));
            return;
          }
          if (message.bytes > 0) {
            done += message.bytes;
            options.onProgress?.(done);
          }
          if (message.type === 'done') {
            finished = true;
            running -= 1;
            if (running === 0) {
              settled = true;
              options.signal?.removeEventListener('abort', onAbort);
              resolve();
            }
          }
        });
        worker.on('error', (err) => fail(new HashingError('POOL_CLOSED', `a hashing worker stopped: ${err.message}`)));
        worker.on('exit', (code) => {
          if (!finished) fail(new HashingError('POOL_CLOSED', `a hashing worker stopped: exit code ${code}`));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  const digests = Buffer.from(task.digests.buffer);
  return Array.from({ length: count }, (_, i) => ({
    hex: digests.subarray(i * digestLength, (i + 1) * digestLength).toString('hex'),
    bytes: task.sizes[i]!,
  }));
}
