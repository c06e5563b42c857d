/**
 * Fault injection for the registry client: a real docker-registry behind `fault-proxy`, and for each
 * misbehaviour the client must fail with the right typed OciError within its deadline, never hand out
 * corrupted bytes as good, never leave a file (final or temporary) behind, and resume broken downloads
 * with `Range`.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { OciError, hasCode, type OciErrorCode } from '../../src/errors.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { MediaType, type Descriptor } from '../../src/oci/manifest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { Secret, staticCredentials, type CredentialSource } from '../../src/oci/credentials.ts';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../helpers/fault-proxy.ts';
import { startRegistry, type RunningRegistry } from '../helpers/registry.ts';

const REPOSITORY = 'faults/model';
const BLOB_SIZE = 3 * 1024 * 1024 + 123;
const BLOB_PATH = /\/blobs\/sha256:/;
const MANIFEST_PATH = /\/manifests\//;
/**
 * Short deadlines keep the file fast. Only lower bounds are asserted on elapsed time (a loaded machine
 * only makes it longer); that a call ends at all, with the right code, when nothing but its deadline
 * (or abort) could end it, is what proves the deadline.
 */
const TIMEOUT_MS = 400;

interface Fixture {
  readonly registry: RunningRegistry;
  readonly proxy: FaultProxy;
  readonly blob: Buffer;
  readonly blobDescriptor: Descriptor;
  readonly manifestDescriptor: Descriptor;
  readonly manifestBytes: Buffer;
  readonly workDir: string;
}

async function setUp(auth: 'none' | 'basic'): Promise<Fixture> {
  const registry = await startRegistry({ auth, t });
  const direct = new RegistryStore({ registry: registry.host, repository: REPOSITORY }, { credentials: credentialsFor(registry, registry.host) });
  const blob = randomBytes(BLOB_SIZE);
  const blobDescriptor = await direct.pushBlob({ kind: 'bytes', bytes: blob, mediaType: MediaType.OCI_LAYER_TAR });
  const config = await direct.pushBlob({ kind: 'bytes', bytes: Buffer.from('{}'), mediaType: MediaType.OCI_EMPTY });
  const manifestBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.test.model', config, layers: [blobDescriptor] }),
  );
  const manifestDescriptor = await direct.pushManifest(manifestBytes, MediaType.OCI_MANIFEST, { tag: 'v1' });
  const proxy = await startFaultProxy({
    upstream: registry.url,
    objectStoreAuthorization: auth === 'basic' ? `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}` : undefined,
  });
  t.teardown(() => proxy.stop());
  const workDir = mkdtempSync(join(tmpdir(), 'modelgate-faults-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  return { registry, proxy, blob, blobDescriptor, manifestDescriptor, manifestBytes, workDir };
}

function credentialsFor(registry: RunningRegistry, host: string): CredentialSource | undefined {
  if (registry.auth === 'none') return undefined;
  return staticCredentials(host, { kind: 'basic', username: registry.username, password: new Secret(registry.password) });
}

/** A fresh client (no cached auth) that talks to the registry through the fault proxy. */
function clientThroughProxy(fx: Fixture): RegistryStore {
  return new RegistryStore({ registry: fx.proxy.host, repository: REPOSITORY }, { credentials: credentialsFor(fx.registry, fx.proxy.host) });
}

function arm(fx: Fixture, rules: FaultRule[]): void {
  fx.proxy.setRules(rules);
  fx.proxy.clearRecords();
}

/** Run `fn`, expecting an OciError with `code`; returns the elapsed milliseconds. */
async function rejectsWith(tt: Test, fn: () => Promise<unknown>, code: OciErrorCode, what: string): Promise<number> {
  const started = performance.now();
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  const elapsed = performance.now() - started;
  tt.ok(caught instanceof OciError, `${what}: fails with an OciError (got ${String(caught)})`);
  tt.equal((caught as OciError | undefined)?.code, code, `${what}: code ${code} (${(caught as Error | undefined)?.message})`);
  return elapsed;
}

interface StreamOutcome {
  /** The stream reached `end`: the consumer would accept the bytes. */
  readonly ended: boolean;
  /** Why the blob was refused: `openBlob` rejected, or the stream emitted `error`. */
  readonly error: unknown;
  readonly bytes: number;
  /** Where the refusal came from. */
  readonly stage: 'open' | 'stream' | 'none';
}

/**
 * Open and consume a blob stream the way a careful consumer would (bytes count only once `end`
 * fires). A refusal may come early (openBlob rejects, e.g. on a Content-Length that contradicts the
 * descriptor) or late (the stream errors); either way the stream must not end.
 */
async function readBlobStream(store: RegistryStore, descriptor: Descriptor, options?: { timeoutMs?: number }): Promise<StreamOutcome> {
  let stream: Readable;
  try {
    stream = await store.openBlob(descriptor, options);
  } catch (error) {
    return { ended: false, error, bytes: 0, stage: 'open' };
  }
  return new Promise((resolve) => {
    let bytes = 0;
    let ended = false;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      ended = true;
    });
    stream.on('error', (error) => resolve({ ended, error, bytes, stage: 'stream' }));
    stream.on('close', () => setImmediate(() => resolve({ ended, error: undefined, bytes, stage: 'none' })));
  });
}

function leftovers(dir: string): string[] {
  return readdirSync(dir);
}

const fx = await setUp('none');
const client = clientThroughProxy(fx);

t.test('sanity: through the proxy without faults the blob and manifest arrive intact', async (t) => {
  arm(fx, []);
  t.same(await client.fetchBlob(fx.blobDescriptor, { maxBytes: BLOB_SIZE }), fx.blob);
  const target = join(fx.workDir, 'sane.bin');
  await client.downloadBlob(fx.blobDescriptor, target);
  t.same(readFileSync(target), fx.blob);
  rmSync(target);
  t.equal((await client.resolve('v1')).digest, fx.manifestDescriptor.digest);
  t.ok(fx.proxy.count('GET', BLOB_PATH) >= 2, 'the requests went through the proxy');
});

t.test('one flipped byte in a blob', async (t) => {
  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'corrupt-byte' } }]);
  await rejectsWith(t, () => client.fetchBlob(fx.blobDescriptor, { maxBytes: BLOB_SIZE }), 'DIGEST_MISMATCH', 'fetchBlob');

  const outcome = await readBlobStream(client, fx.blobDescriptor);
  t.notOk(outcome.ended, 'openBlob: the stream never ends normally');
  t.ok(hasCode(outcome.error, OciError, 'DIGEST_MISMATCH'), `openBlob: the stream errors with DIGEST_MISMATCH (${String(outcome.error)})`);
  t.equal(outcome.stage, 'stream', 'the refusal comes from the stream, after the bytes went past');
  t.ok(outcome.bytes <= BLOB_SIZE, 'never more than the descriptor size');

  const target = join(fx.workDir, 'corrupt.bin');
  await rejectsWith(t, () => client.downloadBlob(fx.blobDescriptor, target), 'DIGEST_MISMATCH', 'downloadBlob');
  t.notOk(existsSync(target), 'downloadBlob: no target file');
  t.same(leftovers(fx.workDir), [], 'downloadBlob: no temporary file left');

  // A file already at the target is left as it was: the bad download never replaces it.
  writeFileSync(target, 'previous content');
  await rejectsWith(t, () => client.downloadBlob(fx.blobDescriptor, target), 'DIGEST_MISMATCH', 'downloadBlob over an existing file');
  t.equal(readFileSync(target, 'utf8'), 'previous content', 'the existing file is untouched');
  t.same(leftovers(fx.workDir), ['corrupt.bin'], 'and no temporary file is left beside it');
  rmSync(target);
});

t.test('well-framed but short blob body (Content-Length lies low)', async (t) => {
  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'truncate', afterBytes: 1000, framing: 'short-length' } }]);
  await rejectsWith(t, () => client.fetchBlob(fx.blobDescriptor, { maxBytes: BLOB_SIZE }), 'SIZE_MISMATCH', 'fetchBlob');
  const outcome = await readBlobStream(client, fx.blobDescriptor);
  t.notOk(outcome.ended, 'openBlob: the stream never ends normally');
  t.ok(hasCode(outcome.error, OciError, 'SIZE_MISMATCH'), `openBlob: SIZE_MISMATCH (${String(outcome.error)})`);

  // downloadBlob treats the short answer like a dropped connection and asks for the rest.
  arm(fx, [{ method: 'GET', path: BLOB_PATH, nth: 1, fault: { kind: 'truncate', afterBytes: 1000, framing: 'short-length' } }]);
  const target = join(fx.workDir, 'short.bin');
  await client.downloadBlob(fx.blobDescriptor, target);
  t.same(readFileSync(target), fx.blob, 'downloadBlob completes the short answer with a Range request');
  t.equal(fx.proxy.requests.filter((r) => r.method === 'GET' && BLOB_PATH.test(r.path))[1]?.headers.range, 'bytes=1000-');
  rmSync(target);
});

t.test('connection dropped mid-blob on every attempt', async (t) => {
  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'truncate', afterBytes: 256 * 1024 } }]);
  const outcome = await readBlobStream(client, fx.blobDescriptor);
  t.notOk(outcome.ended, 'openBlob: the stream never ends normally');
  t.ok(hasCode(outcome.error, OciError, 'NETWORK'), `openBlob: NETWORK (${String(outcome.error)})`);

  fx.proxy.clearRecords();
  const target = join(fx.workDir, 'dropped.bin');
  await rejectsWith(t, () => client.downloadBlob(fx.blobDescriptor, target, { maxResumes: 2 }), 'NETWORK', 'downloadBlob');
  t.equal(fx.proxy.count('GET', BLOB_PATH), 3, 'one attempt and exactly maxResumes resumes');
  t.notOk(existsSync(target), 'no target file');
  t.same(leftovers(fx.workDir), [], 'no temporary file left');
});

t.test('connection dropped once mid-blob: the download resumes with Range and verifies', async (t) => {
  const cut = 1024 * 1024 + 17;
  arm(fx, [{ method: 'GET', path: BLOB_PATH, nth: 1, fault: { kind: 'truncate', afterBytes: cut } }]);
  const target = join(fx.workDir, 'resumed.bin');
  const progress: number[] = [];
  await client.downloadBlob(fx.blobDescriptor, target, { onProgress: (done) => progress.push(done) });
  t.same(readFileSync(target), fx.blob, 'the file is the blob');
  const gets = fx.proxy.requests.filter((r) => r.method === 'GET' && BLOB_PATH.test(r.path));
  t.equal(gets.length, 2, 'two GETs: the cut one and the resume');
  t.equal(gets[0]?.headers.range, undefined, 'the first GET asks for everything');
  const range = /^bytes=(\d+)-$/.exec(String(gets[1]?.headers.range));
  t.ok(range, `the resume asks for a Range (${gets[1]?.headers.range})`);
  t.ok(Number(range?.[1]) > 0 && Number(range?.[1]) <= cut, `the resume starts after bytes already received (${range?.[1]})`);
  t.equal(progress.at(-1), BLOB_SIZE, 'progress reaches the full size');
  rmSync(target);
  t.same(leftovers(fx.workDir), [], 'no temporary file left');
});

t.test('connection dropped once, and the registry ignores Range on the resume: restart from zero', async (t) => {
  arm(fx, [
    { method: 'GET', path: BLOB_PATH, nth: 1, fault: { kind: 'truncate', afterBytes: 1024 * 1024 } },
    { method: 'GET', path: BLOB_PATH, nth: 2, fault: { kind: 'ignore-range' } },
  ]);
  const target = join(fx.workDir, 'no-range.bin');
  await client.downloadBlob(fx.blobDescriptor, target);
  t.same(readFileSync(target), fx.blob, 'the file is the blob, not the first MiB twice');
  const gets = fx.proxy.requests.filter((r) => r.method === 'GET' && BLOB_PATH.test(r.path));
  t.equal(gets.length, 2);
  t.match(String(gets[1]?.headers.range), /^bytes=\d+-$/, 'the client asked for a Range');
  t.equal(gets[1]?.fault, 'ignore-range', 'and got the full body instead');
  rmSync(target);
});

t.test('stalled blob body: TIMEOUT within the stall deadline', async (t) => {
  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'stall', afterBytes: 64 * 1024 } }]);
  const started = performance.now();
  const outcome = await readBlobStream(client, fx.blobDescriptor, { timeoutMs: TIMEOUT_MS });
  const elapsed = performance.now() - started;
  t.notOk(outcome.ended, 'openBlob: the stream never ends normally');
  t.ok(hasCode(outcome.error, OciError, 'TIMEOUT'), `openBlob: TIMEOUT (${String(outcome.error)})`);
  // The stall never ends: only the deadline can end the read (ending at all is the deadline honoured).
  t.ok(elapsed >= TIMEOUT_MS * 0.9, `openBlob gave up after ${elapsed.toFixed(0)} ms, not before the deadline`);

  // A stall is transient: downloadBlob resumes once (maxResumes 1), stalls again, and gives up.
  fx.proxy.clearRecords();
  const target = join(fx.workDir, 'stalled.bin');
  const downloadElapsed = await rejectsWith(
    t, () => client.downloadBlob(fx.blobDescriptor, target, { timeoutMs: TIMEOUT_MS, maxResumes: 1 }), 'TIMEOUT', 'downloadBlob');
  t.ok(downloadElapsed >= 2 * TIMEOUT_MS * 0.9, `downloadBlob gave up after ${downloadElapsed.toFixed(0)} ms (two stalls, each to its deadline)`);
  const gets = fx.proxy.requests.filter((r) => r.method === 'GET' && BLOB_PATH.test(r.path));
  t.equal(gets.length, 2, 'one attempt and one resume');
  t.equal(gets[1]?.headers.range, `bytes=${64 * 1024}-`, 'the resume asks for the bytes after the 64 KiB already received');
  t.notOk(existsSync(target), 'no target file');
  t.same(leftovers(fx.workDir), [], 'no temporary file left');
});

t.test('registry that never answers a manifest request: TIMEOUT', async (t) => {
  arm(fx, [{ path: MANIFEST_PATH, fault: { kind: 'stall-before-headers' } }]);
  const elapsed = await rejectsWith(t, () => client.fetchManifest('v1', { timeoutMs: TIMEOUT_MS }), 'TIMEOUT', 'fetchManifest');
  t.ok(elapsed >= TIMEOUT_MS * 0.9, `gave up after ${elapsed.toFixed(0)} ms, at the deadline (nothing else ends a request that is never answered)`);
});

t.test('manifest headers, then a stalled body: TIMEOUT', async (t) => {
  arm(fx, [{ method: 'GET', path: MANIFEST_PATH, fault: { kind: 'stall', afterBytes: 10 } }]);
  const elapsed = await rejectsWith(t, () => client.fetchManifest('v1', { timeoutMs: TIMEOUT_MS }), 'TIMEOUT', 'fetchManifest');
  t.ok(elapsed >= TIMEOUT_MS * 0.9, `gave up after ${elapsed.toFixed(0)} ms (an overall deadline for small reads)`);
});

t.test('5xx answers: REGISTRY_ERROR, bounded attempts', async (t) => {
  for (const status of [500, 502, 503]) {
    arm(fx, [{ path: MANIFEST_PATH, fault: { kind: 'status', status } }]);
    // A deadline no test waits for: the bounded attempts alone end the call.
    await rejectsWith(t, () => client.fetchManifest('v1', { timeoutMs: 3_600_000 }), 'REGISTRY_ERROR', `manifest ${status}`);
    const attempts = fx.proxy.count(undefined, MANIFEST_PATH);
    t.ok(attempts >= 1 && attempts <= 5, `manifest ${status}: ${attempts} attempts`);
  }
  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'status', status: 500 } }]);
  await rejectsWith(t, () => client.fetchBlob(fx.blobDescriptor, { maxBytes: BLOB_SIZE }), 'REGISTRY_ERROR', 'blob 500');
  const target = join(fx.workDir, 'status.bin');
  fx.proxy.clearRecords();
  await rejectsWith(t, () => client.downloadBlob(fx.blobDescriptor, target, { maxResumes: 2 }), 'REGISTRY_ERROR', 'downloadBlob 500');
  t.equal(fx.proxy.count('GET', BLOB_PATH), 3, 'downloadBlob retries a 5xx exactly maxResumes times');

  // One 503 is transient: downloadBlob retries and succeeds.
  arm(fx, [{ method: 'GET', path: BLOB_PATH, nth: 1, fault: { kind: 'status', status: 503 } }]);
  const retried = join(fx.workDir, 'retried.bin');
  await client.downloadBlob(fx.blobDescriptor, retried);
  t.same(readFileSync(retried), fx.blob, 'a single 503 is retried and the download verifies');
  t.equal(fx.proxy.count('GET', BLOB_PATH), 2);
  rmSync(retried);
  t.notOk(existsSync(target), 'no target file');
  t.same(leftovers(fx.workDir), [], 'no temporary file left');
});

t.test('401 with a Bearer challenge forever: UNAUTHORIZED, no endless loop', async (t) => {
  const client = clientThroughProxy(fx); // fresh: its tokens must not leak into the other tests
  arm(fx, [{ path: MANIFEST_PATH, fault: { kind: 'unauthorized-loop' } }]);
  // A deadline no test waits for: the bounded retry alone ends the call.
  await rejectsWith(t, () => client.fetchManifest('v1', { timeoutMs: 3_600_000 }), 'UNAUTHORIZED', 'fetchManifest');
  const attempts = fx.proxy.count(undefined, MANIFEST_PATH);
  t.ok(attempts >= 2 && attempts <= 4, `${attempts} manifest requests (one retry with the token, not a loop)`);
  t.ok(fx.proxy.count('GET', /^\/__fault\/token/) >= 1, 'the client did fetch a token from the realm');

  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'unauthorized-loop' } }]);
  const target = join(fx.workDir, 'unauthorized.bin');
  await rejectsWith(t, () => client.downloadBlob(fx.blobDescriptor, target, { timeoutMs: 5000 }), 'UNAUTHORIZED', 'downloadBlob');
  t.ok(fx.proxy.count('GET', BLOB_PATH) <= 4, 'bounded blob attempts');
  t.notOk(existsSync(target), 'no target file');
});

t.test('wrong Docker-Content-Digest', async (t) => {
  const wrong = digestOf('not the manifest');
  arm(fx, [{ path: MANIFEST_PATH, fault: { kind: 'wrong-digest-header', digest: wrong } }]);
  await rejectsWith(t, () => client.fetchManifest('v1'), 'DIGEST_MISMATCH', 'fetchManifest by tag');
  await rejectsWith(t, () => client.fetchManifest(fx.manifestDescriptor.digest), 'DIGEST_MISMATCH', 'fetchManifest by digest');

  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'wrong-digest-header', digest: wrong } }]);
  await rejectsWith(t, () => client.fetchBlob(fx.blobDescriptor, { maxBytes: BLOB_SIZE }), 'DIGEST_MISMATCH', 'fetchBlob');
  const target = join(fx.workDir, 'wrong-header.bin');
  await rejectsWith(t, () => client.downloadBlob(fx.blobDescriptor, target), 'DIGEST_MISMATCH', 'downloadBlob');
  t.notOk(existsSync(target), 'no target file');
  t.same(leftovers(fx.workDir), [], 'no temporary file left');
});

t.test('abort while stalled: ABORTED, promptly', async (t) => {
  arm(fx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'stall', afterBytes: 0 } }]);
  const target = join(fx.workDir, 'aborted.bin');
  // The registry deadline is one no test waits for: ABORTED (not TIMEOUT) is the abort obeyed.
  await rejectsWith(t, () => client.downloadBlob(fx.blobDescriptor, target, { timeoutMs: 3_600_000, signal: AbortSignal.timeout(300) }), 'ABORTED', 'downloadBlob');
  t.notOk(existsSync(target), 'no target file');
  t.same(leftovers(fx.workDir), [], 'no temporary file left');
});

t.test('redirect to another host: Authorization is not forwarded, the blob still verifies', async (t) => {
  const authFx = await setUp('basic');
  const authed = clientThroughProxy(authFx);
  // Let the client learn that this registry wants Basic credentials, so it sends them up front.
  t.equal((await authed.resolve('v1')).digest, authFx.manifestDescriptor.digest);
  arm(authFx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'redirect' } }]);
  const target = join(authFx.workDir, 'redirected.bin');
  await authed.downloadBlob(authFx.blobDescriptor, target);
  t.same(readFileSync(target), authFx.blob, 'the redirected download is the blob');
  const blobGets = authFx.proxy.requests.filter((r) => r.method === 'GET' && BLOB_PATH.test(r.path));
  t.ok(blobGets.length >= 1 && blobGets.every((r) => typeof r.headers.authorization === 'string'), 'the registry itself got credentials');
  t.ok(authFx.proxy.objectStoreRequests.length >= 1, 'the client followed the redirect to the other host');
  for (const r of authFx.proxy.objectStoreRequests) {
    t.equal(r.headers.authorization, undefined, `no Authorization sent to ${r.headers.host}`);
    t.equal(r.headers.cookie, undefined, 'no Cookie either');
  }
  t.match(String(authFx.proxy.objectStoreRequests[0]?.headers.host), /^localhost:\d+$/, 'the other host is localhost');

  arm(authFx, [{ method: 'GET', path: BLOB_PATH, fault: { kind: 'redirect' } }]);
  t.same(await authed.fetchBlob(authFx.blobDescriptor, { maxBytes: BLOB_SIZE }), authFx.blob, 'fetchBlob follows the redirect too');
  t.ok(authFx.proxy.objectStoreRequests.every((r) => r.headers.authorization === undefined), 'still no Authorization across hosts');
});
