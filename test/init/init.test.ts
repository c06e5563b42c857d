// The init container (`modelgate init URI DEST`) against a real loopback registry behind the fault
// proxy (fixtures.ts): models pushed as CNCF ModelPack artifacts (raw, tar, tar+gzip, tar+zstd
// layers), signed and attested. A good model publishes atomically with a receipt naming its digest;
// an unsigned model, a tag, a corrupted blob, a tar with `../x`, an escaping symlink, a hardlink out
// of the model and a device entry each leave DEST untouched with the right exit code; a registry that
// is down is transient (3); two concurrent runs download a blob once; OMS model signatures are
// verified against the files and decided by the policy before publication. Kill, resume and cache
// leases: resume.test.ts.
import type { KeyObject } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { BlobCache } from '../../src/init/cache.ts';
import { BOOT_ID, PID_NAMESPACE } from '../../src/init/holder.ts';
import { ExtractionScope, extractTar } from '../../src/init/extract.ts';
import { initModel, locationOfUri, refusalOfUri, type InitDeps } from '../../src/init/pull.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { ModelPackMediaType } from '../../src/modelpack/spec.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { keyId } from '../../src/sigstore/keys.ts';
import { fileResources, keyBundle, omsStatement, walk } from '../helpers/oms-sign.ts';
import { REPO } from '../helpers/run-cli.ts';
import { SLSA_V1, TRAINING_BUILDER as BUILDER, TRAINING_SOURCE as SOURCE } from '../helpers/signed-models.ts';
import { initFixture, sha256, tar, type LayerSpec, type TarEntry } from './fixtures.ts';

const { dir, proxy, store, privateKey, publicKey, dataPath, pushArtifact, uriOf, init, blobGets } = await initFixture(t);

const weights = Buffer.alloc(3 * 1024 * 1024);
for (let i = 0; i < weights.length; i += 4) weights.writeUInt32LE((i * 2654435761) >>> 0, i);
const tokenizerTar = tar([
  { name: 'tokenizer/', type: '5' },
  { name: 'tokenizer/tokenizer.json', body: Buffer.from('{"vocab":{}}') },
  { name: 'tokenizer/current.json', type: '2', linkname: 'tokenizer.json' },
  { name: 'tokenizer/alias.json', type: '1', linkname: 'tokenizer/tokenizer.json' },
]);
const docsTar = tar([{ name: 'docs/README.md', body: Buffer.from('# llama\n') }]);
const goodLayers: LayerSpec[] = [
  { mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: weights, filepath: 'model.safetensors' },
  { mediaType: ModelPackMediaType.WEIGHT_CONFIG_RAW, bytes: Buffer.from('{"architectures":["LlamaForCausalLM"]}'), filepath: 'config.json' },
  { mediaType: 'application/vnd.cncf.model.weight.config.v1.tar+gzip', bytes: gzipSync(tokenizerTar) },
  { mediaType: 'application/vnd.cncf.model.doc.v1.tar+zstd', bytes: zstdCompressSync(docsTar) },
];
const good = await pushArtifact('good', goodLayers, { tag: 'v1' });
const unsigned = await pushArtifact('unsigned', [{ mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: Buffer.from('unsigned weights'), filepath: 'model.safetensors' }], { sign: false });
const corrupt = await pushArtifact('corrupt', [{ mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: Buffer.alloc(64 * 1024, 'c'), filepath: 'model.safetensors' }]);
const tarLayer = (entries: TarEntry[]): LayerSpec[] => [
  { mediaType: ModelPackMediaType.WEIGHT_CONFIG_RAW, bytes: Buffer.from('{}'), filepath: 'config.json' },
  { mediaType: 'application/vnd.cncf.model.weight.v1.tar', bytes: tar(entries) },
];
const dotdot = await pushArtifact('dotdot', tarLayer([{ name: 'weights/../../x', body: Buffer.from('escaped') }]));
const symlinkOut = await pushArtifact('symlink', tarLayer([{ name: 'weights/evil', type: '2', linkname: '../../../etc/passwd' }]));
const hardlink = await pushArtifact('hardlink', tarLayer([{ name: 'passwd', type: '1', linkname: '/etc/passwd' }]));
const device = await pushArtifact('device', tarLayer([{ name: 'null', type: '3' }]));
const controlName = await pushArtifact('control', tarLayer([{ name: 'weights\x01.bin', body: Buffer.from('w') }]));
const controlRaw = await pushArtifact('control-raw', [{ mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: Buffer.from('raw weights'), filepath: 'model\x7f.safetensors' }]);

t.test('a signed, attested ModelPack model publishes atomically with a receipt naming its digest', async (t) => {
  const dest = join(dir, 'good', 'mnt', 'models');
  proxy.clearRecords();
  const run = await init([uriOf(good.manifest), dest], join(dir, 'cache-good'));
  t.equal(run.code, 0, run.stderr);
  // The manifest is asked for first, while the configuration loads, and that one answer serves the pipeline.
  const manifestPath = new RegExp(`/manifests/${good.manifest.digest}$`);
  t.match(proxy.requests[0], { method: 'GET', path: manifestPath }, 'the first registry request is the manifest');
  t.equal(proxy.count('GET', manifestPath), 1, 'the manifest is fetched once');
  t.same(readFileSync(join(dest, 'model.safetensors')), weights);
  t.equal(readFileSync(join(dest, 'config.json'), 'utf8'), '{"architectures":["LlamaForCausalLM"]}');
  t.equal(readFileSync(join(dest, 'tokenizer', 'tokenizer.json'), 'utf8'), '{"vocab":{}}');
  t.equal(readlinkSync(join(dest, 'tokenizer', 'current.json')), 'tokenizer.json');
  t.equal(readFileSync(join(dest, 'tokenizer', 'alias.json'), 'utf8'), '{"vocab":{}}');
  t.equal(readFileSync(join(dest, 'docs', 'README.md'), 'utf8'), '# llama\n');
  const receipt = JSON.parse(readFileSync(join(dest, '.modelgate', 'receipt.json'), 'utf8')) as Record<string, unknown>;
  t.equal(receipt.digest, good.manifest.digest);
  t.equal(receipt.decision, 'allow');
  t.match(receipt.policy, { bundleDigest: /^sha256:/ });
  t.match(receipt.evidence, { signers: [`key sha256:${keyId(publicKey)}`], predicateTypes: [SLSA_V1] });
  t.same(readdirSync(join(dir, 'good', 'mnt')), ['models'], 'no staging directory left beside DEST');
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; bytes?: number; total?: number });
  const last = lines.filter((l) => l.event === 'progress').at(-1);
  t.equal(last?.bytes, last?.total, 'progress reaches the total');
  t.match(last, { bytesPerSecond: Number, etaSeconds: 0 }, 'progress lines carry rate and ETA');
  t.ok(lines.some((l) => l.event === 'published'));

  // A restart with the model in place re-verifies and pulls nothing.
  proxy.clearRecords();
  const again = await init([uriOf(good.manifest), dest], join(dir, 'cache-good'));
  t.equal(again.code, 0, again.stderr);
  t.equal(blobGets(good.layers[0]!.digest), 0);
});

t.test('refusals (CLI): reasons on stderr and in the termination log, DEST untouched, exit code by cause', async (t) => {
  const cases: Array<{ name: string; uri: string; exit: number; code: RegExp }> = [
    { name: 'unsigned', uri: uriOf(unsigned.manifest), exit: 1, code: /UNSIGNED/ },
    { name: 'tag', uri: `modelgate+oci://${proxy.host}/models/llama:v1`, exit: 1, code: /NOT_PINNED/ },
    { name: 'registry down', uri: uriOf(good.manifest, '127.0.0.1:9'), exit: 3, code: /NETWORK|TIMEOUT/ },
    { name: 'not a modelgate URI', uri: `s3://bucket/model`, exit: 2, code: /BAD_URI/ },
  ];
  const results = await Promise.all(
    cases.map(async (c, i) => {
      const parent = join(dir, `refused-${i}`);
      mkdirSync(parent, { recursive: true });
      return { c, parent, run: await init([c.uri, join(parent, 'models')], join(dir, `cache-refused-${i}`)) };
    }),
  );
  for (const { c, parent, run } of results) {
    t.equal(run.code, c.exit, `${c.name}: exit code (${run.stderr})`);
    t.match(run.stderr, c.code, `${c.name}: reason on stderr`);
    t.match(run.termination, c.code, `${c.name}: reason in the termination log`);
    t.same(readdirSync(parent), [], `${c.name}: nothing published, no staging left`);
  }
});

t.test('refusals (library): corrupted blob, ../x, escaping symlink, hardlink, device entry leave DEST untouched', async (t) => {
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: JSON.parse(readFileSync(dataPath, 'utf8')) as unknown });
  const deps: InitDeps = {
    pipeline: { stores: storeProvider({ registry: { timeoutMs: 5000 } }), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, timeoutMs: 5000 },
    cache: new BlobCache(join(dir, 'cache-library')),
    log: () => {},
  };
  proxy.setRules([{ method: 'GET', path: new RegExp(`/blobs/${corrupt.layers[0]!.digest}$`), fault: { kind: 'corrupt-byte' } }]);
  t.teardown(() => proxy.setRules([]));
  const cases: Array<{ name: string; manifest: Descriptor; code: string; message: RegExp }> = [
    { name: 'corrupted blob', manifest: corrupt.manifest, code: 'DIGEST_MISMATCH', message: /./ },
    { name: 'tar with ../x', manifest: dotdot.manifest, code: 'UNSAFE_ENTRY', message: /"\.\."/ },
    { name: 'escaping symlink', manifest: symlinkOut.manifest, code: 'UNSAFE_ENTRY', message: /leaves the destination/ },
    { name: 'hardlink', manifest: hardlink.manifest, code: 'UNSAFE_ENTRY', message: /hardlink/ },
    { name: 'device entry', manifest: device.manifest, code: 'UNSAFE_ENTRY', message: /CharacterDevice/ },
    { name: 'control character in a tar name', manifest: controlName.manifest, code: 'UNSAFE_ENTRY', message: /"weights\\x01\.bin" contains a control character/ },
    { name: 'control character in a raw layer file path', manifest: controlRaw.manifest, code: 'UNSAFE_ENTRY', message: /file path "model\\x7f\.safetensors" contains a control character/ },
  ];
  for (const [i, c] of cases.entries()) {
    const parent = join(dir, `refused-lib-${i}`);
    mkdirSync(parent, { recursive: true });
    const outcome = await initModel(uriOf(c.manifest), join(parent, 'models'), deps);
    t.match(outcome, { kind: 'refused', exitCode: 1, digest: c.manifest.digest, reasons: [{ code: c.code, message: c.message }] }, c.name);
    t.same(readdirSync(parent), [], `${c.name}: nothing published, no staging left`);
  }
  t.notOk(existsSync(join(dir, 'x')), 'nothing written outside the destination');
});

t.test('two concurrent inits of one digest download each blob once', async (t) => {
  proxy.clearRecords();
  const cache = join(dir, 'cache-shared');
  const [a, b] = await Promise.all([init([uriOf(good.manifest), join(dir, 'conc-a')], cache), init([uriOf(good.manifest), join(dir, 'conc-b')], cache)]);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  for (const layer of good.layers) t.equal(blobGets(layer.digest), 1, `${layer.digest} fetched once`);
  t.same(readFileSync(join(dir, 'conc-b', 'model.safetensors')), weights);
});

t.test('extraction refuses setuid bits, names colliding after normalisation, writes through a symlink', async (t) => {
  const attempt = async (entries: TarEntry[]): Promise<unknown> => {
    const root = mkdtempSync(join(dir, 'x-'));
    return extractTar(Readable.from([tar(entries)]), new ExtractionScope(root, 1 << 20), { compression: 'none', what: 'test' }).then(
      () => undefined,
      (err: unknown) => err,
    );
  };
  t.match(await attempt([{ name: 'run.sh', body: Buffer.from('x'), mode: 0o4755 }]), { code: 'UNSAFE_ENTRY', message: /setuid/ });
  t.match(await attempt([{ name: 'Model.bin', body: Buffer.from('a') }, { name: 'model.bin', body: Buffer.from('b') }]), { code: 'UNSAFE_ENTRY', message: /collides/ });
  t.match(await attempt([{ name: 'caf\u00e9.txt', body: Buffer.from('a') }, { name: 'cafe\u0301.txt', body: Buffer.from('b') }]), { code: 'UNSAFE_ENTRY', message: /collides/ });
  t.match(await attempt([{ name: 'link', type: '2', linkname: '.' }, { name: 'link/x', body: Buffer.from('a') }]), { code: 'UNSAFE_ENTRY', message: /symlink/ });
  t.match(await attempt([{ name: 'fifo', type: '6' }]), { code: 'UNSAFE_ENTRY', message: /FIFO/ });
  t.match(await attempt([{ name: 'big', body: Buffer.alloc(2 << 20) }]), { code: 'INIT_TOO_LARGE' });
  t.equal(await attempt([{ name: 'ok/a.txt', body: Buffer.from('a') }]), undefined);
  // A compressed archive cut off in the middle of a file: refused, not a hang.
  const cut = gzipSync(tar([{ name: 'w.bin', body: weights }])).subarray(0, 200_000);
  const root = mkdtempSync(join(dir, 'x-'));
  await t.rejects(extractTar(Readable.from([cut]), new ExtractionScope(root, 1 << 24), { compression: 'gzip', what: 'cut' }), { code: 'UNSAFE_ENTRY', message: /unreadable archive/ });
});

t.test('cache: --rehash-style re-hash drops a tampered blob; a record mismatch is not trusted', async (t) => {
  const cacheDir = join(dir, 'cache-good');
  const cache = new BlobCache(cacheDir);
  const path = cache.blobPath(good.layers[1]!.digest);
  writeFileSync(path, 'tampered');
  const { checked, dropped } = await cache.rehash();
  t.ok(checked >= 4);
  t.same(dropped, [good.layers[1]!.digest]);
  t.notOk(existsSync(path));
  // Tampering that keeps the record is caught by size/mtime/inode: obtain() downloads again.
  const weightsPath = cache.blobPath(good.layers[0]!.digest);
  writeFileSync(weightsPath, Buffer.alloc(weights.length));
  let downloads = 0;
  const use = await cache.obtain(good.layers[0]!, async ({ path: p }) => {
    downloads++;
    await store.downloadBlob(good.layers[0]!, p);
  });
  t.equal(downloads, 1);
  t.equal(use.reused, false);
  t.equal(sha256(readFileSync(weightsPath)), good.layers[0]!.digest);
  t.ok(lstatSync(weightsPath).isFile());
});

t.test('deploy/: the ClusterStorageContainer claims the modelgate+oci:// prefix; the example InferenceService uses it, pinned', async (t) => {
  const csc = readFileSync(join(REPO, 'deploy', 'cluster-storage-container.yaml'), 'utf8');
  t.match(csc, /^kind: ClusterStorageContainer$/m);
  t.match(csc, /^ {4}name: storage-initializer$/m);
  t.match(csc, /^ {4}command: \["modelgate", "init"\]$/m);
  t.match(csc, /^ {4}- prefix: modelgate\+oci:\/\/$/m);
  t.match(csc, /^ {2}workloadType: initContainer$/m);
  t.match(csc, /^ {2}supportsMultiModelDownload: true$/m);
  const cscObject = parseYaml(csc) as { spec: { container: { volumeMounts?: unknown } } };
  t.equal(cscObject.spec.container.volumeMounts, undefined, 'no volume a model pod does not have');
  const { SETTINGS } = await import('../../src/config/settings.ts');
  for (const [, name] of csc.matchAll(/- name: (MODELGATE_\w+)/g)) t.ok(SETTINGS.some((s) => s.env === name), `${name} is a setting the loader reads`);
  const isvc = readFileSync(join(REPO, 'deploy', 'inferenceservice-example.yaml'), 'utf8');
  t.match(isvc, /^kind: InferenceService$/m);
  const uri = /^ {6}storageUri: (\S+)$/m.exec(isvc)?.[1] ?? '';
  t.equal(refusalOfUri(uri), undefined, 'the example URI is a digest-pinned modelgate URI');
  t.match(locationOfUri(uri), { location: uri.slice('modelgate+'.length), ref: { digest: /^sha256:/ } });
});

t.test('a model carrying model.sig (OMS) is published only when its files verify against it', async (t) => {
  const modelDir = join(dir, 'oms-model');
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(join(modelDir, 'config.json'), '{"oms":true}');
  writeFileSync(join(modelDir, 'model.safetensors'), Buffer.alloc(4096, 'w'));
  const sig = keyBundle(omsStatement(fileResources(modelDir, walk(modelDir))), privateKey as KeyObject);
  const layers = (weightsBytes: Buffer): LayerSpec[] => [
    { mediaType: ModelPackMediaType.WEIGHT_CONFIG_RAW, bytes: Buffer.from('{"oms":true}'), filepath: 'config.json' },
    { mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: weightsBytes, filepath: 'model.safetensors' },
    { mediaType: ModelPackMediaType.DOC_RAW, bytes: Buffer.from(sig), filepath: 'model.sig' },
  ];
  const signedModel = await pushArtifact('oms-good', layers(Buffer.alloc(4096, 'w')));
  const swappedWeights = await pushArtifact('oms-swapped', layers(Buffer.alloc(4096, 'x')));
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: JSON.parse(readFileSync(dataPath, 'utf8')) as unknown });
  const deps: InitDeps = {
    pipeline: { stores: storeProvider({ registry: { timeoutMs: 5000 } }), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, timeoutMs: 5000 },
    cache: new BlobCache(join(dir, 'cache-oms')),
    log: () => {},
  };
  const ok = await initModel(uriOf(signedModel.manifest), join(dir, 'oms-good', 'models'), deps);
  t.match(ok, { kind: 'published', receipt: { modelSignature: { method: 'key', files: 2, verifiedAgainst: 'files', modelDigest: /^sha256:/ } } });
  mkdirSync(join(dir, 'oms-bad'));
  const bad = await initModel(uriOf(swappedWeights.manifest), join(dir, 'oms-bad', 'models'), deps);
  t.match(bad, { kind: 'refused', exitCode: 1, reasons: [{ code: 'MISMATCH' }] });
  t.same(readdirSync(join(dir, 'oms-bad')), [], 'nothing published');

  // A policy requiring the model signature: deferred before the pull, decided before publication.
  const data = JSON.parse(readFileSync(dataPath, 'utf8')) as { modelgate_config: Record<string, unknown> };
  const requiring = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: { modelgate_config: { ...data.modelgate_config, modelSignature: { required: true } } } });
  const events: Array<Record<string, unknown>> = [];
  const strict: InitDeps = { ...deps, pipeline: { ...deps.pipeline, engine: requiring }, log: (e) => events.push(e) };
  const required = await initModel(uriOf(signedModel.manifest), join(dir, 'oms-required', 'models'), strict);
  t.match(required, { kind: 'published', receipt: { stage: 'before-publish', warnings: [], modelSignature: { verifiedAgainst: 'files' } } });
  t.match(
    events.filter((e) => e.event === 'decision'),
    [
      { stage: 'before-pull', outcome: 'allow', warnings: [{ code: 'MODEL_SIGNATURE_DEFERRED' }] },
      { stage: 'before-publish', outcome: 'allow' },
    ],
  );
  // A restart with the model in place decides again on the receipt's record: still allowed.
  t.match(await initModel(uriOf(signedModel.manifest), join(dir, 'oms-required', 'models'), strict), { kind: 'published', reused: true });
  // No model.sig at all: pulled into staging, then denied before publication.
  mkdirSync(join(dir, 'oms-missing'));
  const missing = await initModel(uriOf(good.manifest), join(dir, 'oms-missing', 'models'), strict);
  t.match(missing, { kind: 'refused', exitCode: 1, reasons: [{ code: 'MODEL_SIGNATURE_MISSING' }] });
  t.same(readdirSync(join(dir, 'oms-missing')), [], 'nothing published');
  // A model published before the policy required it (receipt without a model signature) is refused on restart.
  const unsignedBefore = await initModel(uriOf(good.manifest), join(dir, 'good', 'mnt', 'models'), strict);
  t.match(unsignedBefore, { kind: 'refused', exitCode: 1, reasons: [{ code: 'MODEL_SIGNATURE_MISSING' }] });
});

t.test('a KServe modelcar image: files under models/, upper layers and whiteouts win, the rest of the image ignored', async (t) => {
  const base = gzipSync(
    tar([
      { name: 'bin/', type: '5' },
      { name: 'bin/su', body: Buffer.from('#!/bin/sh\n'), mode: 0o4755 },
      { name: 'dev/null', type: '3' },
      { name: 'models/', type: '5' },
      { name: 'models/config.json', body: Buffer.from('{"v":1}') },
      { name: 'models/old.bin', body: Buffer.from('old') },
      { name: 'models/sub/', type: '5' },
      { name: 'models/sub/x.txt', body: Buffer.from('x') },
    ]),
  );
  const top = tar([
    { name: 'models/config.json', body: Buffer.from('{"v":2}') },
    { name: 'models/.wh.old.bin' },
    { name: 'models/sub/', type: '5' },
    { name: 'models/sub/.wh..wh..opq' },
    { name: 'models/sub/y.txt', body: Buffer.from('y') },
  ]);
  const config = await store.pushBlob({ kind: 'bytes', mediaType: 'application/vnd.oci.image.config.v1+json', bytes: Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}') });
  const layers: Descriptor[] = [];
  for (const [bytes, mediaType] of [[base, 'application/vnd.oci.image.layer.v1.tar+gzip'], [top, 'application/vnd.oci.image.layer.v1.tar']] as const) {
    layers.push({ ...(await store.pushBlob({ kind: 'bytes', mediaType, bytes })), mediaType });
  }
  const body = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers };
  const manifest = await store.pushManifest(Buffer.from(JSON.stringify(body)), body.mediaType);
  await attachBundle(store, manifest, signStatementBundle([{ digest: manifest.digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, privateKey as KeyObject));
  const provenance = { buildDefinition: { buildType: 'https://modelgate.dev/buildtypes/train/v1', externalParameters: {}, resolvedDependencies: [{ uri: `git+${SOURCE}@refs/heads/main`, digest: { gitCommit: '1'.repeat(40) } }] }, runDetails: { builder: { id: BUILDER }, metadata: {} } };
  await attachBundle(store, manifest, signStatementBundle([{ name: 'model', digest: manifest.digest }], SLSA_V1, provenance, privateKey as KeyObject));
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: JSON.parse(readFileSync(dataPath, 'utf8')) as unknown });
  const deps: InitDeps = {
    pipeline: { stores: storeProvider({ registry: { timeoutMs: 5000 } }), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, timeoutMs: 5000 },
    cache: new BlobCache(join(dir, 'cache-modelcar')),
    log: () => {},
  };
  const dest = join(dir, 'modelcar', 'models');
  const outcome = await initModel(uriOf(manifest), dest, deps);
  t.match(outcome, { kind: 'published', digest: manifest.digest });
  t.same(readdirSync(dest).sort(), ['.modelgate', 'config.json', 'sub']);
  t.equal(readFileSync(join(dest, 'config.json'), 'utf8'), '{"v":2}');
  t.same(readdirSync(join(dest, 'sub')), ['y.txt']);
});

t.test('in-place publication (DEST is a mount point): receipt last, an interrupted commit is undone on the next run', async (t) => {
  const { commitStaging, prepareStaging, readReceipt } = await import('../../src/init/publish.ts');
  const dest = join(dir, 'in-place', 'models');
  mkdirSync(dest, { recursive: true });
  const staging = await prepareStaging(dest, { mode: 'in-place' });
  t.equal(staging.mode, 'in-place');
  writeFileSync(join(staging.dir, 'weights.bin'), 'w');
  mkdirSync(join(staging.dir, '.modelgate'));
  writeFileSync(join(staging.dir, '.modelgate', 'receipt.json'), JSON.stringify({ digest: 'sha256:' + 'a'.repeat(64) }));
  await commitStaging(staging);
  t.same(readdirSync(dest).sort(), ['.modelgate', 'weights.bin']);
  t.match(await readReceipt(dest), { digest: 'sha256:' + 'a'.repeat(64) });

  // A crash mid-commit: the marker lists what was being moved; the receipt does not count while it exists.
  rmSync(dest, { recursive: true });
  mkdirSync(join(dest, '.modelgate'), { recursive: true });
  writeFileSync(join(dest, 'weights.bin'), 'partial');
  writeFileSync(join(dest, '.modelgate', 'receipt.json'), '{}');
  writeFileSync(join(dest, '.modelgate-incomplete'), JSON.stringify(['weights.bin', '.modelgate']));
  mkdirSync(join(dest, `.modelgate-staging-999999999-dead`));
  t.equal(await readReceipt(dest), undefined, 'an interrupted commit has no receipt');
  const again = await prepareStaging(dest, { mode: 'in-place' });
  t.same(readdirSync(dest), [`.modelgate-staging-${process.pid}-${again.dir.split('-').at(-1)}`], 'leftovers and dead staging removed');
  // Anything else in DEST is not ours: refused.
  rmSync(again.dir, { recursive: true });
  writeFileSync(join(dest, 'foreign.txt'), 'x');
  await t.rejects(prepareStaging(dest), { code: 'DEST_NOT_EMPTY' });
});

t.test('cache: least recently used blobs are evicted above the size bound, blobs in use are kept', async (t) => {
  const cache = new BlobCache(join(dir, 'cache-lru'), { maxBytes: 250 });
  await cache.init();
  const blobs = ['a', 'b', 'c'].map((c) => {
    const bytes = Buffer.alloc(100, c);
    return { bytes, descriptor: { mediaType: 'application/octet-stream', digest: sha256(bytes) as Descriptor['digest'], size: 100 } };
  });
  for (const blob of blobs) {
    await cache.obtain(blob.descriptor, async ({ path }) => writeFileSync(path, blob.bytes));
    await new Promise((r) => setTimeout(r, 5));
  }
  // Using "a" again makes "b" the least recently used.
  t.match(await cache.obtain(blobs[0]!.descriptor, async () => {
    t.fail('cached: no download');
  }), { reused: true });
  t.same(await cache.evict(new Set([blobs[2]!.descriptor.digest])), [blobs[1]!.descriptor.digest]);
  t.notOk(existsSync(cache.blobPath(blobs[1]!.descriptor.digest)));
  t.ok(existsSync(cache.blobPath(blobs[0]!.descriptor.digest)));
  t.same(await cache.evict(new Set()), [], 'within the bound now');
});

t.test('layers below 1 MiB are pulled up to 4 × --concurrency at once, larger ones --concurrency at once', async (t) => {
  const small = ['a', 'b', 'c', 'd'].map((c): LayerSpec => ({ mediaType: ModelPackMediaType.WEIGHT_CONFIG_RAW, bytes: Buffer.from(`{"${c}":1}`), filepath: `${c}.json` }));
  const large = [1, 2].map((n): LayerSpec => ({ mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: Buffer.alloc(1024 * 1024 + n, n), filepath: `shard-${n}.bin` }));
  const many = await pushArtifact('many-layers', [...small, ...large]);
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: JSON.parse(readFileSync(dataPath, 'utf8')) as unknown });
  const stores = storeProvider({ registry: { timeoutMs: 5000 } });
  // Every small download waits until all four are in flight (with fewer at once the test would hang);
  // large downloads count how many run together.
  let smallActive = 0;
  let largeActive = 0;
  let largeMax = 0;
  const allSmallStarted = Promise.withResolvers<void>();
  const counting: typeof stores = (ref) => {
    const inner = stores(ref);
    return new Proxy(inner, {
      get(target, name) {
        if (name !== 'downloadBlob') {
          const value = Reflect.get(target, name, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
        return async (descriptor: Descriptor, path: string, options: Parameters<typeof inner.downloadBlob>[2]) => {
          if (descriptor.size < 1024 * 1024) {
            if (++smallActive === small.length) allSmallStarted.resolve();
            await allSmallStarted.promise;
          } else {
            largeMax = Math.max(largeMax, ++largeActive);
          }
          try {
            await target.downloadBlob(descriptor, path, options);
          } finally {
            if (descriptor.size >= 1024 * 1024) largeActive--;
          }
        };
      },
    });
  };
  const deps: InitDeps = {
    pipeline: { stores: counting, trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, timeoutMs: 5000 },
    cache: undefined,
    concurrency: 1,
    log: () => {},
  };
  const dest = join(dir, 'many-layers', 'models');
  const outcome = await initModel(uriOf(many.manifest, proxy.host), dest, deps);
  t.equal(outcome.kind, 'published', JSON.stringify(outcome));
  t.equal(smallActive, small.length, 'the four small layers were in flight at once with --concurrency 1');
  t.equal(largeMax, 1, 'the large layers one at a time');
  t.same(readFileSync(join(dest, 'shard-2.bin')), large[1]!.bytes);
  t.equal(readFileSync(join(dest, 'd.json'), 'utf8'), '{"d":1}');
});

t.test('cache: a trusted blob is used without taking its lease; a torn record is not trusted (downloaded again)', async (t) => {
  const cache = new BlobCache(join(dir, 'cache-lock-free'));
  await cache.init();
  const bytes = Buffer.from('used without a lease');
  const descriptor: Descriptor = { mediaType: 'application/octet-stream', digest: sha256(bytes) as Descriptor['digest'], size: bytes.length };
  await cache.obtain(descriptor, async ({ path }) => writeFileSync(path, bytes));
  await cache.sync();
  // A live holder (this process, a fresh lease) holds the blob's lease: an obtain that took it would wait.
  const hex = descriptor.digest.slice('sha256:'.length);
  const lease = join(cache.root, 'locks', `${hex}.lease`);
  writeFileSync(lease, JSON.stringify({ owner: 'another-holder', pid: process.pid, bootId: BOOT_ID, pidNamespace: PID_NAMESPACE }));
  t.match(
    await cache.obtain(descriptor, async () => {
      t.fail('cached: no download');
    }),
    { reused: true, path: cache.blobPath(descriptor.digest) },
  );
  t.equal(JSON.parse(readFileSync(lease, 'utf8')).owner, 'another-holder', 'the lease is untouched');
  rmSync(lease);
  // A record torn by a crash (renamed into place, its content never flushed) is not trusted.
  const record = join(cache.root, 'records', 'sha256', `${hex}.json`);
  writeFileSync(record, '{"digest":"sha2');
  let downloads = 0;
  const use = await cache.obtain(descriptor, async ({ path }) => {
    downloads++;
    writeFileSync(path, bytes);
  });
  t.equal(downloads, 1);
  t.equal(use.reused, false);
  t.equal(JSON.parse(readFileSync(record, 'utf8')).digest, descriptor.digest, 'the record is written again');
  t.same(readdirSync(join(cache.root, 'records', 'sha256')), [`${hex}.json`], 'no temporary record left');
});

t.test('progress: a terminal bar with percentage, bytes, rate and ETA', async (t) => {
  const { progressBar } = await import('../../src/cli/init.ts');
  t.equal(progressBar({ bytes: 2 ** 30, total: 2 * 2 ** 30, bytesPerSecond: 120e6, etaSeconds: 9 }, 10), '[#####-----]  50%  1.00/2.00 GiB  120 MB/s  ETA 9 s');
  t.equal(progressBar({ bytes: 0, total: 0, bytesPerSecond: 0, etaSeconds: null }, 4), '[####] 100%  0.00/0.00 GiB  0 MB/s  ETA ?');
});
