import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent } from 'undici';
import { RegistryStore } from '../../src/oci/registry.ts';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { MediaType, EMPTY_DESCRIPTOR, EMPTY_JSON, type Descriptor } from '../../src/oci/manifest.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';
import { startRegistry } from '../helpers/registry.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';

const registry = await startRegistry({ t });
const scratch = mkdtempSync(join(tmpdir(), 'modelgate-registry-test-'));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));

function imageManifest(config: Descriptor, layers: Descriptor[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config, layers, ...extra }));
}

t.test('push blob (monolithic) and manifest, resolve tag, fetch by digest', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'acme/model' });
  const config = await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  t.same(config, EMPTY_DESCRIPTOR);
  const content = randomBytes(300_000);
  const layer = await store.pushBlob({ kind: 'bytes', bytes: content, mediaType: 'application/octet-stream' });
  t.equal(layer.digest, digestOf(content));
  t.equal(await store.hasBlob(layer.digest), true);
  t.equal(await store.hasBlob(digestOf('nope')), false);
  const bytes = imageManifest(config, [layer], { artifactType: 'application/vnd.test.model' });
  const pushed = await store.pushManifest(bytes, MediaType.OCI_MANIFEST, { tag: 'v1' });
  t.equal(pushed.digest, digestOf(bytes));
  const resolved = await store.resolve('v1');
  t.same(resolved, { mediaType: MediaType.OCI_MANIFEST, digest: digestOf(bytes), size: bytes.length });
  const fetched = await store.fetchManifest(resolved.digest);
  t.ok(fetched.bytes.equals(bytes));
  t.equal(fetched.manifest.kind, 'manifest');
  const byTag = await store.fetchManifest('v1');
  t.equal(byTag.descriptor.digest, resolved.digest);
  t.ok((await store.fetchBlob(layer)).equals(content));
  t.equal(await text(await store.openBlob(config)), '{}');
  const target = join(scratch, 'layer.bin');
  let progress = 0;
  await store.downloadBlob(layer, target, { onProgress: (done) => (progress = done) });
  t.ok(readFileSync(target).equals(content));
  t.equal(progress, content.length);
  t.same(readdirSync(scratch).filter((f) => f.includes('.partial')), []);
  t.same(await store.listTags(), ['v1']);
});

t.test('chunked upload streams a file in PATCH chunks', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'acme/chunked' }, { chunkedUploadThreshold: 1000, uploadChunkSize: 64 * 1024 });
  const content = randomBytes(300_001);
  const path = join(scratch, 'big.bin');
  writeFileSync(path, content);
  const d = await store.pushBlob({ kind: 'file', path, digest: digestOf(content), size: content.length, mediaType: 'application/octet-stream' });
  t.equal(d.size, content.length);
  t.ok((await store.fetchBlob(d)).equals(content));
  // a file whose declared digest is wrong is refused by the registry
  const other = randomBytes(5000);
  const otherPath = join(scratch, 'other.bin');
  writeFileSync(otherPath, other);
  await rejectsWith(t, store.pushBlob({ kind: 'file', path: otherPath, digest: digestOf('x'), size: other.length, mediaType: 'application/octet-stream' }), ['DIGEST_MISMATCH']);
});

t.test('verification failures', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'acme/verify' });
  const content = Buffer.from('hello blob');
  const d = await store.pushBlob({ kind: 'bytes', bytes: content, mediaType: 'text/plain' });
  await rejectsWith(t, store.fetchBlob({ ...d, size: 5 }), ['SIZE_MISMATCH']);
  await rejectsWith(t, store.fetchBlob({ ...d, size: 100 }), ['TOO_LARGE', 'SIZE_MISMATCH']);
  await rejectsWith(t, store.fetchBlob(d, { maxBytes: 4 }), ['TOO_LARGE']);
  await rejectsWith(t, store.fetchManifest(digestOf('missing')), ['NOT_FOUND']);
  await rejectsWith(t, store.resolve('nosuchtag'), ['NOT_FOUND']);
  await rejectsWith(t, store.openBlob({ ...d, size: 5 }).then(text), ['SIZE_MISMATCH']);
  const target = join(scratch, 'short.bin');
  await rejectsWith(t, store.downloadBlob({ ...d, size: 5 }, target), ['SIZE_MISMATCH']);
  t.notOk(existsSync(target));
});

t.test('tags list follows Link pagination', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'acme/many-tags' }, { tagPageSize: 2 });
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const bytes = imageManifest(EMPTY_DESCRIPTOR, []);
  const tags = ['a1', 'b2', 'c3', 'd4', 'e5'];
  for (const tag of tags) await store.pushManifest(bytes, MediaType.OCI_MANIFEST, { tag });
  t.same((await store.listTags()).sort(), tags);
  await rejectsWith(t, new RegistryStore({ registry: registry.host, repository: 'acme/none' }).listTags(), ['NOT_FOUND']);
});

t.test('bad selectors and bad manifests are refused before any request', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'acme/model' });
  await rejectsWith(t, store.fetchManifest('../../etc'), ['BAD_REFERENCE']);
  await rejectsWith(t, store.resolve('sha256:abc'), ['BAD_REFERENCE']);
  await rejectsWith(t, store.pushManifest(Buffer.from('{"schemaVersion":1}'), MediaType.OCI_MANIFEST), ['BAD_MANIFEST']);
  await rejectsWith(t, store.pushManifest(imageManifest(EMPTY_DESCRIPTOR, []), MediaType.OCI_MANIFEST, { tag: 'bad tag' }), ['BAD_REFERENCE']);
});

t.test('abort and an unreachable registry', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'acme/model' });
  const controller = new AbortController();
  controller.abort();
  await rejectsWith(t, store.resolve('v1', { signal: controller.signal }), ['ABORTED']);
  const closed = new RegistryStore({ registry: '127.0.0.1:1', repository: 'x' });
  await rejectsWith(t, closed.resolve('v1', { timeoutMs: 5000 }), ['NETWORK']);
});

t.test('connections are kept alive across HEAD, GET and 404s', async (t) => {
  const dispatcher = new Agent();
  t.teardown(() => dispatcher.close());
  const store = new RegistryStore({ registry: registry.host, repository: 'acme/keepalive' }, { dispatcher });
  const blob = await store.pushBlob({ kind: 'bytes', bytes: randomBytes(200_000), mediaType: 'application/octet-stream' });
  let connections = 0;
  const onConnect = () => connections++;
  subscribe('undici:client:connected', onConnect);
  t.teardown(() => unsubscribe('undici:client:connected', onConnect));
  for (let i = 0; i < 5; i++) {
    t.equal(await store.hasBlob(blob.digest), true);
    t.equal(await store.hasBlob(digestOf(`missing ${i}`)), false);
    await rejectsWith(t, store.fetchManifest('missing'), ['NOT_FOUND']);
    t.equal((await store.fetchBlob(blob)).length, 200_000);
  }
  t.ok(connections <= 1, `the pushing connection (or one new one) serves every later call (${connections} opened)`);
});

t.test('small reads retry transient failures (5xx, dropped connection) twice, not 4xx', async (t) => {
  const proxy = await startFaultProxy({ upstream: registry.url });
  t.teardown(() => proxy.stop());
  const direct = new RegistryStore({ registry: registry.host, repository: 'acme/retry' });
  await direct.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const bytes = imageManifest(EMPTY_DESCRIPTOR, []);
  await direct.pushManifest(bytes, MediaType.OCI_MANIFEST, { tag: 'v1' });
  const store = new RegistryStore({ registry: proxy.host, repository: 'acme/retry' });
  const manifestPath = /\/v2\/acme\/retry\/manifests\/v1$/;

  proxy.setRules([{ method: 'GET', path: manifestPath, nth: [1, 2], fault: { kind: 'status', status: 503 } }]);
  proxy.clearRecords();
  t.ok((await store.fetchManifest('v1')).bytes.equals(bytes), 'third attempt succeeds');
  t.equal(proxy.count('GET', manifestPath), 3);

  proxy.setRules([{ method: 'GET', path: manifestPath, nth: 1, fault: { kind: 'truncate', afterBytes: 5 } }]);
  proxy.clearRecords();
  t.ok((await store.fetchManifest('v1')).bytes.equals(bytes), 'a dropped connection is retried');

  proxy.setRules([{ method: 'GET', path: manifestPath, fault: { kind: 'status', status: 500 } }]);
  proxy.clearRecords();
  await rejectsWith(t, store.fetchManifest('v1'), ['REGISTRY_ERROR']);
  t.equal(proxy.count('GET', manifestPath), 3, 'bounded: 1 + 2 retries');

  proxy.setRules([{ method: 'GET', path: manifestPath, fault: { kind: 'status', status: 403 } }]);
  proxy.clearRecords();
  await rejectsWith(t, store.fetchManifest('v1'), ['DENIED']);
  t.equal(proxy.count('GET', manifestPath), 1, '4xx is not retried');
});
