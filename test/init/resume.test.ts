// Kill and resume, and the node cache's leases, against a real loopback registry behind the fault
// proxy (fixtures.ts): a `modelgate init` killed with SIGKILL mid-pull leaves no model, its partial
// download and its lease stay in the cache, and the next run takes the lease over at once (the holder is
// detected dead: its socket refuses connections) and
// continues the download with Range; a live holder's lease is kept, a lost one aborts its holder; a
// kept prefix continues with Range, and a registry that ignores Range (200) or a prefix that is not
// the blob's restarts from byte 0.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BlobCache } from '../../src/init/cache.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { exitCodeOfPullError } from '../../src/init/pull.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { ModelPackMediaType } from '../../src/modelpack/spec.ts';
import type { FaultRule } from '../helpers/fault-proxy.ts';
import { REPO } from '../helpers/run-cli.ts';
import { initFixture, sha256 } from './fixtures.ts';

const { dir, proxy, pubPath, dataPath, pushArtifact, uriOf, init } = await initFixture(t);

const big = Buffer.alloc(8 * 1024 * 1024);
for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 40503) >>> 0, i);
const killed = await pushArtifact('killed', [
  { mediaType: ModelPackMediaType.WEIGHT_CONFIG_RAW, bytes: Buffer.from('{"killed":true}'), filepath: 'config.json' },
  { mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: big, filepath: 'model.safetensors' },
]);

t.test('SIGKILL mid-pull leaves no model; the next run takes over the dead holder\'s lease at once and resumes with Range', async (t) => {
  const cache = join(dir, 'cache-killed');
  const parent = join(dir, 'killed');
  const dest = join(parent, 'models');
  const bigDigest = killed.layers[1]!.digest as Descriptor['digest'];
  const hex = bigDigest.slice('sha256:'.length);
  const partial = join(cache, 'partial', hex);
  const stalledAt = 3 * 1024 * 1024;
  proxy.setRules([{ method: 'GET', path: new RegExp(`/blobs/${bigDigest}$`), fault: { kind: 'stall', afterBytes: stalledAt } }]);
  proxy.clearRecords();
  const args = ['init', uriOf(killed.manifest), dest, '--data', dataPath, '--key', pubPath, '--cache-dir', cache, '--cache-lock-stale', '1500', '--termination-log', join(dir, 'kill.log'), '--timeout', '3600000'];
  const child = spawn(join(REPO, 'node_modules/.bin/node'), [join(REPO, 'src/cli/main.ts'), ...args], { stdio: 'ignore' });
  let running = true;
  const exited = new Promise((resolve) => child.on('exit', resolve)).finally(() => (running = false));
  const size = (): number => (existsSync(partial) ? statSync(partial).size : 0);
  // Wait for the event (the stalled bytes on disk, or the child ending early), however long the start takes.
  while (size() < stalledAt && running) await new Promise((r) => setTimeout(r, 50));
  t.equal(size(), stalledAt, 'the bytes received so far are on disk in the cache');
  t.equal(proxy.stalledOpen(), 1, 'written while the download is still stalled (a quiet body is flushed), not when the connection ends');
  child.kill('SIGKILL');
  await exited;
  t.notOk(existsSync(dest), 'no partial model at DEST');
  t.ok(existsSync(join(cache, 'locks', `${hex}.lease`)), 'the killed run left its lease behind');
  t.equal(size(), stalledAt, 'and its partial download');

  proxy.setRules([]);
  proxy.clearRecords();
  // The killed holder is detected as dead (its socket refuses connections): no waiting for staleness,
  // even with a staleness window longer than the CLI's own time limit.
  const run = await init([uriOf(killed.manifest), dest, '--cache-lock-stale', '600000'], cache);
  t.equal(run.code, 0, run.stderr);
  t.same(readFileSync(join(dest, 'model.safetensors')), big);
  const gets = proxy.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${bigDigest}`));
  t.same(gets.map((r) => r.headers.range), [`bytes=${stalledAt}-`], 'one request, for the rest of the blob only');
  const layer = run.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'layer' && l.digest === bigDigest);
  t.match(layer, { cached: false, resumedFrom: stalledAt });
  const receipt = JSON.parse(readFileSync(join(dest, '.modelgate', 'receipt.json'), 'utf8')) as Record<string, unknown>;
  t.equal(receipt.digest, killed.manifest.digest, 'published with a receipt');
  t.same(readdirSync(parent), ['models'], "the killed run's staging directory was removed");
  t.same(readdirSync(join(cache, 'locks')), [], 'no lease left, nor the dead holder\'s socket');
  t.same(readdirSync(join(cache, 'partial')), [], 'the partial download became the cached blob');
});

t.test('cache leases: a live holder keeps its lease, a stale one is taken over, a lost one aborts its holder', async (t) => {
  const root = join(dir, 'cache-lease');
  const bytes = Buffer.from('lease test blob');
  const descriptor: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(bytes) as Descriptor['digest'], size: bytes.length };
  const hex = descriptor.digest.slice('sha256:'.length);
  const leasePath = join(root, 'locks', `${hex}.lease`);
  const a = new BlobCache(root, { lockStaleMs: 300, lockHeartbeatMs: 50 });
  const b = new BlobCache(root, { lockStaleMs: 300, lockHeartbeatMs: 50 });
  await a.init();

  // A holder busy for 5× the staleness window keeps its lease (heartbeat): the waiter reuses its blob.
  let downloads = 0;
  const slow = a.obtain(descriptor, async ({ path }) => {
    downloads++;
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(path, bytes);
  });
  await new Promise((r) => setTimeout(r, 100));
  const waiter = await b.obtain(descriptor, async ({ path }) => {
    downloads++;
    writeFileSync(path, bytes);
  });
  t.match(await slow, { reused: false });
  t.match(waiter, { reused: true });
  t.equal(downloads, 1, 'downloaded once');

  // A stale lease (its holder died) is taken over; a fresh foreign lease makes us wait.
  await a.clear();
  await a.init();
  writeFileSync(leasePath, JSON.stringify({ owner: 'dead-holder' }));
  const patient = new BlobCache(root, { lockStaleMs: 60_000 });
  await t.rejects(patient.obtain(descriptor, async () => {}, AbortSignal.timeout(300)), 'a fresh lease is waited for (its holder may be alive)');
  const past = new Date(Date.now() - 10_000);
  utimesSync(leasePath, past, past);
  t.match(await b.obtain(descriptor, async ({ path }) => writeFileSync(path, bytes)), { reused: false });
  t.notOk(existsSync(leasePath), 'released');
  t.same(readdirSync(join(root, 'locks')), [], 'no takeover marker or candidate left');

  // A holder whose lease was taken over aborts its download.
  await a.clear();
  await a.init();
  const lost = a.obtain(descriptor, async ({ signal }) => {
    writeFileSync(leasePath, JSON.stringify({ owner: 'someone-else' }));
    await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
  });
  const lostError = await lost.then(
    () => undefined,
    (err: unknown) => err,
  );
  t.match(lostError, { code: 'LEASE_LOST', message: /lost the cache lease/ });
  t.equal(exitCodeOfPullError(lostError), 3, 'a lost lease is transient: the retry reuses the other holder\'s blob');
  t.ok(existsSync(leasePath), "the new owner's lease is left alone");

  // Partial downloads nobody continued for the maximum age are removed; recent ones are kept.
  await a.clear();
  const fresh = new BlobCache(root);
  await fresh.init();
  const other = sha256(Buffer.from('other')) as Descriptor['digest'];
  writeFileSync(fresh.partialPath(descriptor.digest), 'old bytes');
  writeFileSync(fresh.partialPath(other), 'recent bytes');
  const dayAgo = new Date(Date.now() - 25 * 3600_000);
  utimesSync(fresh.partialPath(descriptor.digest), dayAgo, dayAgo);
  writeFileSync(leasePath, JSON.stringify({ owner: 'continuing-it' }));
  t.same(await fresh.evict(new Set()), []);
  t.ok(existsSync(fresh.partialPath(descriptor.digest)), 'an old partial download whose lease is held is left alone (no waiting)');
  rmSync(leasePath);
  await fresh.evict(new Set());
  t.notOk(existsSync(fresh.partialPath(descriptor.digest)), 'an abandoned partial download is removed');
  t.ok(existsSync(fresh.partialPath(other)), 'a recent one is kept');
});

t.test('lease holders: a dead one on this kernel is taken over at once, a foreign one by the injected clock', async (t) => {
  const root = join(dir, 'cache-holders');
  const bytes = Buffer.from('holder test blob');
  const descriptor: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(bytes) as Descriptor['digest'], size: bytes.length };
  const leasePath = join(root, 'locks', `${descriptor.digest.slice('sha256:'.length)}.lease`);
  const clock = new ManualClock(Date.now());
  const cache = new BlobCache(root, { lockStaleMs: 3600_000, clock });
  await cache.init();
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const pidNamespace = readlinkSync('/proc/self/ns/pid');
  const download = async ({ path }: { path: string }): Promise<void> => writeFileSync(path, bytes);

  // A holder that exited (its PID is gone from this namespace on this boot): taken over at once.
  const dead = spawnSync(join(REPO, 'node_modules/.bin/node'), ['-e', '0']).pid!;
  writeFileSync(leasePath, JSON.stringify({ owner: 'exited', bootId, pidNamespace, pid: dead }));
  t.match(await cache.obtain(descriptor, download, AbortSignal.timeout(20_000)), { reused: false }, 'a dead PID holder does not make us wait an hour');
  await cache.clear();
  await cache.init();

  // A holder whose socket nobody listens on any more (killed in another PID namespace): taken over at once.
  const socket = join(root, 'locks', 'holder-gone.sock');
  writeFileSync(socket, '');
  writeFileSync(leasePath, JSON.stringify({ owner: 'killed', bootId, pidNamespace: 'pid:[1]', pid: 1, socket }));
  t.match(await cache.obtain(descriptor, download, AbortSignal.timeout(20_000)), { reused: false }, 'a refused socket means a dead holder');
  t.same(readdirSync(join(root, 'locks')), [], "the dead holder's socket file is removed with its lease");
  await cache.clear();
  await cache.init();

  // A holder on another kernel (a shared cache, or before a reboot: we cannot tell): judged by the
  // heartbeat, on the injected clock.
  writeFileSync(leasePath, JSON.stringify({ owner: 'elsewhere', bootId: '00000000-0000-0000-0000-000000000000', pid: 1 }));
  await t.rejects(cache.obtain(descriptor, download, AbortSignal.timeout(300)), 'a lease of another kernel is waited for while fresh');
  clock.advance(2 * 3600_000); // the lease file was written after the clock was set: more than one window
  t.match(await cache.obtain(descriptor, download, AbortSignal.timeout(20_000)), { reused: false }, 'and taken over once the clock says it is stale');

  // A live holder (its socket answers) keeps its lease whatever its PID says.
  await cache.clear();
  await cache.init();
  const other = new BlobCache(root, { lockStaleMs: 3600_000 });
  let release!: () => void;
  const holding = other.obtain(descriptor, async ({ path }) => {
    await new Promise<void>((resolve) => (release = resolve));
    writeFileSync(path, bytes);
  });
  while (!existsSync(leasePath)) await new Promise((r) => setTimeout(r, 10));
  const lease = JSON.parse(readFileSync(leasePath, 'utf8')) as { socket?: string; bootId?: string };
  t.equal(lease.bootId, bootId, 'the lease records the boot id');
  t.ok(lease.socket !== undefined && existsSync(lease.socket), 'and the socket its holder listens on');
  writeFileSync(leasePath, JSON.stringify({ ...lease, pid: dead }));
  const waiter = new BlobCache(root, { lockStaleMs: 3600_000 });
  await t.rejects(waiter.obtain(descriptor, download, AbortSignal.timeout(300)), 'a holder whose socket answers is alive');
  release();
  await holding;
  t.same(readdirSync(join(root, 'locks')), [], 'the holder closed its socket with its last lease');
});

t.test('resume: a kept prefix continues with Range; a registry ignoring Range or a bad prefix restarts from 0', async (t) => {
  const proxied = openStore(parseReference(`${proxy.host}/models/llama`));
  const layer = killed.layers[1]!;
  const path = new RegExp(`/blobs/${layer.digest}$`);
  const cases: Array<{ name: string; prefix: Buffer; rules: FaultRule[]; gets: Array<{ range: string | undefined; fault: string | undefined }> }> = [
    { name: 'good prefix', prefix: big.subarray(0, 1 << 20), rules: [], gets: [{ range: 'bytes=1048576-', fault: undefined }] },
    { name: 'Range ignored (200)', prefix: big.subarray(0, 1 << 20), rules: [{ method: 'GET', path, fault: { kind: 'ignore-range' } }], gets: [{ range: 'bytes=1048576-', fault: 'ignore-range' }] },
    {
      name: 'corrupted prefix',
      prefix: Buffer.alloc(1 << 20),
      rules: [],
      gets: [
        { range: 'bytes=1048576-', fault: undefined },
        { range: undefined, fault: undefined },
      ],
    },
  ];
  for (const [i, c] of cases.entries()) {
    const cache = new BlobCache(join(dir, `cache-resume-${i}`));
    await cache.init();
    writeFileSync(cache.partialPath(layer.digest), c.prefix);
    proxy.setRules(c.rules);
    proxy.clearRecords();
    const use = await cache.obtain(layer, (target) => proxied.downloadBlob(layer, target.path, { partialPath: target.partialPath, signal: target.signal, timeoutMs: 5000 }));
    t.match(use, { reused: false, resumedFrom: 1 << 20 }, c.name);
    t.equal(sha256(readFileSync(use.path)), layer.digest, `${c.name}: verified content`);
    t.same(
      proxy.requests.filter((r) => path.test(r.path)).map((r) => ({ range: r.headers.range, fault: r.fault })),
      c.gets,
      `${c.name}: requests`,
    );
    t.notOk(existsSync(cache.partialPath(layer.digest)), `${c.name}: partial file consumed`);
  }
  proxy.setRules([]);
});
