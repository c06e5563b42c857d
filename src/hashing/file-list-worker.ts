/**
 * Worker-thread entry of `hashFileList` (`file-list.ts`): hashes files of a shared list until the
 * list is exhausted, with no message from the main thread per file.
 *
 * Owns: only the claiming loop. The worker gets the whole path list once (workerData), claims the
 * next position of the shared schedule with `Atomics.add`, hashes that file through its one reused
 * read buffer, and writes the raw digest and the byte count into shared memory at the file's index.
 * Out: `{ type: 'progress', bytes }` at most every PROGRESS_BYTES / PROGRESS_MS, then
 * `{ type: 'done', bytes }`; on the first failure `{ type: 'error', error }`, after exhausting the
 * schedule so that the other workers stop claiming too.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { hashJobSync, toWireError, type HashAlgorithm } from './hash-range.ts';

export interface FileListTask {
  readonly paths: readonly string[];
  readonly algorithm: HashAlgorithm;
  readonly readSize: number;
  /** Schedule: file indexes in the order they are to be claimed (largest first). */
  readonly order: Int32Array;
  /** `[0]`: the next position of `order` to claim. */
  readonly next: Int32Array;
  /** `digestLength` bytes per file, at `index * digestLength`. */
  readonly digests: Uint8Array;
  readonly digestLength: number;
  /** Bytes hashed per file. */
  readonly sizes: Float64Array;
}

const PROGRESS_BYTES = 32 * 1024 * 1024;
const PROGRESS_MS = 100;

const task = workerData as FileListTask;
const buffer = Buffer.allocUnsafe(task.readSize);
let unreported = 0;
let reportedAt = Date.now();
let failed = false;
for (;;) {
  const position = Atomics.add(task.next, 0, 1);
  if (position >= task.order.length) break;
  const index = task.order[position]!;
  const path = task.paths[index]!;
  let outcome;
  try {
    outcome = hashJobSync({ kind: 'file', path, algorithm: task.algorithm }, buffer);
  } catch (err) {
    Atomics.store(task.next, 0, task.order.length); // the others stop at their next claim
    parentPort?.postMessage({ type: 'error', error: toWireError(err) });
    failed = true;
    break;
  }
  task.digests.set(Buffer.from(outcome.hex, 'hex'), index * task.digestLength);
  task.sizes[index] = outcome.bytes;
  unreported += outcome.bytes;
  if (unreported >= PROGRESS_BYTES || Date.now() - reportedAt >= PROGRESS_MS) {
    parentPort?.postMessage({ type: 'progress', bytes: unreported });
    unreported = 0;
    reportedAt = Date.now();
  }
}
if (!failed) parentPort?.postMessage({ type: 'done', bytes: unreported });
