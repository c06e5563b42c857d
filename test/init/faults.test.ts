// Local I/O failures at each stage of `modelgate init`, on real tmpfs mounts (the tests run as root;
// a test that cannot mount fails, it does not skip): a full cache while downloading, a full DEST while
// copying a raw layer or extracting a tar layer, no inode left for the receipt at publication, a
// read-only DEST. Each is exit 2 with a code (NO_SPACE / INIT_IO) and one line naming the path, on stderr
// and in the termination log, no stack trace, no lease left in the cache, no staging directory left.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ModelPackMediaType } from '../../src/modelpack/spec.ts';
import { initFixture, tar } from './fixtures.ts';

const { dir, pushArtifact, uriOf, init } = await initFixture(t);

/** Mount a tmpfs with `options` at a new directory; unmounted at the end of `t`. */
function tmpfs(t: Test, name: string, options: string): string {
  const mountPoint = join(dir, name);
  mkdirSync(mountPoint, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`these tests need to mount a tmpfs (run as root with mount available): ${(err as Error).message}`);
  }
  t.teardown(() => execFileSync('umount', ['-l', mountPoint]));
  return mountPoint;
}

const weights = Buffer.alloc(3 * 1024 * 1024);
for (let i = 0; i < weights.length; i += 4) weights.writeUInt32LE((i * 2654435761) >>> 0, i);
const raw = await pushArtifact('faults-raw', [{ mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: weights, filepath: 'model.safetensors' }]);
const small = await pushArtifact('faults-small', [{ mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: Buffer.from('small weights'), filepath: 'model.safetensors' }]);
const tarred = await pushArtifact('faults-tar', [{ mediaType: 'application/vnd.cncf.model.weight.v1.tar', bytes: tar([{ name: 'weights/model.bin', body: weights }]) }]);

/** The common shape of a local failure: exit 2, the code and the path on one line, nothing left behind. */
function expectLocalFailure(t: Test, run: Awaited<ReturnType<typeof init>>, code: string, path: string, cacheDir: string, destParent: string): void {
  t.equal(run.code, 2, `exit 2 (${run.stderr})`);
  const line = run.stderr.split('\n').find((l) => l.includes(code));
  t.ok(line, `stderr names ${code}`);
  t.ok(line?.includes(path), `the line names the path under ${path}: ${line}`);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  t.match(run.termination, new RegExp(`${code}: .*${path.replaceAll('/', '\\/')}`), 'the termination message KServe shows');
  const refused = run.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { event: string; exitCode?: number }).find((l) => l.event === 'refused');
  t.equal(refused?.exitCode, 2, 'a refused log line with exit code 2');
  const locks = existsSync(join(cacheDir, 'locks')) ? readdirSync(join(cacheDir, 'locks')) : [];
  t.same(locks, [], 'every cache lease released');
  t.same(readdirSync(destParent).filter((n) => n.includes('modelgate-staging')), [], 'no staging directory left');
  t.notOk(existsSync(join(destParent, 'models', '.modelgate', 'receipt.json')), 'nothing published');
}

t.test('a full cache during the download: NO_SPACE naming the cache file, the partial removed', async (t) => {
  const cacheDir = tmpfs(t, 'cache-full', 'size=1m');
  const parent = join(dir, 'dest-cache-full');
  mkdirSync(parent);
  const run = await init([uriOf(raw.manifest), join(parent, 'models')], cacheDir);
  expectLocalFailure(t, run, 'NO_SPACE', cacheDir, cacheDir, parent);
  t.same(readdirSync(join(cacheDir, 'partial')), [], 'the partial download does not keep the disk full');
});

// Each stage of DEST filling up: the raw layer's copy, a tar entry's write, the receipt's inode
// (root + staging directory + model.safetensors + .modelgate: the receipt finds none).
const destStages = [
  { name: 'a full DEST while copying a raw layer', mount: 'size=1m', manifest: raw.manifest, names: /model\.safetensors/ },
  { name: 'a full DEST while extracting a tar layer', mount: 'size=1m', manifest: tarred.manifest, names: /weights\/model\.bin/ },
  { name: 'no inode left for the receipt at publication', mount: 'size=4m,nr_inodes=4', manifest: small.manifest, names: /receipt\.json/ },
];
for (const [i, stage] of destStages.entries()) {
  t.test(`${stage.name}: NO_SPACE naming the file, nothing published`, async (t) => {
    const parent = tmpfs(t, `dest-full-${i}`, stage.mount);
    const cacheDir = join(dir, `cache-dest-${i}`);
    const run = await init([uriOf(stage.manifest), join(parent, 'models')], cacheDir);
    expectLocalFailure(t, run, 'NO_SPACE', parent, cacheDir, parent);
    t.match(run.stderr, stage.names, 'the file is named');
  });
}

t.test('a read-only DEST: INIT_IO (EROFS) naming DEST', async (t) => {
  const parent = tmpfs(t, 'dest-ro', 'size=1m,ro');
  const cacheDir = join(dir, 'cache-ro');
  const run = await init([uriOf(small.manifest), join(parent, 'models')], cacheDir);
  expectLocalFailure(t, run, 'INIT_IO', parent, cacheDir, parent);
  t.match(run.stderr, /EROFS/);
});
