/**
 * The worker-thread hashing pool: results equal plain `crypto` for whole files and byte ranges,
 * in job order, across threads; I/O errors keep their codes; a failed batch leaves the pool usable;
 * abort and close are honoured; the inline fast path gives the same answers.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashPool, hashJobs, type HashJob } from '../../src/hashing/pool.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-hash-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const contents = [randomBytes(5 * 1024 * 1024 + 17), randomBytes(3 * 1024 * 1024), Buffer.alloc(0), randomBytes(1000)];
const paths = contents.map((c, i) => {
  const p = join(dir, `f${i}`);
  writeFileSync(p, c);
  return p;
});
const hex = (algorithm: string, bytes: Uint8Array): string => createHash(algorithm).update(bytes).digest('hex');

t.test('whole files and ranges match crypto, in job order, on two workers', async (t) => {
  await using pool = new HashPool({ threads: 2, readSize: 1024 * 1024 });
  const jobs: HashJob[] = [
    ...paths.map((path) => ({ kind: 'file' as const, path, algorithm: 'sha256' as const })),
    { kind: 'range', path: paths[0] as string, algorithm: 'sha256', start: 1_000_000, end: 4_500_001 },
    { kind: 'range', path: paths[1] as string, algorithm: 'sha512', start: 0, end: 0 },
    { kind: 'file', path: paths[3] as string, algorithm: 'blake2b512' },
  ];
  const results = await pool.hashAll(jobs);
  t.same(results.slice(0, 4).map((r) => r.hex), contents.map((c) => hex('sha256', c)));
  t.same(results.slice(0, 4).map((r) => r.bytes), contents.map((c) => c.length));
  t.equal(results[4]?.hex, hex('sha256', (contents[0] as Buffer).subarray(1_000_000, 4_500_001)));
  t.equal(results[4]?.bytes, 3_500_001);
  t.equal(results[5]?.hex, hex('sha512', Buffer.alloc(0)));
  t.equal(results[6]?.hex, hex('blake2b512', contents[3] as Buffer));
});

t.test('errors keep their codes and a failed batch leaves the pool usable', async (t) => {
  await using pool = new HashPool({ threads: 2 });
  await rejectsWith(t, pool.hashAll([{ kind: 'file', path: join(dir, 'missing'), algorithm: 'sha256' }]), ['HASHING_IO']);
  await rejectsWith(t, pool.hash({ kind: 'range', path: paths[3] as string, algorithm: 'sha256', start: 0, end: 1001 }), ['SHORT_READ']);
  await rejectsWith(t, pool.hash({ kind: 'range', path: paths[3] as string, algorithm: 'sha256', start: 5, end: 2 }), ['BAD_JOB']);
  await rejectsWith(t, pool.hash({ kind: 'file', path: dir, algorithm: 'sha256' }), ['HASHING_IO']);
  await rejectsWith(t, pool.hash({ kind: 'file', path: paths[3] as string, algorithm: 'md5' as 'sha256' }), ['BAD_JOB']);
  const again = await pool.hash({ kind: 'file', path: paths[3] as string, algorithm: 'sha256' });
  t.equal(again.hex, hex('sha256', contents[3] as Buffer));
});

t.test('abort and close', async (t) => {
  const pool = new HashPool({ threads: 1 });
  const controller = new AbortController();
  const running = pool.hashAll(paths.map((path) => ({ kind: 'file' as const, path, algorithm: 'sha256' as const })), controller.signal);
  controller.abort();
  await rejectsWith(t, running, ['HASHING_ABORTED']);
  await pool.close();
  await rejectsWith(t, pool.hash({ kind: 'file', path: paths[3] as string, algorithm: 'sha256' }), ['POOL_CLOSED']);
});

t.test('hashJobs: inline fast path and worker path agree', async (t) => {
  const jobs = paths.map((path) => ({ kind: 'file' as const, path, algorithm: 'sha256' as const }));
  const inline = await hashJobs(jobs, { inlineBelowBytes: Number.MAX_SAFE_INTEGER });
  const pooled = await hashJobs(jobs, { inlineBelowBytes: 0, threads: 2 });
  t.same(inline, pooled);
  t.same(pooled.map((r) => r.hex), contents.map((c) => hex('sha256', c)), 'largest-first scheduling keeps results in job order');
  await rejectsWith(t, hashJobs([{ kind: 'file', path: join(dir, 'missing'), algorithm: 'sha256' }]), ['HASHING_IO']);
  await using pool = new HashPool({ threads: 2 });
  const first = await hashJobs(jobs, { inlineBelowBytes: 0, pool });
  const second = await hashJobs(jobs, { inlineBelowBytes: 0, pool });
  t.same(first, pooled);
  t.same(second, pooled, 'a caller-owned pool stays open across calls');
});

t.test('small jobs with size hints travel in packs; one bad job fails only its own batch', async (t) => {
  const small = Array.from({ length: 300 }, (_, i) => {
    const p = join(dir, `small-${i}`);
    writeFileSync(p, `file ${i}`);
    return p;
  });
  await using pool = new HashPool({ threads: 2 });
  const jobs = small.map((path) => ({ kind: 'file' as const, path, algorithm: 'sha256' as const, size: 8 }));
  const heard: number[] = [];
  const packed = await pool.hashAll(jobs, undefined, (index, outcome) => {
    if (outcome.bytes === `file ${index}`.length) heard.push(index);
  });
  t.same(packed.map((r) => r.hex), small.map((_, i) => hex('sha256', Buffer.from(`file ${i}`))));
  t.same(heard.sort((a, b) => a - b), small.map((_, i) => i), 'onOutcome hears of every job once, with its index');
  // A missing file inside a pack: its batch fails with HASHING_IO, a batch packed beside it still succeeds.
  const [bad, good] = await Promise.allSettled([
    pool.hashAll([...jobs.slice(0, 5), { kind: 'file', path: join(dir, 'missing'), algorithm: 'sha256', size: 8 }]),
    pool.hashAll(jobs.slice(5, 10)),
  ]);
  t.match(bad, { status: 'rejected', reason: { code: 'HASHING_IO' } });
  t.match(good, { status: 'fulfilled' });
  await rejectsWith(t, pool.hash({ kind: 'file', path: small[0] as string, algorithm: 'sha256', size: -1 }), ['BAD_JOB']);
});
