/**
 * Trust material: loading trusted roots from files (offline), the validity rule for authorities
 * without a start, malformed roots, and TUF failures that must be fast and coded (no real network:
 * the mirrors here are a closed port and a local server that never answers).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { throwsCode } from './throws-code.ts';
import { loadTrustedRootFile, loadTrustedRootTuf, parseCertificatesPem, trustFromBytes } from '../../src/sigstore/trust.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

const VECTORS = join(import.meta.dirname, '../../../shared/vectors');
const PUBLIC_GOOD = join(VECTORS, 'trust/public-good.trusted_root.json');


t.test('public-good root loads offline with a digest of its exact bytes', async (t) => {
  const trust = loadTrustedRootFile(PUBLIC_GOOD);
  t.equal(trust.trustDigest, `sha256:${createHash('sha256').update(readFileSync(PUBLIC_GOOD)).digest('hex')}`);
  t.match(trust.trustDigest, /^sha256:6494e21e/, 'the README names this digest');
  t.equal(trust.authorities.tlogs.length, 2, 'Rekor v1 and v2');
  t.equal(trust.authorities.certificateAuthorities.length, 2);
  t.equal(trust.authorities.timestampAuthorities.length, 1);
  t.same(trust.warnings, [], 'every authority has a validity start');
  t.equal(trust.tlogUrls.get('c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d'), 'https://rekor.sigstore.dev');
});

t.test('validity rule: fixture roots (quirk 5) load; {} on a log key is invalid; CAs fall back to their certificates', async (t) => {
  const verify = loadTrustedRootFile(join(VECTORS, 'sigstore-js/verify/trusted_root.json'));
  t.equal(verify.authorities.tlogs.length, 2, 'tlog without validFor is kept (unbounded, sigstore-js semantics)');
  t.ok(verify.warnings.some((w) => w.includes('tlogs[0]') && w.includes('no validFor')), 'and reported');
  t.equal(verify.authorities.timestampAuthorities.length, 2, 'TSA with validFor {} is kept ...');
  const localTsa = verify.authorities.timestampAuthorities[0]!;
  const certs = localTsa.certChain;
  t.equal(localTsa.validFor.start.getTime(), Math.max(...certs.map((c) => c.notBefore.getTime())), '... bounded by its certificates, not unbounded');
  t.equal(localTsa.validFor.end.getTime(), Math.min(...certs.map((c) => c.notAfter.getTime())));

  const root = JSON.parse(readFileSync(PUBLIC_GOOD, 'utf8'));
  root.tlogs[0].publicKey.validFor = {};
  const dropped = trustFromBytes(Buffer.from(JSON.stringify(root)));
  t.equal(dropped.authorities.tlogs.length, 1, 'a tlog key with validFor {} is dropped');
  t.ok(dropped.warnings.some((w) => w.includes('tlogs[0]') && w.includes('ignored')));

  delete root.tlogs[0].publicKey.validFor;
  t.equal(trustFromBytes(Buffer.from(JSON.stringify(root))).authorities.tlogs.length, 2, 'absent validFor: accepted by default');
  t.equal(trustFromBytes(Buffer.from(JSON.stringify(root)), 'strict', { requireKeyValidity: true }).authorities.tlogs.length, 1, 'absent validFor: dropped with requireKeyValidity');

  root.tlogs[0].publicKey.validFor = { start: 'yesterday' };
  t.equal(trustFromBytes(Buffer.from(JSON.stringify(root))).authorities.tlogs.length, 1, 'unparseable start is invalid');
});

t.test('malformed roots are TRUST_ROOT, unreadable ones TRUST_UNAVAILABLE', async (t) => {
  const good = JSON.parse(readFileSync(PUBLIC_GOOD, 'utf8'));
  const variants: [string, unknown][] = [
    ['not JSON', '{"mediaType":'],
    ['array', []],
    ['unknown mediaType', { ...good, mediaType: 'application/json' }],
    ['tlogs not an array', { ...good, tlogs: {} }],
    ['bad key bytes', { ...good, tlogs: [{ ...good.tlogs[0], publicKey: { ...good.tlogs[0].publicKey, rawBytes: 'AAAA' } }] }],
    ['non-base64 logId', { ...good, tlogs: [{ ...good.tlogs[0], logId: { keyId: '!!' } }] }],
    ['CA without chain', { ...good, certificateAuthorities: [{ uri: 'x', validFor: { start: '2020-01-01T00:00:00Z' } }] }],
    ['CA with a garbage certificate', { ...good, certificateAuthorities: [{ certChain: { certificates: [{ rawBytes: 'AAAA' }] }, validFor: { start: '2020-01-01T00:00:00Z' } }] }],
    ['nothing usable', { mediaType: good.mediaType, tlogs: [], certificateAuthorities: [], timestampAuthorities: [] }],
  ];
  for (const [what, value] of variants) {
    throwsCode(t, () => trustFromBytes(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))), 'TRUST_ROOT', what);
  }
  throwsCode(t, () => trustFromBytes(Buffer.alloc(5 * 1024 * 1024, 0x20)), 'TRUST_ROOT', 'oversized root');
  throwsCode(t, () => loadTrustedRootFile(join(VECTORS, 'does-not-exist.json')), 'TRUST_UNAVAILABLE', 'missing file');
});

t.test('TUF: unreachable or silent mirrors fail fast with TRUST_UNAVAILABLE', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'modelgate-tuf-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const tufRoot = join(VECTORS, 'trust/public-good.tuf-root.json');

  // A port with nothing listening: connection refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  // The deadline is far beyond the test's own timeout: the refusal itself must end the load.
  const refused = await rejectsWith(t, loadTrustedRootTuf({ mirrorURL: `http://127.0.0.1:${closedPort}`, rootPath: tufRoot, cachePath: join(cache, 'a'), timeoutMs: 3_600_000 }), ['TRUST_UNAVAILABLE'], 'connection refused');
  t.match(refused?.message ?? '', /127\.0\.0\.1/, 'message names the mirror');

  // A server that accepts and never answers: the deadline fires.
  const sockets: Socket[] = [];
  const silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  // Nothing but the deadline can end this load (the server holds every connection open): it ending
  // at all, with TRUST_UNAVAILABLE, after a connection was accepted, is the deadline honoured.
  const started = performance.now();
  await rejectsWith(t, loadTrustedRootTuf({ mirrorURL: `http://127.0.0.1:${(silent.address() as { port: number }).port}`, rootPath: tufRoot, cachePath: join(cache, 'b'), timeoutMs: 700 }), ['TRUST_UNAVAILABLE'], 'silent mirror');
  t.ok(sockets.length > 0, 'the mirror was reached (not refused)');
  t.ok(performance.now() - started >= 690, 'and the load was given up at the deadline, not before');

  // A mirror we have no TUF root for.
  await rejectsWith(t, loadTrustedRootTuf({ mirrorURL: 'http://127.0.0.1:1', cachePath: join(cache, 'c'), timeoutMs: 2000 }), ['TRUST_UNAVAILABLE'], 'no initial root for the mirror');
});

t.test('parseCertificatesPem reads every certificate of a chain', async (t) => {
  const ca = readFileSync(join(VECTORS, 'model-transparency/keys/certificate/ca-cert.pem'), 'utf8');
  const intermediate = readFileSync(join(VECTORS, 'model-transparency/keys/certificate/int-ca-cert.pem'), 'utf8');
  const certs = parseCertificatesPem(`${intermediate}\n${ca}`);
  t.equal(certs.length, 2);
  t.match(certs[1]!.subject, /root-ca/);
  throwsCode(t, () => parseCertificatesPem('nothing'), 'CERTIFICATE', 'no certificates');
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-pem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  throwsCode(t, () => parseCertificatesPem(readFileSync(join(dir, 'bad.pem'), 'utf8')), 'CERTIFICATE', 'garbage certificate');
});
