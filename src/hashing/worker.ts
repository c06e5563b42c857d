/**
 * Worker-thread entry of the hashing pool: hashes the jobs the pool posts, one at a time.
 *
 * Owns: only the message loop. Each worker keeps one read buffer for its whole life, so hashing
 * allocates nothing per file. Protocol: in `{ id, jobs }` (one job, or a pack of small ones), out
 * `{ id, results }` with one `{ ok: true, hex, bytes }` or `{ ok: false, error: { code, message } }`
 * per job, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_READ_SIZE, hashJobSync, toWireError, type HashJob } from './hash-range.ts';

const readSize = typeof (workerData as { readSize?: unknown } | null)?.readSize === 'number'
  ? (workerData as { readSize: number }).readSize
  : DEFAULT_READ_SIZE;
const buffer = Buffer.allocUnsafe(readSize);

parentPort?.on('message', (message: { id: number; jobs: readonly HashJob[] }) => {
  const results = message.jobs.map((job) => {
    try {
      const outcome = hashJobSync(job, buffer);
      return { ok: true, hex: outcome.hex, bytes: outcome.bytes };
    } catch (err) {
      return { ok: false, error: toWireError(err) };
    }
  });
  parentPort?.postMessage({ id: message.id, results });
});
