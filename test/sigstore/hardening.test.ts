/**
 * Hardening found by mutating valid bundles and model signatures (issue 14, item 6): each case takes
 * real material (the shared upstream vectors, or a model signed here), changes exactly what the
 * mutation changed, and asserts a coded refusal — never a weakened policy, never a stack trace.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { verifyModelDirectory } from '../../src/oms/verify.ts';
import { verifyBundle, type BundleVerifyOptions } from '../../src/sigstore/bundle.ts';
import { loadTrustedRootFile } from '../../src/sigstore/trust.ts';
import { certificateBundle, fileResources, keyBundle, omsStatement, walk } from '../helpers/oms-sign.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';
import { makePki } from '../helpers/test-pki.ts';
import { issueLeaf, makeCa } from './mini-sigstore.ts';

const VECTORS = join(import.meta.dirname, '../../../shared/vectors');
const read = (p: string): Buffer => readFileSync(join(VECTORS, p));
const json = (p: string): Record<string, any> => JSON.parse(read(p).toString('utf8')) as Record<string, any>;
const clone = <T>(v: T): T => structuredClone(v);

const work = mkdtempSync(join(tmpdir(), 'modelgate-hardening-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

// Rekor v2 entry (inclusion proof + checkpoint, no SET): its logIndex and logId are not signed.
const V2 = 'sigstore-js/verify/V3.MESSAGE_SIGNATURE.TLOG_HASHEDREKORDV002.sigstore.json';
const jsTrust = loadTrustedRootFile(join(VECTORS, 'sigstore-js/verify/trusted_root.json'));
const jsOptions = (extra: Partial<BundleVerifyOptions> = {}): BundleVerifyOptions => ({
  trust: jsTrust,
  signer: { kind: 'identity', san: 'brian@dehamer.com', issuer: 'https://github.com/login/oauth' },
  artifact: { kind: 'bytes', bytes: read('sigstore-js/verify/artifact.txt') },
  ...extra,
});

t.test('tlog threshold: one real entry copied with another logIndex or logId never counts twice', async (t) => {
  const bundle = json(V2);
  const verified = await verifyBundle(bundle, jsOptions());
  const entry = bundle.verificationMaterial.tlogEntries[0];
  t.equal(verified.tlogEntries[0]?.logIndex, entry.inclusionProof.logIndex, 'the reported index is the proven one');

  const exactCopy = clone(bundle);
  exactCopy.verificationMaterial.tlogEntries.push(clone(entry));
  const err = await rejectsWith(t, verifyBundle(exactCopy, jsOptions({ tlogThreshold: 2 })), ['TLOG'], 'an exact copy is one entry');
  t.match(err?.message, /the bundle has 1 verified/);

  const otherIndex = clone(bundle);
  otherIndex.verificationMaterial.tlogEntries.push({ ...clone(entry), logIndex: String(Number(entry.logIndex) + 1) });
  const indexErr = await rejectsWith(t, verifyBundle(otherIndex, jsOptions({ tlogThreshold: 2 })), ['TLOG'], 'a copy with another logIndex');
  t.match(indexErr?.message, /tlogEntries\[1\]: logIndex "\d+" differs from the index/);
  await rejectsWith(t, verifyBundle(otherIndex, jsOptions({ tlogThreshold: 1 })), ['TLOG'], 'an unproven logIndex is refused even when the threshold is met');

  const otherLogId = clone(bundle);
  const logId = Buffer.from(entry.logId.keyId, 'base64');
  logId[0] = logId[0]! ^ 0xff;
  otherLogId.verificationMaterial.tlogEntries.push({ ...clone(entry), logId: { keyId: logId.toString('base64') } });
  const idErr = await rejectsWith(t, verifyBundle(otherLogId, jsOptions({ tlogThreshold: 2 })), ['TLOG'], 'a copy with another logId');
  t.match(idErr?.message, /logId .* is not the ID of the log whose key verified the entry/);

  // A Rekor v1 entry signs its logIndex in the SET: a changed index fails the SET itself.
  const v1 = json('sigstore-js/verify/V1.MESSAGE_SIGNATURE.WITH_SIGNING_CERT.sigstore.json');
  const v1Entry = v1.verificationMaterial.tlogEntries[0];
  v1.verificationMaterial.tlogEntries.push({ ...clone(v1Entry), logIndex: String(Number(v1Entry.logIndex) + 1) });
  await rejectsWith(t, verifyBundle(v1, jsOptions({ tlogThreshold: 2 })), ['TLOG', 'TIMESTAMP']);
  v1.verificationMaterial.tlogEntries = [{ ...clone(v1Entry), logIndex: String(Number(v1Entry.logIndex) + 1) }];
  await rejectsWith(t, verifyBundle(v1, jsOptions()), ['TLOG'], 'the SET signs logIndex');
});

t.test('a bundle holding both messageSignature and dsseEnvelope is refused', async (t) => {
  const message = json('sigstore-js/verify/V1.MESSAGE_SIGNATURE.WITH_SIGNING_CERT.sigstore.json');
  t.ok(await verifyBundle(message, jsOptions()), 'control: the message-signature bundle verifies');
  const both = { ...clone(message), dsseEnvelope: json('sigstore-js/verify/V1.DSSE.WITH_SIGNING_CERT.TLOG_DSSE.sigstore.json').dsseEnvelope };
  const err = await rejectsWith(t, verifyBundle(both, jsOptions()), ['BUNDLE_FORMAT']);
  t.match(err?.message, /both messageSignature and dsseEnvelope/);
});

/** `[[[…]]]` nested `depth` times, built without recursion. */
function deepArray(depth: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

t.test('a 100,000-deep mediaType is a coded error with a short message (bundle and model signature)', async (t) => {
  const deep = `{"mediaType": ${'['.repeat(100_000)}1${']'.repeat(100_000)}, "verificationMaterial": {}}`;
  const err = await rejectsWith(t, verifyBundle(deep, jsOptions()), ['BUNDLE_FORMAT']);
  t.ok((err?.message.length ?? Infinity) < 300, 'the echoed value is not serialised');
  const asObject = { ...json(V2), mediaType: deepArray(100_000) };
  await rejectsWith(t, verifyBundle(asObject, jsOptions()), ['BUNDLE_FORMAT']);
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const modelDir = join(work, 'deep-model');
  mkdirSync(modelDir);
  writeFileSync(join(modelDir, 'w.bin'), 'w');
  for (const input of [deep, asObject]) {
    const modelErr = await rejectsWith(t, verifyModelDirectory(modelDir, input, { kind: 'key', publicKey }), ['BUNDLE_FORMAT']);
    t.ok((modelErr?.message.length ?? Infinity) < 300);
  }
  const long = await rejectsWith(t, verifyBundle({ ...json(V2), mediaType: 'x'.repeat(100_000) }, jsOptions()), ['BUNDLE_FORMAT']);
  t.ok((long?.message.length ?? Infinity) < 400, 'a long string is truncated');
  t.match(long?.message, /100000 characters/);
});

t.test('model signatures: one signature per envelope, coded errors for bad certificates, symlink containment', async (t) => {
  const pkiDir = join(work, 'pki');
  mkdirSync(pkiDir);
  const pki = makePki(pkiDir);
  const root = new X509Certificate(pki.rootPem);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const dir = join(work, 'model');
  mkdirSync(dir);
  writeFileSync(join(dir, 'weights.bin'), 'weights');
  writeFileSync(join(dir, 'config.json'), '{}');
  const statement = omsStatement(fileResources(dir, walk(dir)));

  // [bogus, real] verified on the second signature before; one rule with verify-bundle now.
  const withBogus = (bundleText: string): string => {
    const b = JSON.parse(bundleText) as { dsseEnvelope: { signatures: Array<{ sig: string }> } };
    const real = b.dsseEnvelope.signatures[0]!;
    b.dsseEnvelope.signatures = [{ ...real, sig: Buffer.alloc(64, 1).toString('base64') }, real];
    return JSON.stringify(b);
  };
  const keySigned = keyBundle(statement, privateKey);
  t.ok(await verifyModelDirectory(dir, keySigned, { kind: 'key', publicKey }), 'control: key method');
  await rejectsWith(t, verifyModelDirectory(dir, withBogus(keySigned), { kind: 'key', publicKey }), ['BUNDLE_FORMAT'], 'key method, two signatures');
  const certSigned = certificateBundle(statement, pki.leafKey, [pki.leafDer, pki.intermediateDer]);
  t.ok(await verifyModelDirectory(dir, certSigned, { kind: 'certificate', caCertificates: [root] }), 'control: certificate method');
  await rejectsWith(t, verifyModelDirectory(dir, withBogus(certSigned), { kind: 'certificate', caCertificates: [root] }), ['BUNDLE_FORMAT'], 'certificate method, two signatures');

  // A corrupt leaf certificate: a coded error, not an exception from `new X509Certificate`.
  const corrupt = JSON.parse(certSigned) as { verificationMaterial: { x509CertificateChain: { certificates: Array<{ rawBytes: string }> } } };
  corrupt.verificationMaterial.x509CertificateChain.certificates[0]!.rawBytes = pki.leafDer.subarray(0, 100).toString('base64');
  await rejectsWith(t, verifyModelDirectory(dir, JSON.stringify(corrupt), { kind: 'certificate', caCertificates: [root] }), ['CERTIFICATE']);

  // A leaf with an empty subject (as Fulcio issues them) that does not chain: the description works.
  const ca = makeCa('other-ca');
  const now = Date.now();
  const emptySubject = issueLeaf(ca, { san: 'someone@example.com', issuer: 'https://issuer.example', notBefore: new Date(now - 60_000), notAfter: new Date(now + 600_000) });
  const unchained = certificateBundle(statement, emptySubject.privateKey, [emptySubject.der]);
  const chainErr = await rejectsWith(t, verifyModelDirectory(dir, unchained, { kind: 'certificate', caCertificates: [root] }), ['CERTIFICATE']);
  t.match(chainErr?.message, /leaf certificate \(empty subject\)/);
  const ok = await verifyModelDirectory(dir, unchained, { kind: 'certificate', caCertificates: [new X509Certificate(ca.caDer)] });
  t.equal(ok.signer.kind === 'certificate' ? ok.signer.subject : undefined, '', 'an empty subject is reported as empty');

  // Symlinks: a single-file MODEL_PATH that links out of its directory is refused like a link in a folder.
  const outside = join(work, 'outside.bin');
  writeFileSync(outside, 'weights');
  const linkDir = join(work, 'linked');
  mkdirSync(linkDir);
  writeFileSync(join(linkDir, 'real.bin'), 'weights');
  symlinkSync(outside, join(linkDir, 'escape.bin'));
  symlinkSync('real.bin', join(linkDir, 'inside.bin'));
  const single = keyBundle(omsStatement(fileResources(linkDir, ['real.bin']).map((r) => ({ ...r, name: '.' }))), privateKey);
  await rejectsWith(t, verifyModelDirectory(join(linkDir, 'escape.bin'), single, { kind: 'key', publicKey }, { allowSymlinks: true }), ['MODEL_PATH'], 'a link leaving its directory');
  await rejectsWith(t, verifyModelDirectory(join(linkDir, 'inside.bin'), single, { kind: 'key', publicKey }), ['MODEL_PATH'], 'a link needs --allow-symlinks');
  t.ok(await verifyModelDirectory(join(linkDir, 'inside.bin'), single, { kind: 'key', publicKey }, { allowSymlinks: true }), 'a link staying in its directory verifies');
});
