/**
 * Dataset manifests end to end: canonical bytes independent of creation order and mtimes, UTF-8 byte
 * ordering, the documented leaf definition recomputed independently, `dataset verify` naming exactly
 * what changed, inclusion/exclusion proofs, strict parsing, symlink and special-file refusal, and the
 * worker-pool path for larger datasets.
 */
import t, { type Test } from 'tap';
import canonicalize from 'canonicalize';
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DATASET_MANIFEST_MEDIA_TYPE,
  buildDatasetManifest,
  createDatasetManifest,
  exclusionProof,
  inclusionProof,
  leafData,
  parseDatasetManifest,
  serializeDatasetManifest,
  verifyDatasetDirectory,
  verifyExclusion,
  verifyInclusion,
  type DatasetManifest,
} from '../../src/dataset/manifest.ts';
import { compareUtf8 } from '../../src/dataset/walk.ts';

const ROOT = join(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const MAIN = join(ROOT, 'src/cli/main.ts');

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args], { cwd: ROOT, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-dataset-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Names chosen so UTF-8 byte order differs from locale order and from UTF-16 code-unit order. */
const TREE: Record<string, string> = {
  'x-y': 'dash',
  'x.y': 'dot',
  'x/y': 'slash',
  B: 'upper',
  a: 'lower',
  'data/train/part-0001.csv': 'x,y\n1,2\n',
  'data/train/part-0002.csv': 'x,y\n3,4\n',
  'data/empty.bin': '',
  '\uff61half-width': 'U+FF61 (UTF-8 EF BD A1, UTF-16 FF61)',
  '\u{1f600}emoji': 'U+1F600 (UTF-8 F0 9F 98 80, UTF-16 D83D DE00)',
  'é': 'precomposed U+00E9',
};
const EXPECTED_ORDER = ['B', 'a', 'data/empty.bin', 'data/train/part-0001.csv', 'data/train/part-0002.csv', 'x-y', 'x.y', 'x/y', 'é', '\uff61half-width', '\u{1f600}emoji'];

function writeTree(root: string, names: readonly string[], mtime: Date): void {
  for (const name of names) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, TREE[name] as string);
    utimesSync(path, mtime, mtime);
  }
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** The documented root, recomputed without the project's Merkle or JCS code. */
function independentRoot(files: readonly { path: string; size: number; sha256: string }[]): string {
  let level: Buffer[] = files.map((f) => createHash('sha256').update(Buffer.of(0)).update(`{"path":${JSON.stringify(f.path)},"sha256":"${f.sha256}","size":${f.size}}`).digest());
  if (level.length === 0) return `sha256:${sha256('')}`;
  // RFC 6962 bottom-up: pair left to right, an odd last node is promoted unchanged.
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right === undefined ? (level[i] as Buffer) : createHash('sha256').update(Buffer.of(1)).update(level[i] as Buffer).update(right).digest());
    }
    level = next;
  }
  return `sha256:${(level[0] as Buffer).toString('hex')}`;
}

t.test('same tree built in different orders with different mtimes gives byte-identical manifests', async (t) => {
  const dir = tempDir(t);
  const one = join(dir, 'one');
  const two = join(dir, 'two');
  const names = Object.keys(TREE);
  writeTree(one, names, new Date('2020-01-01T00:00:00Z'));
  writeTree(two, [...names].reverse(), new Date('2031-06-15T12:34:56Z'));

  const first = await runCli(['dataset', 'manifest', one]);
  t.equal(first.code, 0, first.stderr);
  const second = serializeDatasetManifest(await buildDatasetManifest(two));
  t.ok(first.stdout.equals(second), 'byte-identical');
  t.equal(first.stderr, '', 'no progress output when stderr is not a terminal');

  const manifest = JSON.parse(first.stdout.toString('utf8')) as DatasetManifest;
  t.equal(manifest.mediaType, DATASET_MANIFEST_MEDIA_TYPE);
  t.equal(manifest.schemaVersion, 1);
  t.same(manifest.files.map((f) => f.path), EXPECTED_ORDER, 'sorted by UTF-8 bytes');
  for (const file of manifest.files) {
    const content = TREE[file.path] as string;
    t.equal(file.sha256, sha256(content), `sha256 of ${file.path}`);
    t.equal(file.size, Buffer.byteLength(content), `size of ${file.path}`);
  }
  t.equal(manifest.fileCount, names.length);
  t.equal(manifest.totalSize, Object.values(TREE).reduce((s, c) => s + Buffer.byteLength(c), 0));
  t.equal(manifest.merkleRoot, independentRoot(manifest.files), 'root matches the documented leaf definition');
  // RFC 8785: keys sorted, no whitespace, no trailing newline.
  t.match(first.stdout.toString('utf8'), /^\{"fileCount":11,"files":\[\{"path":"B","sha256":"[0-9a-f]{64}","size":5\},/);
  t.match(first.stdout.toString('utf8'), /\],"mediaType":"application\/vnd\.modelgate\.dataset\.manifest\.v1\+json","merkleRoot":"sha256:[0-9a-f]{64}","schemaVersion":1,"totalSize":\d+\}$/);

  const out = join(dir, 'manifest.json');
  const written = await runCli(['dataset', 'manifest', one, '--output-file', out]);
  t.equal(written.code, 0, written.stderr);
  t.ok(readFileSync(out).equals(first.stdout), '-o writes the same bytes as stdout');
  t.equal(written.stdout.length, 0);
});

t.test('dataset verify: identical → 0; one byte changed → exactly that file; added and removed named', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  writeTree(data, Object.keys(TREE), new Date('2024-01-01T00:00:00Z'));
  const manifestPath = join(dir, 'm.json');
  writeFileSync(manifestPath, serializeDatasetManifest(await buildDatasetManifest(data)));
  const original = parseDatasetManifest(readFileSync(manifestPath));

  const same = await runCli(['dataset', 'verify', data, manifestPath]);
  t.equal(same.code, 0, same.stderr);
  t.equal(same.stdout.toString(), '');
  t.match(same.stderr, /^OK: /);

  // Flip one byte without changing the size.
  const target = join(data, 'data/train/part-0002.csv');
  const bytes = readFileSync(target);
  bytes[2] = (bytes[2] ?? 0) ^ 0x01;
  writeFileSync(target, bytes);
  const changed = await buildDatasetManifest(data);
  t.not(changed.merkleRoot, original.merkleRoot, 'one byte changes the root');
  const flipped = await runCli(['dataset', 'verify', data, manifestPath]);
  t.equal(flipped.code, 1);
  t.equal(flipped.stdout.toString(), 'changed: data/train/part-0002.csv (content)\n', 'names exactly that file');
  t.match(flipped.stderr, /0 added, 0 removed, 1 changed/);

  writeFileSync(join(data, 'data/train/part-0003.csv'), 'x,y\n5,6\n');
  unlinkSync(join(data, 'x.y'));
  writeFileSync(join(data, 'B'), 'upper case, longer now');
  const many = await runCli(['dataset', 'verify', data, manifestPath]);
  t.equal(many.code, 1);
  t.equal(
    many.stdout.toString(),
    ['changed: B (size 5 -> 22)', 'changed: data/train/part-0002.csv (content)', 'added: data/train/part-0003.csv', 'removed: x.y', ''].join('\n'),
  );
  const json = await runCli(['dataset', 'verify', data, manifestPath, '--json']);
  t.equal(json.code, 1);
  t.same(
    (JSON.parse(json.stdout.toString()) as { kind: string; path: string }[]).map((c) => [c.kind, c.path]),
    [['changed', 'B'], ['changed', 'data/train/part-0002.csv'], ['added', 'data/train/part-0003.csv'], ['removed', 'x.y']],
  );
  const library = await verifyDatasetDirectory(data, original);
  t.equal(library.length, 4);
});

t.test('inclusion and exclusion proofs verify against the signed head and fail when tampered', async (t) => {
  const entries = Array.from({ length: 13 }, (_, i) => ({ path: `shard-${String(i * 2).padStart(3, '0')}.parquet`, size: i * 10, sha256: sha256(`content ${i}`) }));
  const manifest = createDatasetManifest(entries);
  for (const entry of manifest.files) {
    const proof = inclusionProof(manifest, entry.path);
    if (!verifyInclusion(proof, manifest)) t.fail(`${entry.path} should verify`);
  }
  const proof = inclusionProof(manifest, 'shard-010.parquet');
  t.ok(verifyInclusion(proof, manifest));
  t.ok(verifyInclusion(JSON.parse(JSON.stringify(proof)), { merkleRoot: manifest.merkleRoot, fileCount: 13 }), 'survives a JSON round trip');
  t.notOk(verifyInclusion({ ...proof, entry: { ...proof.entry, size: proof.entry.size + 1 } }, manifest), 'tampered size');
  t.notOk(verifyInclusion({ ...proof, entry: { ...proof.entry, sha256: sha256('evil') } }, manifest), 'tampered digest');
  t.notOk(verifyInclusion({ ...proof, entry: { ...proof.entry, path: 'shard-011.parquet' } }, manifest), 'tampered path');
  t.notOk(verifyInclusion({ ...proof, leafIndex: proof.leafIndex + 1 }, manifest), 'tampered index');
  t.notOk(verifyInclusion({ ...proof, hashes: [...proof.hashes].reverse() }, manifest), 'tampered path order');
  t.notOk(verifyInclusion({ ...proof, treeSize: 14 }, manifest), 'tree size must match the head');
  t.notOk(verifyInclusion(proof, { merkleRoot: `sha256:${sha256('other')}`, fileCount: 13 }), 'other root');
  t.notOk(verifyInclusion(proof, { merkleRoot: 'sha512:00', fileCount: 13 }), 'malformed root');
  t.throws(() => inclusionProof(manifest, 'shard-001.parquet'), { code: 'NOT_IN_MANIFEST' });

  for (const missing of ['shard-001.parquet', 'aaa', 'zzz', 'shard-024.parquet.bak']) {
    const absent = exclusionProof(manifest, missing);
    t.ok(verifyExclusion(absent, manifest), `${missing} proven absent`);
  }
  const absent = exclusionProof(manifest, 'shard-001.parquet');
  t.notOk(verifyExclusion({ ...absent, path: 'shard-002.parquet' }, manifest), 'a listed path cannot be proven absent with neighbours');
  t.notOk(verifyExclusion({ ...absent, path: 'shard-003.parquet' }, manifest), 'neighbours must bracket the path');
  const { after: _after, ...withoutAfter } = absent;
  t.notOk(verifyExclusion(withoutAfter, manifest), 'dropping a neighbour is not a proof');
  const skipping = exclusionProof(manifest, 'shard-003.parquet');
  t.notOk(verifyExclusion({ ...skipping, path: 'shard-003.parquet', before: absent.before as NonNullable<typeof absent.before> }, manifest), 'non-adjacent neighbours');
  t.throws(() => exclusionProof(manifest, 'shard-002.parquet'), { code: 'IN_MANIFEST' });

  const empty = createDatasetManifest([]);
  t.equal(empty.merkleRoot, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.ok(verifyExclusion(exclusionProof(empty, 'anything'), empty));
});

t.test('dataset prove prints a proof the library verifies', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  writeTree(data, Object.keys(TREE), new Date());
  const manifestPath = join(dir, 'm.json');
  writeFileSync(manifestPath, serializeDatasetManifest(await buildDatasetManifest(data)));
  const manifest = parseDatasetManifest(readFileSync(manifestPath));
  const proved = await runCli(['dataset', 'prove', manifestPath, 'x/y']);
  t.equal(proved.code, 0, proved.stderr);
  const inclusion = JSON.parse(proved.stdout.toString()) as { merkleRoot: string; fileCount: number; inclusion: Parameters<typeof verifyInclusion>[0] };
  t.equal(inclusion.merkleRoot, manifest.merkleRoot);
  t.ok(verifyInclusion(inclusion.inclusion, manifest));
  const absent = await runCli(['dataset', 'prove', manifestPath, 'x/z']);
  t.ok(verifyExclusion((JSON.parse(absent.stdout.toString()) as { exclusion: Parameters<typeof verifyExclusion>[0] }).exclusion, manifest));
});

t.test('manifests are parsed strictly', async (t) => {
  const manifest = createDatasetManifest([
    { path: 'b', size: 1, sha256: sha256('b') },
    { path: 'a', size: 1, sha256: sha256('a') },
  ]);
  const bytes = serializeDatasetManifest(manifest);
  t.same(parseDatasetManifest(bytes), manifest);
  t.same(parseDatasetManifest(Buffer.concat([bytes, Buffer.from('\n')])), manifest, 'one trailing newline tolerated');
  const json = JSON.parse(bytes.toString()) as Record<string, unknown> & { files: Record<string, unknown>[] };
  const reject = (value: unknown, pattern: RegExp, name: string): void => {
    t.throws(() => parseDatasetManifest(typeof value === 'string' ? value : JSON.stringify(value)), { code: 'DATASET_BAD_MANIFEST', message: pattern }, name);
  };
  reject(JSON.stringify(json, null, 2), /canonical form/, 'pretty-printed');
  reject({ ...json, merkleRoot: `sha256:${sha256('x')}` }, /merkleRoot/, 'wrong root');
  reject({ ...json, fileCount: 3 }, /fileCount/, 'wrong count');
  reject({ ...json, totalSize: 3 }, /totalSize/, 'wrong total');
  reject({ ...json, files: [...json.files].reverse() }, /sorted/, 'unsorted');
  reject({ ...json, files: [json.files[0], json.files[0]] }, /sorted|duplicate/, 'duplicate');
  reject({ ...json, mediaType: 'application/json' }, /mediaType/, 'media type');
  reject({ ...json, schemaVersion: 2 }, /schemaVersion/, 'version');
  reject({ ...json, extra: true }, /unknown top-level/, 'unknown field');
  reject({ ...json, files: [{ ...json.files[0], path: '../etc/passwd' }] }, /segment/, 'dot-dot path');
  reject({ ...json, files: [{ ...json.files[0], path: '/abs' }] }, /relative/, 'absolute path');
  reject({ ...json, files: [{ ...json.files[0], sha256: 'ABC' }] }, /sha256/, 'bad digest');
  reject({ ...json, files: [{ ...json.files[0], size: -1 }] }, /size/, 'negative size');
  reject('not json', /not JSON/, 'garbage');
});

t.test('symlinks are refused by default, followed on request; special files always refused', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(join(data, 'real'), { recursive: true });
  writeFileSync(join(data, 'real/file.txt'), 'content');
  symlinkSync('real/file.txt', join(data, 'link.txt'));
  const refused = await runCli(['dataset', 'manifest', data]);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /modelgate: UNSUPPORTED_ENTRY: link\.txt is a symbolic link/);
  t.equal(refused.stdout.length, 0, 'nothing written on refusal');

  const manifest = await buildDatasetManifest(data, { symlinks: 'follow' });
  t.same(manifest.files.map((f) => [f.path, f.sha256]), [['link.txt', sha256('content')], ['real/file.txt', sha256('content')]]);

  symlinkSync('..', join(data, 'real/up'));
  await t.rejects(buildDatasetManifest(data, { symlinks: 'follow' }), { code: 'SYMLINK_LOOP' });
  unlinkSync(join(data, 'real/up'));
  symlinkSync('missing', join(data, 'dangling'));
  await t.rejects(buildDatasetManifest(data, { symlinks: 'follow' }), { code: 'DATASET_IO', message: /dangling/ });
  unlinkSync(join(data, 'dangling'));

  execFileSync('mkfifo', [join(data, 'pipe')]);
  await t.rejects(buildDatasetManifest(data, { symlinks: 'follow' }), { code: 'UNSUPPORTED_ENTRY', message: /pipe is a FIFO/ });
  await t.rejects(buildDatasetManifest(join(data, 'real/file.txt')), { code: 'DATASET_IO', message: /not a directory/ });
});

t.test('a file name that is not UTF-8 is refused', async (t) => {
  const dir = tempDir(t);
  // Node cannot create a non-UTF-8 name from a string path; a Buffer path can.
  writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x66, 0xff, 0x6f])]), 'x');
  await t.rejects(buildDatasetManifest(dir), { code: 'BAD_PATH', message: /66ff6f/ });
});

t.test('a larger dataset goes through the worker pool and matches independent hashes', async (t) => {
  const dir = tempDir(t);
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 6; i++) files[`big/chunk-${i}.bin`] = randomBytes(3 * 1024 * 1024 + i);
  for (let i = 0; i < 20; i++) files[`small/${i}.txt`] = Buffer.from(`row ${i}\n`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  const progress: number[] = [];
  const manifest = await buildDatasetManifest(dir, { onProgress: (done) => progress.push(done) });
  t.equal(manifest.fileCount, 26);
  for (const file of manifest.files) t.equal(file.sha256, sha256(files[file.path] as Buffer), file.path);
  t.equal(manifest.merkleRoot, independentRoot(manifest.files));
  t.equal(progress.at(-1), manifest.totalSize, 'progress ends at the total');
  t.ok(progress.every((v, i) => i === 0 || v >= (progress[i - 1] as number)), 'progress is monotonic');
});

t.test('leaf data is the JCS form of the entry, also for paths JSON must escape', async (t) => {
  for (const path of ['a.csv', 'dir/ü 文件 😀.txt', 'quote"back\\slash', 'tab\there\u0001\u007f\u2028', 'x/\u00e9\u0301']) {
    const entry = { path, sha256: 'ab'.repeat(32), size: 9_007_199_254_740_991 };
    // The message is ASCII-escaped: U+2028 and DEL in a TAP comment line would break the TAP stream.
    t.equal(leafData(entry).toString('utf8'), canonicalize(entry), JSON.stringify(path).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  }
});

t.test('compareUtf8 orders exactly as the UTF-8 bytes, also around surrogates and ill-formed strings', async (t) => {
  const parts = ['a', 'z', '/', '\u00e9', '\u4e00', '\ud7ff', '\ue000', '\uffff', '\ud83d\ude00', '\udbff\udfff', '\ud800', '\udc00', ''];
  const strings = new Set<string>();
  for (const x of parts) for (const y of parts) for (const z of ['', 'a', '\ud800', '\udc00']) strings.add(x + y + z);
  const list = [...strings];
  let wrong = 0;
  for (const a of list) for (const b of list) if (Math.sign(compareUtf8(a, b)) !== Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))) wrong += 1;
  t.equal(wrong, 0, `${list.length ** 2} pairs`);
});

t.test('manifest bytes equal the generic JCS serialisation, also for paths JSON must escape', async (t) => {
  const paths = ['a.csv', 'dir/ü 文件 😀.txt', 'quote"back\\slash', 'tab\there\u0001\u007f\u2028', 'x/\u00e9\u0301', 'files', '"files":[]'];
  const manifest = createDatasetManifest(paths.map((path, i) => ({ path, sha256: String(i).repeat(64), size: i * 1_000_003 })));
  // Compared with t.ok: a diff holding a raw U+2028 would split the TAP stream.
  t.ok(serializeDatasetManifest(manifest).toString('utf8') === canonicalize({ ...manifest, files: manifest.files.map((f) => ({ ...f })) }), 'same bytes as canonicalize');
  const empty = createDatasetManifest([]);
  t.equal(serializeDatasetManifest(empty).toString('utf8'), canonicalize(empty));
});

t.test('a walk longer than one event-loop turn (2,048 entries) lists every file once, in UTF-8 order', async (t) => {
  const dir = tempDir(t);
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(dir, `d${d}`));
    for (let i = 0; i < 800; i++) writeFileSync(join(dir, `d${d}`, `f${i}`), `${d}/${i}`);
  }
  const manifest = await buildDatasetManifest(dir);
  t.equal(manifest.fileCount, 2400);
  t.equal(new Set(manifest.files.map((f) => f.path)).size, 2400, 'no path twice');
  t.ok(manifest.files.every((f, i) => i === 0 || compareUtf8((manifest.files[i - 1] as { path: string }).path, f.path) < 0), 'sorted');
  t.equal(manifest.files.find((f) => f.path === 'd2/f799')?.sha256, sha256(Buffer.from('2/799')));
});
