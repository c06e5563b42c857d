/**
 * verifyBundle negative (and control) cases generated in the test: a throw-away CA and log sign
 * bundles, then exactly one thing is broken — identity, time, root, SET, signature, subject, shape.
 * Every rejection must be a VerificationError with the expected code; nothing may crash or pass.
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { digestOf } from '../../src/oci/digest.ts';
import { verifyBundle, type ArtifactInput, type BundleVerifyOptions, type SignerPolicy } from '../../src/sigstore/bundle.ts';
import { VerificationError } from '../../src/sigstore/errors.ts';
import { loadTrustedRootFile, trustFromBytes } from '../../src/sigstore/trust.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';
import { hashedrekordEntry, issueLeaf, keyDsseBundle, keylessMessageBundle, keyMessageBundle, makeCa, makeLog, statementFor, trustedRootJson } from './mini-sigstore.ts';

const VECTORS = join(import.meta.dirname, '../../../shared/vectors');
const clone = <T>(v: T): T => structuredClone(v);
const bytes = (b: Buffer): ArtifactInput => ({ kind: 'bytes', bytes: b });
const digest = (b: Buffer): ArtifactInput => ({ kind: 'digest', digest: digestOf(b) });

const SAN = 'brian@dehamer.com';
const ISSUER = 'https://github.com/login/oauth';
const identity: SignerPolicy = { kind: 'identity', san: SAN, issuer: ISSUER };

// One CA and one log for the whole file (RSA key generation is the slow part).
const ca = makeCa();
const log = makeLog();
const now = Math.floor(Date.now() / 1000);
const leaf = issueLeaf(ca, { san: SAN, issuer: ISSUER, notBefore: new Date((now - 600) * 1000), notAfter: new Date((now + 600) * 1000) });
const miniTrust = trustFromBytes(Buffer.from(trustedRootJson({ ca, log })), 'mini');
const artifact = Buffer.from('model weights, or something like them\n');
const keyless = keylessMessageBundle(leaf, log, artifact, now);
const miniOptions = (extra: Partial<BundleVerifyOptions> = {}): BundleVerifyOptions => ({ trust: miniTrust, signer: identity, artifact: bytes(artifact), ctlogThreshold: 0, ...extra });

t.test('control: the generated keyless bundle verifies (bytes and digest) with exact identity', async (t) => {
  for (const input of [bytes(artifact), digest(artifact)]) {
    const result = await verifyBundle(keyless, miniOptions({ artifact: input }));
    t.equal(result.signer.kind, 'certificate');
    if (result.signer.kind === 'certificate') {
      t.equal(result.signer.san, SAN);
      t.equal(result.signer.issuer, ISSUER);
      t.equal(result.signer.extensions['1.3.6.1.4.1.57264.1.8'], ISSUER);
    }
    t.same(result.verifiedTimes, [{ source: 'tlog', time: new Date(now * 1000) }]);
    t.equal(result.tlogEntries[0]?.logUrl, 'https://mini-rekor.test');
    t.same(result.content, { kind: 'message', digest: digestOf(artifact) });
  }
  await rejectsWith(t, verifyBundle(keyless, miniOptions({ ctlogThreshold: 1 })), ['CERTIFICATE'], 'without SCTs the default ctlogThreshold rejects');
});

t.test('all configured signers at once ({ kind: any }): one verification, the verified signer matched last', async (t) => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyBundle = keyMessageBundle(pair.privateKey, artifact);
  const elsewhere = { san: 'someone@else.example', issuer: ISSUER };
  const any = (keys: KeyObject[], identities: { san: string; issuer: string }[]): BundleVerifyOptions =>
    miniOptions({ signer: { kind: 'any', keys, identities }, tlogThreshold: 0 });
  // Keyless: the certificate identity is matched against every configured identity, in any position.
  const keyless2 = await verifyBundle(keyless, { ...any([other.publicKey], [elsewhere, { san: SAN, issuer: ISSUER }]), tlogThreshold: 1 });
  t.equal(keyless2.signer.kind === 'certificate' && keyless2.signer.san, SAN);
  const none = await rejectsWith(t, verifyBundle(keyless, { ...any([pair.publicKey], [elsewhere, { san: SAN, issuer: 'https://other.issuer' }]), tlogThreshold: 1 }), ['IDENTITY']);
  t.match(none?.message, /nor any of the other 1 configured identities/);
  // Key-signed: verifies under whichever configured key signed it, identities configured or not.
  const byKey = await verifyBundle(keyBundle, any([other.publicKey, pair.publicKey], [{ san: SAN, issuer: ISSUER }]));
  t.equal(byKey.signer.kind, 'key');
  await rejectsWith(t, verifyBundle(keyBundle, any([other.publicKey], [{ san: SAN, issuer: ISSUER }])), ['SIGNATURE'], 'no configured key signed it');
  // No signer of the bundle's kind: refused before any check (as the single-signer policies are).
  await rejectsWith(t, verifyBundle(keyBundle, any([], [{ san: SAN, issuer: ISSUER }])), ['POLICY'], 'key-signed, only identities configured');
  await rejectsWith(t, verifyBundle(keyless, any([pair.publicKey], [])), ['POLICY'], 'certificate, only keys configured');
  await rejectsWith(t, verifyBundle(keyBundle, any([], [])), ['KEY'], 'nothing configured');
});

t.test('identity is compared exactly: regex metacharacters, prefixes and case never match', async (t) => {
  const real = readFileSync(join(VECTORS, 'sigstore-js/verify/V1.MESSAGE_SIGNATURE.WITH_SIGNING_CERT.sigstore.json'));
  const realTrust = loadTrustedRootFile(join(VECTORS, 'sigstore-js/verify/trusted_root.json'));
  const realArtifact = readFileSync(join(VECTORS, 'sigstore-js/verify/artifact.txt'));
  const opts = (san: string, issuer = ISSUER): BundleVerifyOptions => ({ trust: realTrust, signer: { kind: 'identity', san, issuer }, artifact: bytes(realArtifact) });
  t.ok(await verifyBundle(real, opts(SAN)), 'the exact identity verifies');
  for (const san of ['brian@dehamer.co.', '.*@dehamer.com', 'brian@dehamer.co', 'rian@dehamer.com', 'brian@dehamer.com ', 'BRIAN@dehamer.com', '^brian@dehamer\\.com$', 'brian@dehamer.com|x', '.*', '']) {
    await rejectsWith(t, verifyBundle(real, opts(san)), ['IDENTITY'], `SAN ${JSON.stringify(san)}`);
  }
  for (const issuer of ['https://github.com/login/oaut.', 'https://github.com/login', 'https://github.com/login/oauth/', '.*']) {
    await rejectsWith(t, verifyBundle(real, opts(SAN, issuer)), ['IDENTITY'], `issuer ${JSON.stringify(issuer)}`);
  }
  const uriLeaf = issueLeaf(ca, { san: 'https://github.com/acme/train/.github/workflows/release.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com', notBefore: new Date((now - 600) * 1000), notAfter: new Date((now + 600) * 1000), serial: '77' });
  const uriBundle = keylessMessageBundle(uriLeaf, log, artifact, now);
  const uriSigner = (san: string): SignerPolicy => ({ kind: 'identity', san, issuer: 'https://token.actions.githubusercontent.com' });
  t.ok(await verifyBundle(uriBundle, miniOptions({ signer: uriSigner('https://github.com/acme/train/.github/workflows/release.yml@refs/heads/main') })), 'URI SAN exact');
  for (const san of ['https://github.com/acme/train/.github/workflows/release.yml@refs/heads/mai', 'https://github.com/acme/train', 'https://github.com/acme/train/.github/workflows/release.yml@refs/heads/main2', 'https://github.com/acme/train/.github/workflows/release.yml@refs/heads/.*']) {
    await rejectsWith(t, verifyBundle(uriBundle, miniOptions({ signer: uriSigner(san) })), ['IDENTITY'], `URI SAN ${san}`);
  }
});

t.test('certificate used outside its validity, or from another CA, is rejected', async (t) => {
  await rejectsWith(t, verifyBundle(keylessMessageBundle(leaf, log, artifact, now + 3600), miniOptions()), ['CERTIFICATE'], 'logged after the certificate expired');
  await rejectsWith(t, verifyBundle(keylessMessageBundle(leaf, log, artifact, now - 3600), miniOptions()), ['CERTIFICATE'], 'logged before the certificate was valid');
  const otherCa = makeCa('other-fulcio');
  const otherTrust = trustFromBytes(Buffer.from(trustedRootJson({ ca: otherCa, log })), 'other-ca');
  await rejectsWith(t, verifyBundle(keyless, miniOptions({ trust: otherTrust })), ['CERTIFICATE'], 'root with another CA');
  const otherLogTrust = trustFromBytes(Buffer.from(trustedRootJson({ ca, log: makeLog() })), 'other-log');
  await rejectsWith(t, verifyBundle(keyless, miniOptions({ trust: otherLogTrust })), ['TLOG'], 'root with another log key');
  const lateCa = trustFromBytes(Buffer.from(trustedRootJson({ ca, log, caStart: new Date((now + 60) * 1000).toISOString() })), 'late-ca');
  await rejectsWith(t, verifyBundle(keyless, miniOptions({ trust: lateCa })), ['CERTIFICATE'], 'CA validFor starts after the signing time');
  const real = readFileSync(join(VECTORS, 'sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json'));
  const localRoot = loadTrustedRootFile(join(VECTORS, 'sigstore-conformance/bundle-verify/intoto-with-custom-trust-root/trusted_root.json'));
  await rejectsWith(t, verifyBundle(real, { trust: localRoot, signer: { kind: 'identity', san: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com' }, artifact: bytes(readFileSync(join(VECTORS, 'sigstore-conformance/a.txt'))) }), ['CERTIFICATE', 'TLOG'], 'real production bundle against a local instance root');
});

t.test('transparency-log evidence: tampered SET, foreign entry, missing or duplicated entries', async (t) => {
  const tamperedTime = clone(keyless);
  tamperedTime.verificationMaterial.tlogEntries[0].integratedTime = String(now + 1);
  await rejectsWith(t, verifyBundle(tamperedTime, miniOptions()), ['TLOG'], 'integratedTime changed after the SET was made');
  const foreign = clone(keyless);
  const otherSig = Buffer.from(keylessMessageBundle(leaf, log, Buffer.from('other'), now).messageSignature.signature, 'base64');
  foreign.verificationMaterial.tlogEntries = [hashedrekordEntry(log, { signature: otherSig, digestHex: createHash('sha256').update('other').digest('hex'), integratedTime: now })];
  await rejectsWith(t, verifyBundle(foreign, miniOptions()), ['TLOG'], 'log entry about another signature');
  const none = clone(keyless);
  none.verificationMaterial.tlogEntries = [];
  await rejectsWith(t, verifyBundle(none, miniOptions()), ['TLOG', 'TIMESTAMP'], 'no log entry under the default threshold');
  await rejectsWith(t, verifyBundle(none, miniOptions({ tlogThreshold: 0 })), ['TIMESTAMP'], 'no log entry and no timestamp: no verified time for the certificate');
  const twice = clone(keyless);
  twice.verificationMaterial.tlogEntries.push(clone(keyless.verificationMaterial.tlogEntries[0]));
  await rejectsWith(t, verifyBundle(twice, miniOptions({ tlogThreshold: 2 })), ['TLOG', 'TIMESTAMP'], 'the same entry twice does not count as two');
  await rejectsWith(t, verifyBundle(keyless, miniOptions({ tsaThreshold: 1 })), ['TIMESTAMP'], 'tsaThreshold 1 without a timestamp');
  await rejectsWith(t, verifyBundle(keyless, miniOptions({ tlogThreshold: -1 })), ['POLICY'], 'negative threshold');
});

t.test('key-signed DSSE statements: every curve, tampering, subject and key mismatches', async (t) => {
  const subject = Buffer.from('the model file');
  const statement = statementFor([{ name: 'model.safetensors', sha256: createHash('sha256').update(subject).digest('hex') }]);
  const trust = miniTrust;
  const pairs: [string, { publicKey: KeyObject; privateKey: KeyObject }][] = [
    ['P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' })],
    ['P-521', generateKeyPairSync('ec', { namedCurve: 'P-521' })],
    ['Ed25519', generateKeyPairSync('ed25519')],
  ];
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  for (const [name, pair] of pairs) {
    const bundle = keyDsseBundle(pair.privateKey, statement);
    const keyPolicy: SignerPolicy = { kind: 'key', keys: [stranger, pair.publicKey] };
    for (const input of [bytes(subject), digest(subject)]) {
      const result = await verifyBundle(bundle, { trust, signer: keyPolicy, artifact: input, tlogThreshold: 0 });
      t.same(result.signer, { kind: 'key', keyId: createHash('sha256').update(pair.publicKey.export({ type: 'spki', format: 'der' })).digest('hex') }, `${name}: the matching key of two is reported`);
      t.equal(result.content.kind === 'dsse' ? result.content.statement?.predicateType : undefined, 'https://example.test/predicate/v1');
    }
    await rejectsWith(t, verifyBundle(bundle, { trust, signer: keyPolicy, artifact: bytes(subject) }), ['TLOG'], `${name}: default tlogThreshold 1 needs a log entry`);
    const tampered = clone(bundle);
    tampered.dsseEnvelope.payload = statementFor([{ name: 'model.safetensors', sha256: createHash('sha256').update('evil').digest('hex') }]).toString('base64');
    await rejectsWith(t, verifyBundle(tampered, { trust, signer: keyPolicy, artifact: bytes(Buffer.from('evil')), tlogThreshold: 0 }), ['SIGNATURE'], `${name}: tampered payload`);
    await rejectsWith(t, verifyBundle(bundle, { trust, signer: keyPolicy, artifact: bytes(Buffer.from('another model')), tlogThreshold: 0 }), ['DIGEST'], `${name}: artifact is not a subject`);
    await rejectsWith(t, verifyBundle(bundle, { trust, signer: { kind: 'key', keys: [stranger] }, artifact: bytes(subject), tlogThreshold: 0 }), ['SIGNATURE'], `${name}: wrong key`);
    await rejectsWith(t, verifyBundle(bundle, { trust, signer: identity, artifact: bytes(subject), tlogThreshold: 0 }), ['POLICY'], `${name}: key-signed bundle where an identity is required`);
  }
  await rejectsWith(t, verifyBundle(keyless, { trust: miniTrust, signer: { kind: 'key', keys: [stranger] }, artifact: bytes(artifact), ctlogThreshold: 0 }), ['POLICY'], 'certificate bundle where a key is required');
  const plain = keyDsseBundle(pairs[0]![1].privateKey, Buffer.from('hello, world!'), 'text/plain');
  t.ok(await verifyBundle(plain, { trust, signer: { kind: 'key', keys: [pairs[0]![1].publicKey] }, tlogThreshold: 0 }), 'non-in-toto DSSE without an artifact verifies');
  await rejectsWith(t, verifyBundle(plain, { trust, signer: { kind: 'key', keys: [pairs[0]![1].publicKey] }, artifact: bytes(subject), tlogThreshold: 0 }), ['DIGEST'], 'non-in-toto DSSE cannot name an artifact');
  await rejectsWith(t, verifyBundle(plain, { trust, signer: { kind: 'key', keys: [] }, tlogThreshold: 0 }), ['KEY'], 'empty key list');
});

t.test('message signatures: signature over another digest, digest hints, algorithms', async (t) => {
  const a = Buffer.from('artifact A');
  const b = Buffer.from('artifact B');
  for (const curve of ['P-256', 'P-384'] as const) {
    const pair = generateKeyPairSync('ec', { namedCurve: curve });
    const policy: SignerPolicy = { kind: 'key', keys: [pair.publicKey] };
    const bundle = keyMessageBundle(pair.privateKey, a);
    const hash = curve === 'P-256' ? 'sha256' : 'sha384';
    t.ok(await verifyBundle(bundle, { trust: miniTrust, signer: policy, artifact: bytes(a), tlogThreshold: 0 }), `${curve}: bytes`);
    if (hash === 'sha256') t.ok(await verifyBundle(bundle, { trust: miniTrust, signer: policy, artifact: digest(a), tlogThreshold: 0 }), `${curve}: prehashed digest`);
    else await rejectsWith(t, verifyBundle(bundle, { trust: miniTrust, signer: policy, artifact: digest(a), tlogThreshold: 0 }), ['DIGEST'], `${curve}: a sha256 digest cannot stand for a SHA-384 message digest`);
    const relabelled = clone(bundle);
    relabelled.messageSignature.messageDigest.digest = createHash(hash).update(b).digest('base64');
    for (const input of hash === 'sha256' ? [bytes(b), digest(b)] : [bytes(b)]) {
      await rejectsWith(t, verifyBundle(relabelled, { trust: miniTrust, signer: policy, artifact: input, tlogThreshold: 0 }), ['SIGNATURE'], `${curve}: signature over A presented for B (${input.kind})`);
    }
    await rejectsWith(t, verifyBundle(bundle, { trust: miniTrust, signer: policy, artifact: bytes(b), tlogThreshold: 0 }), ['DIGEST'], `${curve}: messageDigest hint disagrees with the artifact`);
    await rejectsWith(t, verifyBundle(bundle, { trust: miniTrust, signer: policy, tlogThreshold: 0 }), ['DIGEST'], `${curve}: no artifact for a message signature`);
  }
  const ed = generateKeyPairSync('ed25519');
  const edBundle = keyMessageBundle(ed.privateKey, a);
  t.ok(await verifyBundle(edBundle, { trust: miniTrust, signer: { kind: 'key', keys: [ed.publicKey] }, artifact: bytes(a), tlogThreshold: 0 }), 'Ed25519 over bytes');
  await rejectsWith(t, verifyBundle(edBundle, { trust: miniTrust, signer: { kind: 'key', keys: [ed.publicKey] }, artifact: digest(a), tlogThreshold: 0 }), ['SIGNATURE'], 'Ed25519 cannot be checked from a digest alone');
  const sha512 = { kind: 'digest', digest: digestOf(a, 'sha512') } as const;
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await rejectsWith(t, verifyBundle(keyMessageBundle(p256.privateKey, a), { trust: miniTrust, signer: { kind: 'key', keys: [p256.publicKey] }, artifact: sha512, tlogThreshold: 0 }), ['DIGEST'], 'sha512 digest for a SHA2_256 bundle');
});

t.test('malformed bundles are BUNDLE_FORMAT (or another code), never a crash or a pass', async (t) => {
  const realText = readFileSync(join(VECTORS, 'sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json'), 'utf8');
  const real = JSON.parse(realText);
  const trust = loadTrustedRootFile(join(VECTORS, 'trust/public-good.trusted_root.json'));
  const a = readFileSync(join(VECTORS, 'sigstore-conformance/a.txt'));
  const conformance: SignerPolicy = { kind: 'identity', san: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com' };
  const opts: BundleVerifyOptions = { trust, signer: conformance, artifact: bytes(a) };
  t.ok(await verifyBundle(realText, opts), 'control: the unmodified bundle verifies');

  for (const cut of [0, 1, 10, 100, Math.floor(realText.length / 2), realText.length - 2]) {
    await rejectsWith(t, verifyBundle(realText.slice(0, cut), opts), ['BUNDLE_FORMAT'], `truncated at ${cut}`);
  }
  const huge = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":"${'A'.repeat(17 * 1024 * 1024)}"}`;
  await rejectsWith(t, verifyBundle(huge, opts), ['BUNDLE_FORMAT'], '17 MiB bundle');
  await rejectsWith(t, verifyBundle(Buffer.from(huge), opts), ['BUNDLE_FORMAT'], '17 MiB bundle as bytes');

  const edits: [string, (b: any) => void][] = [
    ['mediaType a number', (b) => (b.mediaType = 5)],
    ['unknown mediaType', (b) => (b.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=9')],
    ['verificationMaterial a string', (b) => (b.verificationMaterial = 'x')],
    ['tlogEntries an object', (b) => (b.verificationMaterial.tlogEntries = {})],
    ['logIndex not decimal', (b) => (b.verificationMaterial.tlogEntries[0].logIndex = 'abc')],
    ['integratedTime negative', (b) => (b.verificationMaterial.tlogEntries[0].integratedTime = '-1')],
    ['canonicalizedBody a number', (b) => (b.verificationMaterial.tlogEntries[0].canonicalizedBody = 5)],
    ['canonicalizedBody not JSON', (b) => (b.verificationMaterial.tlogEntries[0].canonicalizedBody = Buffer.from('{not json').toString('base64'))],
    ['treeSize not decimal', (b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.treeSize = '1e9')],
    ['checkpoint signer name is a regex', (b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope.replace(/\u2014 \S+ /, '\u2014 (a+)+$ '))],
    ['checkpoint without signatures', (b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope = 'origin\n1\nAAAA\n')],
    ['certificate garbage', (b) => (b.verificationMaterial.certificate.rawBytes = 'AAAA')],
    ['certificate missing', (b) => delete b.verificationMaterial.certificate],
    ['signature not base64', (b) => (b.messageSignature.signature = '%%%')],
    ['signature empty', (b) => (b.messageSignature.signature = '')],
    ['content missing', (b) => delete b.messageSignature],
    ['messageDigest algorithm unknown', (b) => (b.messageSignature.messageDigest.algorithm = 'MD5')],
    ['inclusion proof hashes not an array', (b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.hashes = 'x')],
    ['rfc3161 timestamp garbage', (b) => (b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: 'AAAA' }] })],
    ['two DSSE signatures', (b) => { b.dsseEnvelope = { payload: 'e30=', payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: 'AAAA' }, { sig: 'AAAA' }] }; delete b.messageSignature; }],
    ['null', (b) => { for (const k of Object.keys(b)) delete b[k]; }],
    ['10,000 log entries', (b) => (b.verificationMaterial.tlogEntries = Array.from({ length: 10_000 }, () => b.verificationMaterial.tlogEntries[0]))],
    ['10,000 timestamps', (b) => (b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: Array.from({ length: 10_000 }, () => ({ signedTimestamp: 'AAAA' })) })],
    ['1,000 proof hashes', (b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.hashes = Array.from({ length: 1000 }, () => b.verificationMaterial.tlogEntries[0].inclusionProof.hashes[0]))],
  ];
  for (const [what, edit] of edits) {
    const b = clone(real);
    edit(b);
    const err = await rejectsWith(t, verifyBundle(b, opts), ['BUNDLE_FORMAT', 'TLOG', 'CERTIFICATE', 'SIGNATURE', 'DIGEST', 'TIMESTAMP'], what);
    t.ok(err === undefined || err instanceof VerificationError, `${what}: a VerificationError`);
  }
  for (const value of [null, 7, 'x', [], true]) await rejectsWith(t, verifyBundle(value, opts), ['BUNDLE_FORMAT'], `bundle ${JSON.stringify(value)}`);

  // Deterministic mutation fuzz: replace one leaf value somewhere in the bundle. Each must reject
  // with a VerificationError, or (if the field is not security-relevant) verify the same signer/content.
  const paths: (string | number)[][] = [];
  const walk = (v: any, path: (string | number)[]) => {
    if (v !== null && typeof v === 'object') for (const [k, child] of Object.entries(v)) walk(child, [...path, Array.isArray(v) ? Number(k) : k]);
    else paths.push(path);
  };
  walk(real, []);
  const replacements = [null, 0, 'AAAA', '', {}, [], '1'.repeat(30)];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  let outcomes = { rejected: 0, verified: 0 };
  for (let i = 0; i < 150; i++) {
    const path = paths[next() % paths.length]!;
    const b = clone(real);
    let parent = b;
    for (const key of path.slice(0, -1)) parent = parent[key];
    parent[path[path.length - 1]!] = replacements[next() % replacements.length];
    try {
      const result = await verifyBundle(b, opts);
      outcomes.verified++;
      t.equal(result.signer.kind === 'certificate' ? result.signer.san : '', conformance.san, `mutation ${path.join('.')} verified only as the same signer`);
    } catch (err) {
      outcomes.rejected++;
      if (!(err instanceof VerificationError)) t.fail(`mutation ${path.join('.')} threw a non-VerificationError: ${String(err)}`);
    }
  }
  t.ok(outcomes.rejected > 100, `most mutations are rejected (${JSON.stringify(outcomes)})`);
});

t.test('createPublicKey sanity for the generated material', async (t) => {
  t.equal(createPublicKey(leaf.privateKey).asymmetricKeyType, 'rsa', 'the mini CA issues RSA leaves, exercising the RSA path');
});
