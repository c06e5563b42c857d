/**
 * Worker-thread entry of the hashing pool: hashes the jobs the pool posts, one at a time.
 *
 * Owns: only the message loop. Each worker keeps one read buffer for its whole life, so hashing
 * allocates nothing per file. Protocol: in `{ id, job }`, out `{ id, ok: true, hex, bytes }` or
 * `{ id, ok: false, error: { code, message } }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DEFAULT_READ_SIZE, hashJobSync, toWireError, type HashJob } from './hash-range.ts';

const readSize = typeof (workerData as { readSize?: unknown } | null)?.readSize === 'number'
  ? (workerData as { readSize: number }).readSize
  : DEFAULT_READ_SIZE;
const buffer = Buffer.allocUnsafe(readSize);

parentPort?.on('message', (message: { id: number; job: HashJob }) => {
  try {
    const outcome = hashJobSync(message.job, buffer);
    parentPort?.postMessage({ id: message.id, ok: true, hex: outcome.hex, bytes: outcome.bytes });
  } catch (err) {
    parentPort?.postMessage({ id: message.id, ok: false, error: toWireError(err) });
  }
});
