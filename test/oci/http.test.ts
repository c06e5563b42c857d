import t from 'tap';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { RegistryStore } from '../../src/oci/registry.ts';
import { startRegistry } from '../helpers/registry.ts';
import { Agent } from 'undici';
import { CallScope, dispatcherFromEnvironment, nextLink, registryBaseUrl, requestsWritten, sendHttp, readBody, statusError, usesPlainHttp, type HttpResponse } from '../../src/oci/http.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

t.test('scheme choice: loopback and listed hosts use plain HTTP', async (t) => {
  t.ok(usesPlainHttp('localhost:5000'));
  t.ok(usesPlainHttp('127.0.0.1:5000'));
  t.ok(usesPlainHttp('127.10.0.3'));
  t.ok(usesPlainHttp('[::1]:5000'));
  t.notOk(usesPlainHttp('ghcr.io'));
  t.notOk(usesPlainHttp('127.0.0.1.example.com'));
  t.ok(usesPlainHttp('registry.local:5000', ['registry.local:5000']));
  t.ok(usesPlainHttp('registry.local:5000', ['registry.local']));
  t.ok(usesPlainHttp('registry.local', ['http://registry.local/']));
  t.notOk(usesPlainHttp('registry.local:5001', ['registry.local:5000']));
  t.equal(registryBaseUrl('docker.io').href, 'https://registry-1.docker.io/');
  t.equal(registryBaseUrl('127.0.0.1:5000').href, 'http://127.0.0.1:5000/');
  t.equal(registryBaseUrl('ghcr.io').href, 'https://ghcr.io/');
});

t.test('Link header parsing', async (t) => {
  const base = new URL('http://r.example/v2/a/tags/list?n=2');
  const response = (link: string | string[] | undefined) => ({ headers: { link } }) as unknown as HttpResponse;
  t.equal(nextLink(response('</v2/a/tags/list?n=2&last=b>; rel="next"'), base)?.href, 'http://r.example/v2/a/tags/list?n=2&last=b');
  t.equal(nextLink(response('<https://x.example/p?a=1>; rel="prev", <https://x.example/p?a=2>; rel=next'), base)?.href, 'https://x.example/p?a=2');
  t.equal(nextLink(response('</x>; rel="prev"'), base), undefined);
  t.equal(nextLink(response(undefined), base), undefined);
});

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
}

async function listen(handler: Parameters<typeof createServer>[1], host = '127.0.0.1') {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return port;
}

t.test('redirects: followed, credentials dropped across origins, bounded', async (t) => {
  const dispatcher = new Agent();
  t.teardown(() => dispatcher.close());
  const seen: Seen[] = [];
  const other = await listen((req, res) => {
    seen.push({ path: `other:${req.url}`, headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('from the object store');
  });
  const port = await listen((req, res) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    if (req.url === '/same') return void res.writeHead(307, { location: '/final' }).end();
    if (req.url === '/final') return void res.writeHead(200).end('same origin');
    // `localhost` is another origin than 127.0.0.1 (same machine, different host name)
    if (req.url === '/cross') return void res.writeHead(302, { location: `http://localhost:${other}/blob?X-Signature=secret` }).end();
    if (req.url?.startsWith('/loop')) return void res.writeHead(302, { location: `/loop${Number(req.url.slice(5) || 0) + 1}` }).end();
    if (req.url === '/scheme') return void res.writeHead(302, { location: 'ftp://example.com/x' }).end();
    res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
  });
  const send = (path: string) =>
    sendHttp(dispatcher, {
      method: 'GET',
      url: new URL(`http://127.0.0.1:${port}${path}`),
      headers: { authorization: 'Bearer top-secret', cookie: 'c=1', accept: 'x/y' },
      headersTimeoutMs: 5000,
      bodyTimeoutMs: 5000,
    });

  const same = await send('/same');
  t.equal((await readBody(same, 1000, 'same')).toString(), 'same origin');
  t.equal(seen.at(-1)?.headers.authorization, 'Bearer top-secret', 'same origin keeps Authorization');
  t.equal(same.crossedOrigin, false);

  const cross = await send('/cross');
  t.equal((await readBody(cross, 1000, 'cross')).toString(), 'from the object store');
  const atOther = seen.at(-1)!;
  t.match(atOther.path, /^other:/);
  t.equal(atOther.headers.authorization, undefined, 'no Authorization sent to the other host');
  t.equal(atOther.headers.cookie, undefined, 'no Cookie sent to the other host');
  t.equal(atOther.headers.accept, 'x/y', 'other headers kept');
  t.equal(cross.crossedOrigin, true);

  const err = await rejectsWith(t, send('/loop'), ['PROTOCOL']);
  t.match(err?.message, /more than 5 redirects/);
  await rejectsWith(t, send('/scheme'), ['PROTOCOL']);

  const missing = await send('/missing');
  const mapped = await statusError(missing, 'GET blob');
  t.equal(mapped.code, 'NOT_FOUND');
  t.match(mapped.message, /BLOB_UNKNOWN: blob unknown to registry/);
  t.notMatch(JSON.stringify(seen.map((s) => s.path)), /top-secret/);
});

t.test('bounded bodies, stalls and deadlines', async (t) => {
  const dispatcher = new Agent();
  t.teardown(() => dispatcher.close());
  const port = await listen((req, res) => {
    if (req.url === '/big') return void res.writeHead(200, { 'content-length': '100' }).end('x'.repeat(100));
    if (req.url === '/chunked') {
      res.writeHead(200);
      res.write('x'.repeat(60));
      res.end('y'.repeat(60));
      return;
    }
    if (req.url === '/stall') {
      res.writeHead(200, { 'content-length': '10' });
      res.write('abc');
      return; // never finishes
    }
    if (req.url === '/silent') return; // never answers
  });
  const request = (path: string, ms = 300) => {
    const scope = new CallScope(undefined, ms, false);
    return sendHttp(dispatcher, { method: 'GET', url: new URL(`http://127.0.0.1:${port}${path}`), headersTimeoutMs: ms, bodyTimeoutMs: ms }, scope).then((r) => readBody(r, 50, path, scope));
  };
  await rejectsWith(t, request('/big'), ['TOO_LARGE'], 'Content-Length over the limit');
  await rejectsWith(t, request('/chunked'), ['TOO_LARGE'], 'streamed body over the limit');
  await rejectsWith(t, request('/stall'), ['TIMEOUT'], 'body stall');
  await rejectsWith(t, request('/silent'), ['TIMEOUT'], 'no headers');
  const deadline = new CallScope(undefined, 200, true);
  await rejectsWith(
    t,
    sendHttp(dispatcher, { method: 'GET', url: new URL(`http://127.0.0.1:${port}/silent`), signal: deadline.signal, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 }, deadline),
    ['TIMEOUT'],
    'overall deadline',
  );
  const controller = new AbortController();
  const aborted = new CallScope(controller.signal, 10_000, true);
  setTimeout(() => controller.abort(), 100);
  await rejectsWith(
    t,
    sendHttp(dispatcher, { method: 'GET', url: new URL(`http://127.0.0.1:${port}/silent`), signal: aborted.signal, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 }, aborted),
    ['ABORTED'],
  );
});

t.test('HTTP(S)_PROXY and NO_PROXY from the environment', async (t) => {
  const registry = await startRegistry({ t });
  const tunnels: string[] = [];
  // A forward proxy: absolute-form requests for http:// targets, CONNECT tunnels for https://.
  const proxy = createServer((req, res) => {
    const target = new URL(req.url ?? '/');
    tunnels.push(target.host);
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on('connect', (req, clientSocket, head) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(clientSocket);
      clientSocket.pipe(upstream);
    });
    upstream.on('error', () => clientSocket.destroy());
    clientSocket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    proxy.closeAllConnections();
    proxy.close(() => resolve());
  }));
  const address = proxy.address();
  const proxyUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const viaProxy = dispatcherFromEnvironment({ HTTP_PROXY: proxyUrl });
  t.teardown(() => viaProxy.close());
  await rejectsWith(t, new RegistryStore({ registry: registry.host, repository: 'p/q' }, { dispatcher: viaProxy }).resolve('v1'), ['NOT_FOUND']);
  t.ok(tunnels.length > 0 && tunnels.every((h) => h === registry.host), 'the requests went through the proxy');
  const proxied = tunnels.length;

  const bypass = dispatcherFromEnvironment({ http_proxy: proxyUrl, NO_PROXY: 'example.com,127.0.0.1' });
  t.teardown(() => bypass.close());
  await rejectsWith(t, new RegistryStore({ registry: registry.host, repository: 'p/q' }, { dispatcher: bypass }).resolve('v1'), ['NOT_FOUND']);
  t.equal(tunnels.length, proxied, 'NO_PROXY host reached directly');
});

t.test('requestsWritten: resolves once the matching requests are written, while their answers are still held', async (t) => {
  const held: Array<() => void> = [];
  const port = await listen((_req, res) => held.push(() => res.end('{}')));
  const dispatcher = new Agent();
  t.teardown(() => dispatcher.close());
  const digest = `sha256:${'c'.repeat(64)}`;
  const send = (path: string) => sendHttp(dispatcher, { method: 'GET', url: new URL(`http://127.0.0.1:${port}${path}`), headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000 });
  let pending = true;
  const written = requestsWritten((path) => path.endsWith(`/manifests/${digest}`), 1, 60_000).then(() => (pending = false));
  // A request to another path does not count: answered in full, the wait goes on.
  const other = send('/v2/');
  while (held.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
  held.shift()!();
  await readBody(await other, 1024, 'other');
  t.ok(pending, 'still waiting after another request was written and answered');
  // The matching request: the wait ends while its answer is still held by the server.
  const wanted = send(`/v2/m/manifests/${digest}`);
  await written;
  let answered = false;
  void wanted.then(() => (answered = true));
  t.notOk(answered, 'resolved before any answer to the matching request');
  while (held.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
  held.shift()!();
  t.same((await readBody(await wanted, 1024, 'wanted')).toString(), '{}');
});

t.test('requestsWritten: nothing to wait for, or nothing written within the cap, resolves anyway', async (t) => {
  await requestsWritten(() => true, 0, 60_000);
  await requestsWritten(() => false, 1, 1);
  t.pass('both resolved (the first at once, the second at its 1 ms cap)');
});
