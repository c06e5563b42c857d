/**
 * `hashFileList`: workers claiming files from a shared schedule give the same digests as plain
 * `crypto`, in the order of the paths, whatever the schedule; byte counts and batched progress add
 * up; the first I/O error rejects with its code; an abort is honoured.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashFileList } from '../../src/hashing/file-list.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

const dir = t.testdir({});
const contents = [randomBytes(3 * 1024 * 1024 + 5), Buffer.alloc(0), ...Array.from({ length: 40 }, (_, i) => randomBytes(i * 997))];
const paths = contents.map((content, i) => {
  const path = join(dir, `f${i}`);
  writeFileSync(path, content);
  return path;
});
const hex = (algorithm: string, bytes: Uint8Array): string => createHash(algorithm).update(bytes).digest('hex');

t.test('digests and sizes match crypto, in path order, on two workers, with and without a size schedule', async (t) => {
  const progress: number[] = [];
  const scheduled = await hashFileList(paths, { threads: 2, sizes: contents.map((c) => c.length), onProgress: (done) => progress.push(done) });
  t.same(scheduled.map((o) => o.hex), contents.map((c) => hex('sha256', c)));
  t.same(scheduled.map((o) => o.bytes), contents.map((c) => c.length));
  const total = contents.reduce((sum, c) => sum + c.length, 0);
  t.equal(progress.at(-1), total, 'progress reaches the total');
  t.same(progress, [...progress].sort((a, b) => a - b), 'progress only grows');
  const unscheduled = await hashFileList(paths, { threads: 3, algorithm: 'sha512' });
  t.same(unscheduled.map((o) => o.hex), contents.map((c) => hex('sha512', c)));
});

t.test('the first failure rejects with its code; an abort rejects HASHING_ABORTED', async (t) => {
  await rejectsWith(t, hashFileList([...paths.slice(0, 5), join(dir, 'missing'), ...paths.slice(5)], { threads: 2 }), ['HASHING_IO']);
  await rejectsWith(t, hashFileList([paths[2]!, dir], { threads: 2 }), ['HASHING_IO']);
  await rejectsWith(t, hashFileList(paths, { algorithm: 'md5' as 'sha256' }), ['BAD_JOB']);
  const controller = new AbortController();
  const running = hashFileList(paths, { threads: 1, signal: controller.signal });
  controller.abort();
  await rejectsWith(t, running, ['HASHING_ABORTED']);
  t.same(await hashFileList([]), []);
});
