// Slow clients are dropped well inside the API server's webhook timeout: a raw TLS socket that sends
// half its headers, one that sends its headers but only part of the body, and a TCP socket that never
// starts the TLS handshake are each closed by the real WebhookServer. The bounds are set to ~1 s here
// (configurable); the assertion is only that the socket closes, before a generous upper bound, while
// a well-behaved request on the same server is still answered.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { AdmissionMetrics } from '../../src/admission/metrics.ts';
import { serverTimeouts, WebhookServer } from '../../src/admission/server.ts';
import { placeholderCertificate } from '../../src/k8s/tls-bootstrap.ts';

const UPPER_BOUND_MS = 8_000; // generous: the configured bounds are ~1 s

const certificate = await placeholderCertificate();
const logger = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));
const server = await WebhookServer.start({
  tls: { cert: certificate.certPem, key: certificate.keyPem },
  host: '127.0.0.1',
  port: 0,
  metricsHost: '127.0.0.1',
  metricsPort: 0,
  logger,
  metrics: new AdmissionMetrics(),
  timeouts: { headersMs: 1_000, requestMs: 1_500, checkIntervalMs: 200 },
});
t.teardown(() => server.close());
const { hostname, port } = new URL(server.url);

/** Resolves when the server closes the socket (or rejects after the upper bound). */
function closed(socket: Socket): Promise<string> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after ${UPPER_BOUND_MS} ms`));
    }, UPPER_BOUND_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', () => undefined); // a reset is a close too
  });
}

function tlsSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: certificate.certPem, servername: 'localhost', rejectUnauthorized: false }, () => resolve(socket));
    socket.once('error', reject);
  });
}

t.test('the defaults follow the review deadline and stay below the webhook timeout', async (t) => {
  const defaults = serverTimeouts();
  t.same({ headersMs: defaults.headersMs, requestMs: defaults.requestMs }, { headersMs: 5_000, requestMs: 10_000 });
  t.ok(defaults.headersMs + defaults.checkIntervalMs <= 10_000, 'a slow-header client is dropped within 10 s');
  t.ok(defaults.idleMs > 8_000, 'a socket waiting on a review being decided is not cut');
  const short = serverTimeouts(3_000);
  t.same({ headersMs: short.headersMs, requestMs: short.requestMs }, { headersMs: 2_500, requestMs: 5_000 });
  t.equal(serverTimeouts(8_000, { headersMs: 60_000, requestMs: 4_000 }).headersMs, 4_000, 'headers never get longer than the whole request');
});

t.test('a client that sends part of its headers, then nothing, is disconnected', async (t) => {
  const socket = await tlsSocket();
  const done = closed(socket);
  socket.write('POST /validate HTTP/1.1\r\nHost: modelgate\r\nContent-Type: appl');
  const answer = await done;
  t.match(answer, /^(HTTP\/1\.1 408|)/, 'closed (with a 408 or without an answer)');
});

t.test('a client that sends its headers but not the whole body is disconnected', async (t) => {
  const socket = await tlsSocket();
  const done = closed(socket);
  socket.write('POST /validate HTTP/1.1\r\nHost: modelgate\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"apiVersion":');
  await done;
  t.pass('closed');
});

t.test('a TCP client that never starts the TLS handshake is disconnected', async (t) => {
  const socket = tcpConnect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  await closed(socket);
  t.pass('closed');
});

t.test('a prompt request on the same server is answered', async (t) => {
  const socket = await tlsSocket();
  const done = closed(socket);
  socket.write('GET /healthz HTTP/1.1\r\nHost: modelgate\r\nConnection: close\r\n\r\n');
  t.match(await done, /^HTTP\/1\.1 200 /);
});
