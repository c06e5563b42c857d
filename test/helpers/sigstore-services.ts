/**
 * Test helper: a throw-away Sigstore deployment on 127.0.0.1 speaking exactly the HTTP APIs
 * `@sigstore/sign` calls, so keyless signing runs end to end against real servers:
 *  - an OIDC issuer (not served: tokens are ES256 JWTs minted here with `token()`);
 *  - Fulcio `POST /api/v2/signingCert`: checks the token (signature by our issuer key, `aud`
 *    `sigstore`, `exp`), the proof of possession (the requester's signature over the token's
 *    `email`, else `sub`, as Fulcio does), and issues an ECDSA leaf for the requester's key with the
 *    SAN from the token (email → rfc822Name, else URI), the code-signing EKU, the OIDC issuer in
 *    extensions 1.3.6.1.4.1.57264.1.1 (raw) and .1.8 (UTF8String), and one embedded SCT from a CT
 *    log key named in the trusted root (RFC 6962 precertificate signature over the TBS without the
 *    SCT extension — what verifiers reconstruct);
 *  - Rekor v1 `POST /api/v1/log/entries` for `hashedrekord` 0.0.1 and `dsse` 0.0.1 (signatures
 *    verified as Rekor does; the canonical body stored as Rekor stores it): answers with the signed
 *    entry timestamp (SET), an RFC 6962 inclusion proof and a signed checkpoint;
 *  - a timestamp authority `POST /api/v1/timestamp` returning an RFC 3161 TimeStampResp (CMS
 *    SignedData over a TSTInfo, ECDSA P-256) built with `pkijs` (node-forge cannot make CMS with
 *    ECDSA or a TSTInfo).
 * `trustedRootJson` names the three services' keys and certificates for the verifier.
 * `failures` makes a service answer with an HTTP status instead (e.g. Rekor 500); `close` stops all.
 * Certificates are built with pkijs because node-forge only puts RSA keys into certificates.
 */
import { createHash, createPublicKey, generateKeyPairSync, KeyObject, sign, verify, webcrypto, X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import canonicalize from 'canonicalize';
import { auditPath, leafHash, rootFromLeafHashes } from '../../src/dataset/merkle.ts';
import { preAuthEncoding } from '../../src/sigstore/dsse.ts';
import { verifyPrehashedSignature } from '../../src/sigstore/keys.ts';

pkijs.setEngine('node-webcrypto', new pkijs.CryptoEngine({ name: 'node-webcrypto', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] }));

export const OIDC_ISSUER = 'https://oidc.mini-sigstore.test';
const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64');
const b64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');
const spkiDer = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });
const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

interface CaKey {
  readonly privateKey: KeyObject;
  readonly cert: pkijs.Certificate;
  readonly der: Buffer;
}

function name(commonName: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.10', value: new asn1js.Utf8String({ value: 'modelgate-test' }) }),
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: commonName }) }),
    ],
  });
}

function keyUsage(bits: number, unusedBits: number): pkijs.Extension {
  return new pkijs.Extension({ extnID: '2.5.29.15', critical: true, extnValue: new asn1js.BitString({ valueHex: new Uint8Array([bits]).buffer, unusedBits }).toBER(false) });
}

const keyId = (key: KeyObject): ArrayBuffer => toArrayBuffer(createHash('sha1').update(spkiDer(key)).digest());

async function signCertificate(cert: pkijs.Certificate, issuerKey: KeyObject): Promise<Buffer> {
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', issuerKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  await cert.sign(cryptoKey as unknown as Parameters<pkijs.Certificate['sign']>[0], 'SHA-256');
  return Buffer.from(cert.toSchema().toBER(false));
}

function baseCertificate(opts: { serial: number; subject: pkijs.RelativeDistinguishedNames; issuer: pkijs.RelativeDistinguishedNames; publicKey: KeyObject; notBefore: Date; notAfter: Date }): pkijs.Certificate {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: opts.serial });
  cert.subject = opts.subject;
  cert.issuer = opts.issuer;
  cert.notBefore.value = opts.notBefore;
  cert.notAfter.value = opts.notAfter;
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(toArrayBuffer(spkiDer(opts.publicKey)));
  return cert;
}

async function makeCa(commonName: string): Promise<CaKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const subject = name(commonName);
  const cert = baseCertificate({ serial: 1, subject, issuer: name(commonName), publicKey, notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2040, 0, 1)) });
  cert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: new pkijs.BasicConstraints({ cA: true }).toSchema().toBER(false) }),
    keyUsage(0x06, 1), // keyCertSign, cRLSign
    new pkijs.Extension({ extnID: '2.5.29.14', extnValue: new asn1js.OctetString({ valueHex: keyId(publicKey) }).toBER(false) }),
  ];
  return { privateKey, cert, der: await signCertificate(cert, privateKey) };
}

function authorityKeyId(ca: CaKey): pkijs.Extension {
  const aki = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: keyId(createPublicKey(ca.privateKey)) }) });
  return new pkijs.Extension({ extnID: '2.5.29.35', extnValue: aki.toSchema().toBER(false) });
}

const pem = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${b64(der).replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

export interface ServiceFailures {
  /** Answer every request with this HTTP status instead, or never answer (`'hang'`). */
  fulcio?: number | 'hang';
  rekor?: number | 'hang';
  tsa?: number | 'hang';
}

export interface SigstoreServices {
  readonly fulcioUrl: string;
  readonly rekorUrl: string;
  readonly tsaUrl: string;
  readonly issuer: string;
  readonly trustedRootJson: string;
  readonly failures: ServiceFailures;
  /** Requests served per service (for asserting what was called). */
  readonly requests: { fulcio: number; rekor: number; tsa: number };
  /** A signed OIDC identity token: `email` (verified) when `subject` contains `@`, else `sub` only; `claims` adds more (GitHub Actions: `job_workflow_ref`, `repository`). */
  token(subject: string, opts?: { expiresInSeconds?: number; audience?: string; issuer?: string; claims?: Record<string, string> }): string;
  /** Stop one service (its URL then refuses connections). */
  stop(service: 'fulcio' | 'rekor' | 'tsa'): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY) throw new HttpFailure(413, 'request too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
  } catch {
    throw new HttpFailure(400, 'body is not JSON');
  }
}

class HttpFailure extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type Handler = (req: IncomingMessage) => Promise<{ status: number; type: string; body: Buffer | string }>;

function serve(path: string, failure: () => number | 'hang' | undefined, count: () => void, handler: Handler): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    count();
    const reply = (status: number, type: string, body: Buffer | string): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const injected = failure();
    if (injected === 'hang') return; // the connection stays open until the client gives up or close()
    if (injected !== undefined) return reply(injected, 'application/json', JSON.stringify({ code: injected, message: 'injected failure' }));
    if (req.method !== 'POST' || req.url !== path) return reply(404, 'application/json', JSON.stringify({ code: 404, message: `no route ${req.method} ${req.url}` }));
    handler(req).then(
      (r) => reply(r.status, r.type, r.body),
      (err: unknown) => reply(err instanceof HttpFailure ? err.status : 500, 'application/json', JSON.stringify({ code: 400, message: (err as Error).message })),
    );
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** DER UTF8String of `value` (the Fulcio v2 extension encoding). */
const utf8StringDer = (value: string): ArrayBuffer => new asn1js.Utf8String({ value }).toBER(false);

function tlsVector(bytes: Buffer, lengthBytes: 2 | 3): Buffer {
  const length = Buffer.alloc(lengthBytes);
  length.writeUIntBE(bytes.byteLength, 0, lengthBytes);
  return Buffer.concat([length, bytes]);
}

export async function startSigstoreServices(): Promise<SigstoreServices> {
  const issuerKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fulcioCa = await makeCa('mini-fulcio');
  const tsaCa = await makeCa('mini-tsa-root');
  const ctLog = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ctLogId = createHash('sha256').update(spkiDer(ctLog.publicKey)).digest();
  const rekorKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rekorLogId = createHash('sha256').update(spkiDer(rekorKeys.publicKey)).digest();

  const tsaKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tsaCert = baseCertificate({ serial: 7, subject: name('mini-tsa'), issuer: name('mini-tsa-root'), publicKey: tsaKeys.publicKey, notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2040, 0, 1)) });
  tsaCert.extensions = [
    new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: new pkijs.BasicConstraints({ cA: false }).toSchema().toBER(false) }),
    keyUsage(0x80, 7), // digitalSignature
    new pkijs.Extension({ extnID: '2.5.29.37', critical: true, extnValue: new pkijs.ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.8'] }).toSchema().toBER(false) }),
    authorityKeyId(tsaCa),
  ];
  const tsaCertDer = await signCertificate(tsaCert, tsaCa.privateKey);

  const failures: ServiceFailures = {};
  const requests = { fulcio: 0, rekor: 0, tsa: 0 };
  let serial = 100;

  // --- Fulcio -------------------------------------------------------------------------------
  function checkToken(token: unknown): Record<string, any> {
    if (typeof token !== 'string') throw new HttpFailure(401, 'no OIDC identity token');
    const parts = token.split('.');
    if (parts.length !== 3) throw new HttpFailure(401, 'token is not a JWS');
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    if (!verify('sha256', signed, { key: issuerKeys.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2]!, 'base64url'))) throw new HttpFailure(401, 'token signature invalid');
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, any>;
    if (claims.aud !== 'sigstore') throw new HttpFailure(401, 'token audience is not sigstore');
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) throw new HttpFailure(401, 'token expired');
    if (typeof claims.iss !== 'string') throw new HttpFailure(401, 'token has no issuer');
    return claims;
  }

  const fulcio = serve('/api/v2/signingCert', () => failures.fulcio, () => requests.fulcio++, async (req) => {
    const body = await readJson(req);
    const claims = checkToken(body.credentials?.oidcIdentityToken);
    const subject: string = typeof claims.email === 'string' ? claims.email : claims.sub;
    if (typeof claims.email === 'string' && claims.email_verified !== true) throw new HttpFailure(401, 'email not verified');
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(String(body.publicKeyRequest?.publicKey?.content));
    } catch {
      throw new HttpFailure(400, 'publicKeyRequest.publicKey.content is not a PEM public key');
    }
    const proof = Buffer.from(String(body.publicKeyRequest?.proofOfPossession ?? ''), 'base64');
    if (!verify('sha256', Buffer.from(subject), publicKey, proof)) throw new HttpFailure(400, 'proof of possession does not verify');

    const now = Date.now();
    const cert = baseCertificate({ serial: serial++, subject: new pkijs.RelativeDistinguishedNames(), issuer: name('mini-fulcio'), publicKey, notBefore: new Date(now - 60_000), notAfter: new Date(now + 10 * 60_000) });
    // A GitHub Actions token (job_workflow_ref, repository claims) gets Fulcio's GitHub identity: the workflow URI as SAN, the source repository extension.
    const github = typeof claims.job_workflow_ref === 'string' && typeof claims.repository === 'string';
    const san = github
      ? new pkijs.GeneralName({ type: 6, value: `https://github.com/${claims.job_workflow_ref as string}` })
      : subject.includes('@') ? new pkijs.GeneralName({ type: 1, value: subject }) : new pkijs.GeneralName({ type: 6, value: subject });
    cert.extensions = [
      keyUsage(0x80, 7),
      new pkijs.Extension({ extnID: '2.5.29.37', extnValue: new pkijs.ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.3'] }).toSchema().toBER(false) }),
      new pkijs.Extension({ extnID: '2.5.29.14', extnValue: new asn1js.OctetString({ valueHex: keyId(publicKey) }).toBER(false) }),
      authorityKeyId(fulcioCa),
      new pkijs.Extension({ extnID: '2.5.29.17', critical: true, extnValue: new pkijs.GeneralNames({ names: [san] }).toSchema().toBER(false) }),
      new pkijs.Extension({ extnID: '1.3.6.1.4.1.57264.1.1', extnValue: toArrayBuffer(Buffer.from(claims.iss as string)) }),
      new pkijs.Extension({ extnID: '1.3.6.1.4.1.57264.1.8', extnValue: utf8StringDer(claims.iss as string) }),
      ...(github ? [new pkijs.Extension({ extnID: '1.3.6.1.4.1.57264.1.12', extnValue: utf8StringDer(`https://github.com/${claims.repository as string}`) })] : []),
    ];
    // RFC 6962 §3.2 precertificate SCT over the TBS as it reads without the SCT extension.
    cert.signature = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.2' }); // as sign() sets it: part of the TBS
    const tbs = Buffer.from(cert.encodeTBS().toBER(false));
    const timestamp = Buffer.alloc(8);
    timestamp.writeBigUInt64BE(BigInt(now));
    const issuerKeyHash = createHash('sha256').update(Buffer.from(fulcioCa.cert.subjectPublicKeyInfo.toSchema().toBER(false))).digest();
    const signedData = Buffer.concat([Buffer.from([0, 0]), timestamp, Buffer.from([0, 1]), issuerKeyHash, tlsVector(tbs, 3), Buffer.from([0, 0])]);
    const sctSignature = sign('sha256', signedData, ctLog.privateKey);
    const sct = Buffer.concat([Buffer.from([0]), ctLogId, timestamp, Buffer.from([0, 0]), Buffer.from([4, 3]), tlsVector(sctSignature, 2)]);
    const sctList = tlsVector(tlsVector(sct, 2), 2);
    cert.extensions.push(new pkijs.Extension({ extnID: '1.3.6.1.4.1.11129.2.4.2', extnValue: new asn1js.OctetString({ valueHex: toArrayBuffer(sctList) }).toBER(false) }));
    const leafDer = await signCertificate(cert, fulcioCa.privateKey);
    const response = { signedCertificateEmbeddedSct: { chain: { certificates: [pem(leafDer), pem(fulcioCa.der)] } } };
    return { status: 201, type: 'application/json', body: JSON.stringify(response) };
  });

  // --- Rekor --------------------------------------------------------------------------------
  // Earlier entries of "other users": a log index or proof field of 0 vanishes from proto3 JSON, and a
  // real log is never that young.
  const leaves: Buffer[] = Array.from({ length: 5 }, (_, i) => leafHash(Buffer.from(`earlier entry ${i}`)));
  // The checkpoint signer name must match the log's base URL (as rekor.sigstore.dev does).
  const checkpointName = (): string => new URL(rekorUrl).host;

  function certificateKey(pemOrKeyB64: string): KeyObject {
    const text = Buffer.from(pemOrKeyB64, 'base64').toString('utf8');
    try {
      return text.includes('CERTIFICATE') ? new X509Certificate(text).publicKey : createPublicKey(text);
    } catch {
      throw new HttpFailure(400, 'verifier is neither a PEM certificate nor a PEM public key');
    }
  }

  function canonicalBody(entry: Record<string, any>): Record<string, unknown> {
    if (entry.kind === 'hashedrekord' && entry.apiVersion === '0.0.1') {
      const { data, signature } = entry.spec ?? {};
      if (data?.hash?.algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(String(data?.hash?.value))) throw new HttpFailure(400, 'hashedrekord needs a sha256 hash');
      const key = certificateKey(String(signature?.publicKey?.content ?? ''));
      const sig = Buffer.from(String(signature?.content ?? ''), 'base64');
      if (!verifyPrehashedSignature(key, 'sha256', Buffer.from(data.hash.value, 'hex'), sig)) throw new HttpFailure(400, 'hashedrekord signature does not verify');
      return { apiVersion: '0.0.1', kind: 'hashedrekord', spec: { data: { hash: { algorithm: 'sha256', value: data.hash.value } }, signature: { content: signature.content, publicKey: { content: signature.publicKey.content } } } };
    }
    if (entry.kind === 'dsse' && entry.apiVersion === '0.0.1') {
      const { envelope, verifiers } = entry.spec?.proposedContent ?? {};
      if (typeof envelope !== 'string' || !Array.isArray(verifiers) || verifiers.length !== 1) throw new HttpFailure(400, 'dsse needs an envelope and one verifier');
      const env = JSON.parse(envelope) as { payload: string; payloadType: string; signatures: { sig: string }[] };
      const payload = Buffer.from(env.payload, 'base64');
      const key = certificateKey(String(verifiers[0]));
      if (env.signatures.length !== 1 || !verify(null, preAuthEncoding(env.payloadType, payload), key, Buffer.from(env.signatures[0]!.sig, 'base64'))) {
        throw new HttpFailure(400, 'dsse signature does not verify');
      }
      const sha = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
      return {
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          envelopeHash: { algorithm: 'sha256', value: sha(envelope) },
          payloadHash: { algorithm: 'sha256', value: sha(payload) },
          signatures: [{ signature: env.signatures[0]!.sig, verifier: verifiers[0] }],
        },
      };
    }
    throw new HttpFailure(400, `unsupported entry kind ${String(entry.kind)} ${String(entry.apiVersion)}`);
  }

  const rekor = serve('/api/v1/log/entries', () => failures.rekor, () => requests.rekor++, async (req) => {
    const body = Buffer.from(canonicalize(canonicalBody(await readJson(req)))!, 'utf8');
    const logIndex = leaves.length;
    const hash = leafHash(body);
    leaves.push(hash);
    const integratedTime = Math.floor(Date.now() / 1000);
    const logID = rekorLogId.toString('hex');
    const set = sign('sha256', Buffer.from(canonicalize({ body: b64(body), integratedTime, logID, logIndex })!), rekorKeys.privateKey);
    const treeSize = leaves.length;
    const root = rootFromLeafHashes(leaves);
    const note = `${checkpointName()} - 1\n${treeSize}\n${b64(root)}\n`;
    const noteSig = sign('sha256', Buffer.from(note), rekorKeys.privateKey);
    const checkpoint = `${note}\n\u2014 ${checkpointName()} ${b64(Buffer.concat([rekorLogId.subarray(0, 4), noteSig]))}\n`;
    const entry = {
      body: b64(body),
      integratedTime,
      logID,
      logIndex,
      verification: {
        signedEntryTimestamp: b64(set),
        inclusionProof: { logIndex, treeSize, rootHash: root.toString('hex'), hashes: auditPath(leaves, logIndex).map((h) => h.toString('hex')), checkpoint },
      },
    };
    return { status: 201, type: 'application/json', body: JSON.stringify({ [hash.toString('hex')]: entry }) };
  });

  // --- TSA ----------------------------------------------------------------------------------
  let tsaSerial = 1000;
  const tsaCryptoKey = await webcrypto.subtle.importKey('pkcs8', tsaKeys.privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const tsa = serve('/api/v1/timestamp', () => failures.tsa, () => requests.tsa++, async (req) => {
    const body = await readJson(req);
    if (body.hashAlgorithm !== 'sha256') throw new HttpFailure(400, 'only sha256 is supported');
    const imprint = Buffer.from(String(body.artifactHash ?? ''), 'base64');
    if (imprint.byteLength !== 32) throw new HttpFailure(400, 'artifactHash must be a base64 sha256 digest');
    const sha256Id = new pkijs.AlgorithmIdentifier({ algorithmId: '2.16.840.1.101.3.4.2.1' });
    const tstInfo = new pkijs.TSTInfo({
      version: 1,
      policy: '1.3.6.1.4.1.57264.2',
      messageImprint: new pkijs.MessageImprint({ hashAlgorithm: sha256Id, hashedMessage: new asn1js.OctetString({ valueHex: toArrayBuffer(imprint) }) }),
      serialNumber: new asn1js.Integer({ value: tsaSerial++ }),
      genTime: new Date(Math.floor(Date.now() / 1000) * 1000),
    });
    const tstDer = Buffer.from(tstInfo.toSchema().toBER(false));
    const signedData = new pkijs.SignedData({
      version: 3,
      encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: '1.2.840.113549.1.9.16.1.4', eContent: new asn1js.OctetString({ valueHex: toArrayBuffer(tstDer) }) }),
      signerInfos: [
        new pkijs.SignerInfo({
          version: 1,
          sid: new pkijs.IssuerAndSerialNumber({ issuer: tsaCert.issuer, serialNumber: tsaCert.serialNumber }),
          signedAttrs: new pkijs.SignedAndUnsignedAttributes({
            type: 0,
            attributes: [
              new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.9.16.1.4' })] }),
              new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: toArrayBuffer(createHash('sha256').update(tstDer).digest()) })] }),
            ],
          }),
        }),
      ],
      certificates: [tsaCert],
    });
    // pkijs turns eContent into a constructed OCTET STRING; TSAs (and @sigstore/core's parser) use the primitive form.
    signedData.encapContentInfo.eContent = new asn1js.OctetString({ valueHex: toArrayBuffer(tstDer) });
    await signedData.sign(tsaCryptoKey as unknown as Parameters<pkijs.SignedData['sign']>[0], 0, 'SHA-256');
    const token = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: signedData.toSchema(true) });
    const response = new pkijs.TimeStampResp({ status: new pkijs.PKIStatusInfo({ status: pkijs.PKIStatus.granted }), timeStampToken: token });
    return { status: 200, type: 'application/timestamp-reply', body: Buffer.from(response.toSchema().toBER(false)) };
  });

  const servers = { fulcio, rekor, tsa };
  const [fulcioUrl, rekorUrl, tsaUrl] = [await listen(fulcio), await listen(rekor), await listen(tsa)];
  const start = '2020-01-01T00:00:00Z';
  const trustedRootJson = JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: rekorUrl, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: b64(spkiDer(rekorKeys.publicKey)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } }, logId: { keyId: b64(rekorLogId) } }],
    certificateAuthorities: [{ subject: { organization: 'modelgate-test', commonName: 'mini-fulcio' }, uri: fulcioUrl, certChain: { certificates: [{ rawBytes: b64(fulcioCa.der) }] }, validFor: { start } }],
    ctlogs: [{ baseUrl: 'https://ctfe.mini-sigstore.test', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: b64(spkiDer(ctLog.publicKey)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } }, logId: { keyId: b64(ctLogId) } }],
    timestampAuthorities: [{ subject: { organization: 'modelgate-test', commonName: 'mini-tsa' }, uri: tsaUrl, certChain: { certificates: [{ rawBytes: b64(tsaCertDer) }, { rawBytes: b64(tsaCa.der) }] }, validFor: { start } }],
  });

  const stopped = new Set<Server>();
  const stopServer = async (server: Server): Promise<void> => {
    if (stopped.has(server)) return;
    stopped.add(server);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  return {
    fulcioUrl,
    rekorUrl,
    tsaUrl,
    issuer: OIDC_ISSUER,
    trustedRootJson,
    failures,
    requests,
    token(subject, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: opts.issuer ?? OIDC_ISSUER,
        aud: opts.audience ?? 'sigstore',
        iat: now,
        exp: now + (opts.expiresInSeconds ?? 600),
        sub: subject,
        ...(subject.includes('@') ? { email: subject, email_verified: true } : {}),
        ...opts.claims,
      };
      const signingInput = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
      const signature = sign('sha256', Buffer.from(signingInput), { key: issuerKeys.privateKey, dsaEncoding: 'ieee-p1363' });
      return `${signingInput}.${b64url(signature)}`;
    },
    stop: (service) => stopServer(servers[service]),
    close: async () => {
      await Promise.all(Object.values(servers).map(stopServer));
    },
  };
}
