/**
 * The own-socket download fast path of `RegistryStore.downloadBlob` (`src/oci/plain-blob.ts`) against a
 * small node:http server (and the same handler behind node:https: the TLS fast path) that answers the blob GET in the shapes a real registry does not produce on
 * demand: body in the same packet as the head, chunked encoding, a redirect, an error JSON, a lying
 * Content-Length. Requests on the fast path are told apart by their `connection` header: undici sends
 * `connection: keep-alive`, the fast path none (HTTP/1.1's default) or `connection: close` without a pool. The fault proxy tests (faults.test.ts) cover stalls, truncation, corruption
 * and 5xx through the same path against the real docker-registry.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '../../src/oci/digest.ts';
import { MediaType, type Descriptor } from '../../src/oci/manifest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { tlsMaterial } from '../helpers/registry.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

type Mode = 'plain' | 'chunked' | 'redirect' | 'not-found' | 'longer' | 'corrupt' | 'drop' | 'close' | 'stale';

const big = randomBytes(3 * 1024 * 1024 + 77);
const small = randomBytes(100);
const blobs = new Map<string, Buffer>([big, small].map((b) => [digestOf(b), b]));
const descriptor = (bytes: Buffer): Descriptor => ({ mediaType: MediaType.OCI_LAYER_TAR, digest: digestOf(bytes), size: bytes.byteLength });

let mode: Mode = 'plain';
const requests: { path: string; fast: boolean; range?: string }[] = [];

/** Requests seen per connection (the keep-alive tests). */
const served = new WeakMap<object, number>();

function serve(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  const onConnection = (served.get(req.socket) ?? 0) + 1;
  served.set(req.socket, onConnection);
  requests.push({ path: url, fast: req.headers.connection !== 'keep-alive', ...(req.headers.range !== undefined ? { range: req.headers.range } : {}) });
  const storage = /^\/storage\/(sha256:[0-9a-f]{64})$/.exec(url);
  const blob = /^\/v2\/r\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url);
  const bytes = blobs.get(storage?.[1] ?? blob?.[1] ?? '');
  if (bytes === undefined) {
    res.writeHead(404).end();
    return;
  }
  if (storage) {
    res.writeHead(200, { 'content-length': bytes.byteLength }).end(bytes);
    return;
  }
  switch (mode) {
    case 'plain':
      res.writeHead(200, { 'content-length': bytes.byteLength, 'docker-content-digest': blob![1] }).end(bytes);
      return;
    case 'chunked':
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.write(bytes.subarray(0, 1000));
      res.end(bytes.subarray(1000));
      return;
    case 'redirect':
      res.writeHead(307, { location: `/storage/${blob![1]}`, 'content-length': 0 }).end();
      return;
    case 'not-found': {
      const body = JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
      res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    case 'longer':
      res.writeHead(200, { 'content-length': bytes.byteLength + 10 }).end(Buffer.concat([bytes, Buffer.alloc(10)]));
      return;
    case 'drop': {
      // The first answer breaks off after 1 MiB + 5; a Range request gets the rest.
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (from > 0) {
        res.writeHead(206, { 'content-length': bytes.byteLength - from, 'content-range': `bytes ${from}-${bytes.byteLength - 1}/${bytes.byteLength}` }).end(bytes.subarray(from));
        return;
      }
      res.writeHead(200, { 'content-length': bytes.byteLength });
      res.write(bytes.subarray(0, 1024 * 1024 + 5), () => setTimeout(() => res.destroy(), 50));
      return;
    }
    case 'close':
      res.writeHead(200, { 'content-length': bytes.byteLength, connection: 'close' }).end(bytes);
      return;
    case 'stale':
      // A kept-alive connection the server has given up on: closed on the next request, before any answer.
      if (onConnection > 1) req.socket.destroy();
      else res.writeHead(200, { 'content-length': bytes.byteLength }).end(bytes);
      return;
    case 'corrupt': {
      const copy = Buffer.from(bytes);
      copy[copy.length - 1]! ^= 1;
      res.writeHead(200, { 'content-length': copy.byteLength }).end(copy);
      return;
    }
  }
}

const server = createServer(serve);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
server.keepAliveTimeout = 1000;
const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
const work = mkdtempSync(join(tmpdir(), 'modelgate-plain-blob-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

async function pull(store: RegistryStore, bytes: Buffer, name: string): Promise<{ fast: number; slow: number }> {
  requests.length = 0;
  const target = join(work, name);
  await store.downloadBlob(descriptor(bytes), target, { timeoutMs: 5000 });
  t.ok(readFileSync(target).equals(bytes), `${name}: the downloaded file is the blob`);
  rmSync(target);
  return { fast: requests.filter((r) => r.fast).length, slow: requests.filter((r) => !r.fast).length };
}

t.test('a plain 200 is received on the fast path, head and body in one packet or many', async (t) => {
  const store = new RegistryStore({ registry: host, repository: 'r' });
  mode = 'plain';
  t.same(await pull(store, small, 'small.bin'), { fast: 1, slow: 0 }, 'one fast request for a 100-byte blob');
  t.same(await pull(store, big, 'big.bin'), { fast: 1, slow: 0 }, 'one fast request for a 3 MiB blob');
  const undici = new RegistryStore({ registry: host, repository: 'r' }, { plainBlobSocket: false });
  t.same(await pull(undici, big, 'undici.bin'), { fast: 0, slow: 1 }, 'plainBlobSocket: false stays on undici');
});

t.test('chunked encoding falls back to undici for that request', async (t) => {
  mode = 'chunked';
  const store = new RegistryStore({ registry: host, repository: 'r' });
  t.same(await pull(store, big, 'chunked.bin'), { fast: 1, slow: 1 });
  t.same(await pull(store, big, 'chunked2.bin'), { fast: 1, slow: 1 }, 'the next download tries the fast path again');
});

t.test('a redirecting registry is asked through undici from then on', async (t) => {
  mode = 'redirect';
  const store = new RegistryStore({ registry: host, repository: 'r' });
  t.same(await pull(store, big, 'redirect.bin'), { fast: 1, slow: 2 }, 'fast GET, undici GET, storage GET');
  t.same(await pull(store, big, 'redirect2.bin'), { fast: 0, slow: 2 }, 'undici GET, storage GET');
});

t.test('over HTTPS: blobs of ≥ 1 MiB on the TLS fast path (session resumed), smaller ones on undici', async (t) => {
  const material = tlsMaterial();
  const tlsServer = createHttpsServer({ key: material.keyPem, cert: material.certPem }, serve);
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => tlsServer.close(() => resolve())));
  tlsServer.keepAliveTimeout = 1000;
  const tlsHost = `127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
  const tlsStore = (): RegistryStore => new RegistryStore({ registry: tlsHost, repository: 'r' }, { httpsForLoopback: true, caCertificates: [material.caPem] });
  let sessions = 0;
  tlsServer.on('newSession', (_id, _data, done: () => void) => {
    sessions++;
    done();
  });
  const store = tlsStore();
  mode = 'plain';
  t.same(await pull(store, big, 'tls-big.bin'), { fast: 1, slow: 0 }, 'one fast request for a 3 MiB blob');
  t.same(await pull(store, big, 'tls-big2.bin'), { fast: 1, slow: 0 }, 'and again');
  t.same(await pull(store, small, 'tls-small.bin'), { fast: 0, slow: 1 }, 'a 100-byte blob goes through undici');
  t.ok(sessions >= 1, 'the server issued a session');
  mode = 'chunked';
  t.same(await pull(store, big, 'tls-chunked.bin'), { fast: 1, slow: 1 }, 'chunked falls back to undici');
  mode = 'drop';
  t.same(await pull(store, big, 'tls-drop.bin'), { fast: 2, slow: 0 }, 'a dropped connection resumes on the fast path');
  t.same(requests.map((r) => r.range), [undefined, `bytes=${1024 * 1024 + 5}-`], 'resumed with Range from the received length');
  mode = 'redirect';
  t.same(await pull(store, big, 'tls-redirect.bin'), { fast: 1, slow: 2 }, 'a redirect is followed by undici');
  mode = 'not-found';
  await rejectsWith(t, store.downloadBlob(descriptor(big), join(work, 'tls-nf.bin'), { timeoutMs: 5000 }), ['NOT_FOUND']);
  mode = 'corrupt';
  const fresh = tlsStore();
  await rejectsWith(t, fresh.downloadBlob(descriptor(big), join(work, 'tls-bad.bin'), { timeoutMs: 5000 }), ['DIGEST_MISMATCH']);
  mode = 'plain';
  const untrusted = new RegistryStore({ registry: tlsHost, repository: 'r' }, { httpsForLoopback: true });
  const err = await rejectsWith(t, untrusted.downloadBlob(descriptor(big), join(work, 'tls-untrusted.bin'), { timeoutMs: 5000, maxResumes: 0 }), ['NETWORK']);
  t.match(err?.message, /certificate/i, 'an unknown CA is refused (named by the undici retry)');
  t.same(readdirSync(work), [], 'no final or temporary file left');
});

t.test('errors and bad content keep their codes and leave no file', async (t) => {
  const store = new RegistryStore({ registry: host, repository: 'r' });
  mode = 'not-found';
  requests.length = 0;
  const err = await rejectsWith(t, store.downloadBlob(descriptor(big), join(work, 'nf.bin'), { timeoutMs: 5000 }), ['NOT_FOUND']);
  t.match(err?.message, /BLOB_UNKNOWN/, 'the registry error JSON is in the message');
  t.same(requests.map((r) => r.fast), [true], 'one request, on the fast path');
  mode = 'longer';
  await rejectsWith(t, store.downloadBlob(descriptor(big), join(work, 'long.bin'), { timeoutMs: 5000 }), ['SIZE_MISMATCH']);
  mode = 'corrupt';
  await rejectsWith(t, store.downloadBlob(descriptor(big), join(work, 'bad.bin'), { timeoutMs: 5000 }), ['DIGEST_MISMATCH']);
  await rejectsWith(t, store.downloadBlob(descriptor(small), join(work, 'bad-small.bin'), { timeoutMs: 5000 }), ['DIGEST_MISMATCH']);
  t.same(readdirSync(work), [], 'no final or temporary file left');
  t.notOk(existsSync(join(work, 'bad.bin')));
});

/** A server of `serve` that keeps connections for long (Node's `keep-alive: timeout=` hint caps the client's idle time), counting connections, and a store of it. */
async function keepAliveServer(t: Test): Promise<{ store: RegistryStore; connections: () => number }> {
  const ka = createServer(serve);
  await new Promise<void>((resolve) => ka.listen(0, '127.0.0.1', resolve));
  ka.keepAliveTimeout = 60_000;
  t.teardown(() => {
    ka.closeAllConnections();
    return new Promise<void>((resolve) => ka.close(() => resolve()));
  });
  let connections = 0;
  ka.on('connection', () => connections++);
  return { store: new RegistryStore({ registry: `127.0.0.1:${(ka.address() as AddressInfo).port}`, repository: 'r' }), connections: () => connections };
}

t.test('keep-alive: sequential blobs share one connection; it is not reused after an error, a bad length or connection: close', async (t) => {
  const { store, connections } = await keepAliveServer(t);
  const opened = async (run: () => Promise<unknown>): Promise<number> => {
    const before = connections();
    await run();
    return connections() - before;
  };
  mode = 'plain';
  t.equal(await opened(async () => {
    for (let i = 0; i < 5; i++) t.same(await pull(store, small, `ka-small-${i}.bin`), { fast: 1, slow: 0 });
    t.same(await pull(store, big, 'ka-big.bin'), { fast: 1, slow: 0 }, 'a body over several slabs');
    t.same(await pull(store, small, 'ka-small-after-big.bin'), { fast: 1, slow: 0 });
  }), 1, '7 blobs, one after another, over 1 connection');

  mode = 'not-found';
  t.equal(await opened(() => rejectsWith(t, store.downloadBlob(descriptor(small), join(work, 'ka-nf.bin'), { timeoutMs: 5000 }), ['NOT_FOUND'])), 0, 'the error answer came on the kept connection');
  mode = 'plain';
  t.equal(await opened(() => pull(store, small, 'ka-after-nf.bin')), 1, 'after an error status: a new connection');

  mode = 'longer';
  await rejectsWith(t, store.downloadBlob(descriptor(small), join(work, 'ka-long.bin'), { timeoutMs: 5000 }), ['SIZE_MISMATCH']);
  mode = 'plain';
  t.equal(await opened(() => pull(store, small, 'ka-after-long.bin')), 1, 'after a body longer than the descriptor: a new connection');

  mode = 'drop';
  t.equal(await opened(() => pull(store, big, 'ka-drop.bin')), 1, 'a dropped body resumes on a new connection (the kept one was used first)');
  mode = 'plain';
  t.equal(await opened(() => pull(store, small, 'ka-after-drop.bin')), 0, 'the resumed, complete answer left its connection reusable');

  mode = 'close';
  t.equal(await opened(() => pull(store, small, 'ka-close-1.bin')), 0, 'answered connection: close on the kept connection');
  t.equal(await opened(() => pull(store, small, 'ka-close-2.bin')), 1, 'after connection: close: a new connection');
  t.equal(await opened(() => pull(store, small, 'ka-close-3.bin')), 1, 'and again');
  t.same(readdirSync(work), [], 'no final or temporary file left');
});

t.test('keep-alive: a kept connection closed by the server before any answer byte is retried once on a new one', async (t) => {
  const { store, connections } = await keepAliveServer(t);
  mode = 'stale';
  t.same(await pull(store, small, 'stale-1.bin'), { fast: 1, slow: 0 });
  t.same(await pull(store, small, 'stale-2.bin'), { fast: 2, slow: 0 }, 'the request on the kept connection, then the same on a new one (not undici)');
  t.same(await pull(store, big, 'stale-3.bin'), { fast: 2, slow: 0 }, 'and again for a large blob');
  t.equal(connections(), 3, 'one new connection per retry');
  t.same(readdirSync(work), [], 'no final or temporary file left');
});
