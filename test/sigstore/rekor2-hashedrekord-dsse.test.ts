/**
 * Rekor v2 "hashedrekord over DSSE" (rekor-v2 spec §6.1.4; issue 14, item 1): a v0.3 DSSE bundle
 * with a Fulcio leaf certificate, an RFC 3161 timestamp and a `hashedrekord/0.0.2` entry (inclusion
 * proof + signed checkpoint, no integrated time) that stores sha256(PAE(payloadType, payload)) and the
 * envelope's signature. Built against the test Fulcio and TSA; the log is a v2-style log whose key
 * this test holds (a checkpoint-only log, as Rekor v2). The entry must stay bound to the envelope:
 * the stored digest must be this envelope's PAE digest and the stored signature its signature.
 */
import { createHash, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import t from 'tap';
import { auditPath, leafHash, rootFromLeafHashes } from '../../src/dataset/merkle.ts';
import { preAuthEncoding } from '../../src/sigstore/dsse.ts';
import { verifyBundle, type BundleVerifyOptions } from '../../src/sigstore/bundle.ts';
import { trustFromBytes } from '../../src/sigstore/trust.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';
import { OIDC_ISSUER, startSigstoreServices } from '../helpers/sigstore-services.ts';

const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64');
const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();
const ALICE = 'alice@example.com';
const LOG_ORIGIN = 'log2025-test.rekor.modelgate.test';
const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

const services = await startSigstoreServices();
t.teardown(() => services.close());

async function post(url: string, body: unknown): Promise<Response> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

// A Fulcio leaf for Alice's ephemeral key.
const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const certResponse = (await (await post(`${services.fulcioUrl}/api/v2/signingCert`, {
  credentials: { oidcIdentityToken: services.token(ALICE) },
  publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: signer.publicKey.export({ type: 'spki', format: 'pem' }) }, proofOfPossession: b64(sign('sha256', Buffer.from(ALICE), signer.privateKey)) },
})).json()) as { signedCertificateEmbeddedSct: { chain: { certificates: string[] } } };
const leafDer = new X509Certificate(certResponse.signedCertificateEmbeddedSct.chain.certificates[0]!).raw;

// The v2-style log: its key goes into the trusted root next to the services' authorities.
const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const logId = sha256(log.publicKey.export({ type: 'spki', format: 'der' }));
const root = JSON.parse(services.trustedRootJson) as { tlogs: unknown[] };
root.tlogs.push({
  baseUrl: `https://${LOG_ORIGIN}`,
  hashAlgorithm: 'SHA2_256',
  publicKey: { rawBytes: b64(log.publicKey.export({ type: 'spki', format: 'der' })), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2025-01-01T00:00:00Z' } },
  logId: { keyId: b64(logId) },
});
const trust = trustFromBytes(Buffer.from(JSON.stringify(root)), 'services+v2-log');

const artifact = Buffer.from('model weights\n');
const statement = Buffer.from(JSON.stringify({
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'weights.bin', digest: { sha256: sha256(artifact).toString('hex') } }],
  predicateType: 'https://example.test/predicate/v1',
  predicate: {},
}));

interface Parts {
  payload: Buffer;
  sig: Buffer;
  /** What the log entry records. */
  entryDigest: Buffer;
  entrySig: Buffer;
}

function hashedrekordV2Body(digest: Buffer, signature: Buffer): Buffer {
  return Buffer.from(JSON.stringify({
    apiVersion: '0.0.2',
    kind: 'hashedrekord',
    spec: { hashedRekordV002: { data: { algorithm: 'SHA2_256', digest: b64(digest) }, signature: { content: b64(signature), verifier: { keyDetails: 'PKIX_ECDSA_P256_SHA_256', x509Certificate: { rawBytes: b64(leafDer) } } } } },
  }));
}

/** A log entry at index 1 of a two-leaf tree, with its proof and a checkpoint signed by `logKey`. */
function logEntry(body: Buffer, logKey: KeyObject): Record<string, unknown> {
  const leaves = [leafHash(Buffer.from('an earlier entry')), leafHash(body)];
  const rootHash = rootFromLeafHashes(leaves);
  const note = `${LOG_ORIGIN}\n2\n${b64(rootHash)}\n`;
  const noteSig = Buffer.concat([logId.subarray(0, 4), sign('sha256', Buffer.from(note), logKey)]);
  return {
    logIndex: '1',
    logId: { keyId: b64(logId) },
    kindVersion: { kind: 'hashedrekord', version: '0.0.2' },
    inclusionProof: { logIndex: '1', rootHash: b64(rootHash), treeSize: '2', hashes: auditPath(leaves, 1).map(b64), checkpoint: { envelope: `${note}\n\u2014 ${LOG_ORIGIN} ${b64(noteSig)}\n` } },
    canonicalizedBody: b64(body),
  };
}

async function bundle(parts: Parts, logKey: KeyObject = log.privateKey): Promise<Record<string, unknown>> {
  const timestamp = Buffer.from(await (await post(`${services.tsaUrl}/api/v1/timestamp`, { artifactHash: b64(sha256(parts.sig)), hashAlgorithm: 'sha256' })).arrayBuffer());
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      certificate: { rawBytes: b64(leafDer) },
      tlogEntries: [logEntry(hashedrekordV2Body(parts.entryDigest, parts.entrySig), logKey)],
      timestampVerificationData: { rfc3161Timestamps: [{ signedTimestamp: b64(timestamp) }] },
    },
    dsseEnvelope: { payload: b64(parts.payload), payloadType: PAYLOAD_TYPE, signatures: [{ sig: b64(parts.sig), keyid: '' }] },
  };
}

const options: BundleVerifyOptions = { trust, signer: { kind: 'identity', san: ALICE, issuer: OIDC_ISSUER }, artifact: { kind: 'bytes', bytes: artifact } };
const sigOver = (payload: Buffer): Buffer => sign('sha256', preAuthEncoding(PAYLOAD_TYPE, payload), signer.privateKey);
const sig = sigOver(statement);
const paeDigest = sha256(preAuthEncoding(PAYLOAD_TYPE, statement));

t.test('a DSSE bundle whose Rekor v2 hashedrekord entry stores sha256(PAE) verifies', async (t) => {
  const verified = await verifyBundle(await bundle({ payload: statement, sig, entryDigest: paeDigest, entrySig: sig }), options);
  t.equal(verified.content.kind, 'dsse');
  t.match(verified.tlogEntries, [{ logIndex: '1', kind: 'hashedrekord', version: '0.0.2', logUrl: `https://${LOG_ORIGIN}` }]);
  t.equal(verified.tlogEntries[0]?.integratedTime, undefined, 'a v2 entry supplies no time');
  t.same(verified.verifiedTimes.map((v) => v.source), ['tsa']);
});

t.test('the entry stays bound to the envelope', async (t) => {
  // The digest of the payload (what a dsse entry stores) is not the PAE digest.
  await rejectsWith(t, verifyBundle(await bundle({ payload: statement, sig, entryDigest: sha256(statement), entrySig: sig }), options), ['TLOG'], 'payload digest instead of the PAE digest');
  // An entry for another envelope by the same signer: digest and signature of that one.
  const other = Buffer.from(statement.toString('utf8').replace('predicate/v1', 'predicate/v2'));
  const otherSig = sigOver(other);
  await rejectsWith(t, verifyBundle(await bundle({ payload: statement, sig, entryDigest: sha256(preAuthEncoding(PAYLOAD_TYPE, other)), entrySig: otherSig }), options), ['TLOG'], 'entry for another envelope');
  await rejectsWith(t, verifyBundle(await bundle({ payload: statement, sig, entryDigest: paeDigest, entrySig: otherSig }), options), ['TLOG'], 'right digest, another signature');
  // The envelope's own signature must verify over its PAE.
  await rejectsWith(t, verifyBundle(await bundle({ payload: other, sig, entryDigest: sha256(preAuthEncoding(PAYLOAD_TYPE, other)), entrySig: sig }), options), ['SIGNATURE', 'TLOG'], 'payload swapped under the signature');
  // A checkpoint signed by a key the root does not hold.
  await rejectsWith(t, verifyBundle(await bundle({ payload: statement, sig, entryDigest: paeDigest, entrySig: sig }, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), options), ['TLOG'], 'unknown log key');
});
