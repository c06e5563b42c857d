/**
 * Test helper: a throw-away Sigstore instance made in memory — a Fulcio-like CA (RSA, via node-forge),
 * a Rekor-like log key that signs SETs, key pairs — and builders for bundles signed by it. Lets tests
 * produce valid bundles and then break exactly one thing (time, identity, signature, subject, root).
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { preAuthEncoding } from '../../src/sigstore/dsse.ts';
import { keyHint } from '../../src/sigstore/keys.ts';

const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64');

export interface MiniCa {
  caDer: Buffer;
  caKey: forge.pki.rsa.PrivateKey;
  caCert: forge.pki.Certificate;
}

export function makeCa(commonName = 'mini-fulcio'): MiniCa {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const caKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  caCert.serialNumber = '01';
  caCert.validity.notBefore = new Date(Date.UTC(2020, 0, 1));
  caCert.validity.notAfter = new Date(Date.UTC(2040, 0, 1));
  const name = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'modelgate-test' }];
  caCert.setSubject(name);
  caCert.setIssuer(name);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  caCert.sign(caKey, forge.md.sha256.create());
  return { caKey, caCert, caDer: Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(caCert)).getBytes(), 'binary') };
}

function derUtf8String(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.byteLength > 127) throw new Error('test helper supports short strings only');
  return String.fromCharCode(0x0c, bytes.byteLength) + bytes.toString('binary');
}

export interface Leaf {
  der: Buffer;
  privateKey: KeyObject;
}

/** A Fulcio-style leaf: SAN (email or URI), OIDC issuer extension (.1.8), code-signing EKU. RSA key. */
export function issueLeaf(ca: MiniCa, opts: { san: string; issuer: string; notBefore: Date; notAfter: Date; serial?: string }): Leaf {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = opts.serial ?? '0a1b2c';
  cert.validity.notBefore = opts.notBefore;
  cert.validity.notAfter = opts.notAfter;
  cert.setSubject([]);
  cert.setIssuer(ca.caCert.subject.attributes);
  const altName = opts.san.includes('://') ? { type: 6, value: opts.san } : { type: 1, value: opts.san };
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', codeSigning: true },
    { name: 'subjectAltName', altNames: [altName], critical: true },
    { id: '1.3.6.1.4.1.57264.1.8', value: derUtf8String(opts.issuer) },
  ]);
  cert.sign(ca.caKey, forge.md.sha256.create());
  return { der: Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary'), privateKey };
}

export interface MiniLog {
  privateKey: KeyObject;
  publicKey: KeyObject;
  logId: Buffer;
}

export function makeLog(): MiniLog {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
  return { privateKey, publicKey, logId };
}

export function trustedRootJson(opts: { ca?: MiniCa; log?: MiniLog; caStart?: string; logStart?: string }): string {
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: opts.log === undefined ? [] : [{
      baseUrl: 'https://mini-rekor.test',
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(opts.log.publicKey.export({ type: 'spki', format: 'der' })), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: opts.logStart ?? '2020-01-01T00:00:00Z' } },
      logId: { keyId: b64(opts.log.logId) },
    }],
    certificateAuthorities: opts.ca === undefined ? [] : [{
      subject: { organization: 'modelgate-test', commonName: 'mini-fulcio' },
      uri: 'https://mini-fulcio.test',
      certChain: { certificates: [{ rawBytes: b64(opts.ca.caDer) }] },
      validFor: { start: opts.caStart ?? '2020-01-01T00:00:00Z' },
    }],
    ctlogs: [],
    timestampAuthorities: [],
  });
}

/** A v0.1 tlog entry (hashedrekord 0.0.1 with a SET, no inclusion proof) for `signature` over `digestHex`. */
export function hashedrekordEntry(log: MiniLog, opts: { signature: Buffer; digestHex: string; integratedTime: number; logIndex?: number; certDer?: Buffer }): Record<string, unknown> {
  const body = JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: opts.digestHex } },
      signature: { content: b64(opts.signature), publicKey: { content: b64(opts.certDer ?? Buffer.alloc(0)) } },
    },
  });
  const logIndex = opts.logIndex ?? 42;
  const setPayload = JSON.stringify({ body: b64(body), integratedTime: opts.integratedTime, logID: log.logId.toString('hex'), logIndex });
  const set = sign('sha256', Buffer.from(setPayload), log.privateKey);
  return {
    logIndex: String(logIndex),
    logId: { keyId: b64(log.logId) },
    kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
    integratedTime: String(opts.integratedTime),
    inclusionPromise: { signedEntryTimestamp: b64(set) },
    canonicalizedBody: b64(body),
  };
}

/** Keyless v0.1 message-signature bundle over `artifact`, logged in `log` at `integratedTime` (unix s). */
export function keylessMessageBundle(leaf: Leaf, log: MiniLog, artifact: Buffer, integratedTime: number): Record<string, any> {
  const digest = createHash('sha256').update(artifact).digest();
  const signature = sign('sha256', artifact, leaf.privateKey);
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [{ rawBytes: b64(leaf.der) }] },
      tlogEntries: [hashedrekordEntry(log, { signature, digestHex: digest.toString('hex'), integratedTime, certDer: leaf.der })],
    },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) }, signature: b64(signature) },
  };
}

export function statementFor(subjects: { name: string; sha256: string }[]): Buffer {
  return Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: subjects.map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
    predicateType: 'https://example.test/predicate/v1',
    predicate: { note: 'made by mini-sigstore' },
  }));
}

/** Hash used by each key type when signing (what cosign/model_signing do). */
function signWithKey(privateKey: KeyObject, data: Buffer): Buffer {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  const hash = privateKey.asymmetricKeyType === 'ed25519' ? null : curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
  return sign(hash, data, privateKey);
}

/** Key-signed v0.3 DSSE bundle, no tlog entry and no timestamp (model_signing / Tekton style). */
export function keyDsseBundle(privateKey: KeyObject, payload: Buffer, payloadType = 'application/vnd.in-toto+json'): Record<string, any> {
  const hint = keyHint(createPublicKey(privateKey));
  const sig = signWithKey(privateKey, preAuthEncoding(payloadType, payload));
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint }, tlogEntries: [], timestampVerificationData: {} },
    dsseEnvelope: { payload: b64(payload), payloadType, signatures: [{ sig: b64(sig), keyid: hint }] },
  };
}

/** Key-signed v0.3 message-signature bundle over `artifact` with the key's hash. */
export function keyMessageBundle(privateKey: KeyObject, artifact: Buffer): Record<string, any> {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  const hash = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
  const digest = createHash(hash).update(artifact).digest();
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: keyHint(createPublicKey(privateKey)) }, tlogEntries: [] },
    messageSignature: { messageDigest: { algorithm: hash === 'sha256' ? 'SHA2_256' : hash === 'sha384' ? 'SHA2_384' : 'SHA2_512', digest: b64(digest) }, signature: b64(signWithKey(privateKey, artifact)) },
  };
}
