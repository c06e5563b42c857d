import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, cp, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { hasCode, OciError, type OciErrorCode } from '../../src/errors.ts';
import { digestOf, parseDigest } from '../../src/oci/digest.ts';
import { LayoutStore, REF_NAME_ANNOTATION } from '../../src/oci/layout.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, type Descriptor } from '../../src/oci/manifest.ts';
import { cosignTag, referrersFallbackTag } from '../../src/oci/tag-schema.ts';

const REPO = join(import.meta.dirname, '../..');
const NODE = join(REPO, 'node_modules/.bin/node');
const VECTORS = join(REPO, '../shared/vectors');
const COSIGN_LAYOUT = join(VECTORS, 'slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch');
const COSIGN_IMAGE = parseDigest(readFileSync(join(VECTORS, 'slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch.digest'), 'utf8').trim());

function manifestBytes(config: Descriptor, layers: Descriptor[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, ...extra, config, layers }));
}

async function pushSimple(store: LayoutStore, content: string, tag?: string, extra: Record<string, unknown> = {}): Promise<Descriptor> {
  const config = await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const layer = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from(content), mediaType: 'text/plain' });
  return store.pushManifest(manifestBytes(config, [layer], extra), MediaType.OCI_MANIFEST, tag === undefined ? {} : { tag });
}

async function rejects(t: Test, promise: Promise<unknown>, code: OciErrorCode, message: string): Promise<void> {
  try {
    await promise;
    t.fail(`${message}: expected ${code}, resolved`);
  } catch (err) {
    t.ok(hasCode(err, OciError, code), `${message}: ${code} (${(err as Error).message})`);
  }
}

t.test('create, push, tag, resolve and read back', async (t) => {
  const dir = t.testdir();
  const store = new LayoutStore(join(dir, 'layout'), { create: true });
  t.same(JSON.parse(readFileSync(join(dir, 'layout/oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  t.equal(store.name, `oci-layout://${join(dir, 'layout')}`);

  const weights = Buffer.alloc(5 * 1024 * 1024 + 17, 7);
  await writeFile(join(dir, 'weights.bin'), weights);
  const fileBlob = await store.pushBlob({ kind: 'file', path: join(dir, 'weights.bin'), digest: digestOf(weights), size: weights.byteLength, mediaType: 'application/octet-stream' });
  t.same(fileBlob, { mediaType: 'application/octet-stream', digest: digestOf(weights), size: weights.byteLength });
  t.ok(await store.hasBlob(digestOf(weights)));
  t.notOk(await store.hasBlob(digestOf('absent')));

  const config = await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  t.same(config, EMPTY_DESCRIPTOR);
  const bytes = manifestBytes(config, [fileBlob], { artifactType: 'application/x.test' });
  const pushed = await store.pushManifest(bytes, MediaType.OCI_MANIFEST, { tag: 'v1' });
  t.equal(pushed.digest, digestOf(bytes));
  t.equal(pushed.artifactType, 'application/x.test');

  const index = JSON.parse(readFileSync(join(dir, 'layout/index.json'), 'utf8'));
  t.same(index.manifests.map((m: Descriptor) => [m.digest, m.annotations?.[REF_NAME_ANNOTATION]]), [[pushed.digest, 'v1']]);

  t.same(await store.resolve('v1'), pushed);
  t.same(await store.resolve(pushed.digest), pushed);
  const fetched = await store.fetchManifest('v1');
  t.same(fetched.bytes, bytes);
  t.equal(fetched.manifest.kind, 'manifest');
  t.same(await store.listTags(), ['v1']);

  t.same(await store.fetchBlob(fileBlob), weights);
  await rejects(t, store.fetchBlob(fileBlob, { maxBytes: 1024 }), 'TOO_LARGE', 'fetchBlob over maxBytes');
  const stream = await store.openBlob(fileBlob);
  let streamed = 0;
  for await (const chunk of stream) streamed += (chunk as Buffer).byteLength;
  t.equal(streamed, weights.byteLength);

  const progress: number[] = [];
  await store.downloadBlob(fileBlob, join(dir, 'out.bin'), { onProgress: (done) => progress.push(done) });
  t.same(await readFile(join(dir, 'out.bin')), weights);
  t.equal(progress.at(-1), weights.byteLength);
  t.same((await readdir(dir)).sort(), ['layout', 'out.bin', 'weights.bin'], 'no temp files left behind');

  await rejects(t, store.resolve('v2'), 'NOT_FOUND', 'unknown tag');
  await rejects(t, store.resolve(digestOf('nothing')), 'NOT_FOUND', 'unknown digest');
  await rejects(t, store.resolve('sha256:abc'), 'BAD_DIGEST', 'malformed digest');
});

t.test('tampered, truncated and padded content is refused', async (t) => {
  const dir = t.testdir();
  const store = new LayoutStore(dir, { create: true });
  const layerBytes = Buffer.alloc(3 * 1024 * 1024, 1);
  const layer = await store.pushBlob({ kind: 'bytes', bytes: layerBytes, mediaType: 'application/octet-stream' });
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const manifest = await store.pushManifest(manifestBytes(EMPTY_DESCRIPTOR, [layer]), MediaType.OCI_MANIFEST, { tag: 'x' });
  const layerPath = store.blobPath(layer.digest);

  // Same size, one byte flipped.
  const flipped = Buffer.from(layerBytes);
  flipped[1234] = 2;
  await writeFile(layerPath, flipped);
  await rejects(t, store.fetchBlob(layer), 'DIGEST_MISMATCH', 'fetchBlob of a flipped byte');
  const stream = await store.openBlob(layer);
  await rejects(t, text(stream), 'DIGEST_MISMATCH', 'openBlob emits an error instead of end');
  await rejects(t, store.downloadBlob(layer, join(dir, 'pulled.bin')), 'DIGEST_MISMATCH', 'downloadBlob');
  t.notOk(existsSync(join(dir, 'pulled.bin')), 'nothing published at the target path');
  t.same((await readdir(dir)).filter((n) => n.includes('tmp')), [], 'temp file removed');

  await truncate(layerPath, 100);
  await rejects(t, store.fetchBlob(layer), 'SIZE_MISMATCH', 'truncated blob');
  await rejects(t, text(await store.openBlob(layer)), 'SIZE_MISMATCH', 'truncated blob stream');
  await writeFile(layerPath, layerBytes);
  await appendFile(layerPath, 'x');
  await rejects(t, store.fetchBlob(layer), 'SIZE_MISMATCH', 'padded blob');
  await rejects(t, text(await store.openBlob(layer)), 'SIZE_MISMATCH', 'padded blob stream');

  const manifestPath = store.blobPath(manifest.digest);
  const original = await readFile(manifestPath);
  await writeFile(manifestPath, Buffer.from(original.toString('utf8').replace('"layers"', '"layerz"')));
  await rejects(t, store.fetchManifest('x'), 'DIGEST_MISMATCH', 'tampered manifest by tag');
  await rejects(t, store.fetchManifest(manifest.digest), 'DIGEST_MISMATCH', 'tampered manifest by digest');

  await rejects(t, store.pushBlob({ kind: 'file', path: manifestPath, digest: digestOf('other'), size: original.byteLength, mediaType: 'x' }), 'DIGEST_MISMATCH', 'pushBlob verifies a file source');
  t.notOk(await store.hasBlob(digestOf('other')), 'refused file source not stored');
});

t.test('pushManifest refuses manifests whose content is missing or malformed', async (t) => {
  const store = new LayoutStore(t.testdir(), { create: true });
  const missing = { mediaType: 'text/plain', digest: digestOf('missing'), size: 7 };
  await rejects(t, store.pushManifest(manifestBytes(EMPTY_DESCRIPTOR, [missing]), MediaType.OCI_MANIFEST), 'NOT_FOUND', 'missing layer');
  await rejects(t, store.pushManifest(Buffer.from('{"schemaVersion":1}'), MediaType.OCI_MANIFEST), 'BAD_MANIFEST', 'schema 1');
  await rejects(t, pushSimple(store, 'a', 'bad tag!'), 'BAD_REFERENCE', 'bad tag');
  t.same(await store.listTags(), []);
});

t.test('moving a tag keeps the old manifest reachable', async (t) => {
  const dir = t.testdir();
  const store = new LayoutStore(dir, { create: true });
  const first = await pushSimple(store, 'one', 'latest');
  const again = await pushSimple(store, 'one', 'latest');
  t.equal(again.digest, first.digest);
  const second = await pushSimple(store, 'two', 'latest');
  t.equal((await store.resolve('latest')).digest, second.digest);
  const entries = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests as Descriptor[];
  t.same(entries.map((e) => [e.digest, e.annotations?.[REF_NAME_ANNOTATION]]), [[second.digest, 'latest'], [first.digest, undefined]]);
  t.equal((await store.resolve(first.digest)).digest, first.digest);
  await pushSimple(store, 'one', 'old');
  const after = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests as Descriptor[];
  t.equal(after.filter((e) => e.digest === first.digest).length, 1, 'untagged entry replaced by the tagged one');
});

t.test('referrers: index.json entries with a matching subject, and a fallback tag index', async (t) => {
  const store = new LayoutStore(t.testdir(), { create: true });
  const subject = await pushSimple(store, 'model', 'v1');
  const sig = await pushSimple(store, 'signature', undefined, {
    artifactType: MediaType.SIGSTORE_BUNDLE_V03,
    subject,
    annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
  });
  const other = await pushSimple(store, 'sbom', undefined, { artifactType: 'application/spdx+json', subject });
  await pushSimple(store, 'unrelated', undefined, { artifactType: 'application/spdx+json', subject: other });

  const all = await store.listReferrers(subject.digest);
  t.same(all.map((d) => d.digest).sort(), [sig.digest, other.digest].sort());
  const bundle = all.find((d) => d.digest === sig.digest);
  t.equal(bundle?.artifactType, MediaType.SIGSTORE_BUNDLE_V03);
  t.same(bundle?.annotations, { 'dev.sigstore.bundle.content': 'dsse-envelope' });
  t.same((await store.listReferrers(subject.digest, { artifactType: 'application/spdx+json' })).map((d) => d.digest), [other.digest]);
  t.same(await store.listReferrers(digestOf('nobody')), []);

  // A referrer only reachable through a `sha256-<hex>` fallback index written by another tool.
  const config = EMPTY_DESCRIPTOR;
  const layer = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from('fallback'), mediaType: 'text/plain' });
  const hiddenBytes = manifestBytes(config, [layer], { artifactType: 'application/x.hidden', subject });
  const hidden = await store.pushBlob({ kind: 'bytes', bytes: hiddenBytes, mediaType: MediaType.OCI_MANIFEST });
  const fallbackIndex = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [hidden] }));
  await store.pushManifest(fallbackIndex, MediaType.OCI_INDEX, { tag: referrersFallbackTag(subject.digest) });
  const withFallback = await store.listReferrers(subject.digest);
  t.ok(withFallback.some((d) => d.digest === hidden.digest && d.artifactType === 'application/x.hidden'), 'fallback referrer found');
  t.equal(withFallback.length, 3);
});

t.test('cosign save layout (real vector): digests, unlisted manifests and cosign tags', async (t) => {
  const store = new LayoutStore(COSIGN_LAYOUT);
  const image = await store.fetchManifest(COSIGN_IMAGE);
  t.equal(image.descriptor.mediaType, MediaType.OCI_INDEX);
  t.equal(image.manifest.kind, 'index');
  // The platform manifest is inside the image index, not listed in index.json.
  const platform = image.manifest.kind === 'index' ? image.manifest.manifests[0]! : undefined;
  t.ok(platform);
  const platformManifest = await store.fetchManifest(platform!.digest);
  t.equal(platformManifest.descriptor.size, platform!.size);
  t.equal(platformManifest.manifest.kind, 'manifest');

  const attTag = cosignTag(COSIGN_IMAGE, 'att');
  t.same(await store.listTags(), [attTag]);
  const att = await store.fetchManifest(attTag);
  t.equal(att.descriptor.digest, 'sha256:21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe');
  t.equal(att.manifest.kind === 'manifest' ? att.manifest.layers[0]?.mediaType : undefined, MediaType.DSSE_ENVELOPE);
  await rejects(t, store.resolve(cosignTag(COSIGN_IMAGE, 'sig')), 'NOT_FOUND', 'no .sig in this layout');
  t.same(await store.listReferrers(COSIGN_IMAGE), [], 'legacy cosign attestations are not OCI referrers');
});

t.test('not a layout, unsupported version, corrupt index.json', async (t) => {
  const dir = t.testdir({ empty: {}, future: { 'oci-layout': '{"imageLayoutVersion":"2.0.0"}' }, broken: { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', 'index.json': '{"schemaVersion":2,' } });
  await rejects(t, new LayoutStore(join(dir, 'missing')).resolve('v1'), 'NOT_FOUND', 'missing directory');
  await rejects(t, new LayoutStore(join(dir, 'empty')).listTags(), 'NOT_FOUND', 'no oci-layout file');
  await rejects(t, new LayoutStore(join(dir, 'future')).listTags(), 'UNSUPPORTED', 'layout version 2');
  await rejects(t, new LayoutStore(join(dir, 'broken')).listTags(), 'BAD_MANIFEST', 'corrupt index.json');
});

t.test('an aborted signal stops reads', async (t) => {
  const store = new LayoutStore(t.testdir(), { create: true });
  const d = await pushSimple(store, 'content', 'v1');
  const controller = new AbortController();
  controller.abort();
  await rejects(t, store.fetchManifest(d.digest, { signal: controller.signal }), 'ABORTED', 'fetchManifest');
});

t.test('concurrent writers in several processes lose no index.json entries', async (t) => {
  const dir = t.testdir();
  const layout = join(dir, 'layout');
  new LayoutStore(layout, { create: true });
  const script = `
    import { LayoutStore } from ${JSON.stringify(join(REPO, 'src/oci/layout.ts'))};
    const store = new LayoutStore(process.argv[1], { create: true });
    const prefix = process.argv[2];
    await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      const config = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from('{}'), mediaType: 'application/vnd.oci.empty.v1+json' });
      const layer = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from(prefix + i), mediaType: 'text/plain' });
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }));
      await store.pushManifest(bytes, 'application/vnd.oci.image.manifest.v1+json', { tag: prefix + i });
    }));
  `;
  const run = (prefix: string) =>
    new Promise<number>((resolve, reject) => {
      const child = spawn(NODE, ['--input-type=module', '-e', script, layout, prefix], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('exit', (code) => resolve(code ?? -1));
    });
  t.same(await Promise.all([run('a'), run('b'), run('c')]), [0, 0, 0]);
  const tags = await new LayoutStore(layout).listTags();
  t.equal(tags.length, 36, 'all 36 tags recorded');
  t.notOk(existsSync(join(layout, 'index.json.lock')), 'lock released');
});

t.test('a copy of a layout is an independent store (blobs verified, not trusted by path)', async (t) => {
  const dir = t.testdir();
  const store = new LayoutStore(join(dir, 'a'), { create: true });
  const d = await pushSimple(store, 'copy me', 'v1');
  await cp(join(dir, 'a'), join(dir, 'b'), { recursive: true });
  const copy = new LayoutStore(join(dir, 'b'));
  t.same(await copy.resolve('v1'), d);
});
