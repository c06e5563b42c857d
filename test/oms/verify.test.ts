/**
 * OMS model verification on models signed here (key and certificate methods) and then tampered
 * with: changed byte, extra / missing file, swapped subject digest, wrong key, wrong CA, expired
 * chain, both resource orderings, shards, ignore rules, symlinks, single files, legacy payloads.
 */
import t from 'tap';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyModelDirectory, parseShardName, type ModelSigningMethod } from '../../src/oms/verify.ts';
import { ModelSignatureError } from '../../src/oms/errors.ts';
import { certificateBundle, fileResources, keyBundle, omsStatement, shardResources, walk } from '../helpers/oms-sign.ts';
import { makePki } from '../helpers/test-pki.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';
import { runCli } from '../helpers/run-cli.ts';

const work = mkdtempSync(join(tmpdir(), 'modelgate-oms-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyMethod: ModelSigningMethod = { kind: 'key', publicKey };

let counter = 0;
/** A fresh model directory with a few files, including a nested one. */
function makeModel(files: Record<string, string | Buffer> = { 'config.json': '{"layers": 2}', 'weights/model-00001.safetensors': Buffer.alloc(70_000, 7), 'tokenizer.json': 'tok' }): string {
  const dir = join(work, `model-${counter++}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

function signDir(dir: string, options: Parameters<typeof omsStatement>[1] = {}): string {
  return keyBundle(omsStatement(fileResources(dir, walk(dir)), options), privateKey);
}

t.test('a freshly signed model verifies; the report names every resource', async (t) => {
  const dir = makeModel();
  const result = await verifyModelDirectory(dir, signDir(dir), keyMethod);
  t.same(result.resources.map((r) => r.name), ['config.json', 'tokenizer.json', 'weights/model-00001.safetensors']);
  t.equal(result.bytesHashed, 70_000 + 13 + 3);
  t.match(result.modelDigest, /^sha256:[0-9a-f]{64}$/);
  t.equal(result.signer.kind, 'key');
});

t.test('a changed byte in a model file fails and names the file', async (t) => {
  const dir = makeModel();
  const bundle = signDir(dir);
  const bytes = Buffer.alloc(70_000, 7);
  bytes[12_345] = 8;
  writeFileSync(join(dir, 'weights/model-00001.safetensors'), bytes);
  const err = await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod), ['MISMATCH']);
  t.match((err as ModelSignatureError | undefined)?.differences, [/changed file: weights\/model-00001\.safetensors/]);
});

t.test('an extra file fails unless unsigned files are ignored; a missing file always fails', async (t) => {
  const dir = makeModel();
  const bundle = signDir(dir);
  writeFileSync(join(dir, 'backdoor.py'), 'import os');
  const err = await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod), ['MISMATCH']);
  t.match(err?.message, /extra file: backdoor\.py/);
  const skipped = await verifyModelDirectory(dir, bundle, keyMethod, { ignoreUnsignedFiles: true });
  t.same(skipped.unsignedSkipped, ['backdoor.py']);
  rmSync(join(dir, 'tokenizer.json'));
  const missing = await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod, { ignoreUnsignedFiles: true }), ['MISMATCH']);
  t.match(missing?.message, /missing file: tokenizer\.json/);
});

t.test('a subject digest that is not the hash of the resources fails, even when signed', async (t) => {
  const dir = makeModel();
  const otherDir = makeModel({ 'a.bin': 'other model' });
  const swapped = omsStatement(fileResources(dir, walk(dir)), { subjectDigest: (omsStatement(fileResources(otherDir, walk(otherDir))).subject as Array<{ digest: { sha256: string } }>)[0]?.digest.sha256 });
  await rejectsWith(t, verifyModelDirectory(dir, keyBundle(swapped, privateKey), keyMethod), ['ROOT_DIGEST']);
});

t.test('wrong key, tampered payload, wrong bundle kind and media type are rejected', async (t) => {
  const dir = makeModel();
  const bundle = signDir(dir);
  await rejectsWith(t, verifyModelDirectory(dir, bundle, { kind: 'key', publicKey: other.publicKey }), ['SIGNATURE']);
  const json = JSON.parse(bundle) as { dsseEnvelope: { payload: string }; mediaType: string };
  const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString()) as { predicate: { resources: Array<{ digest: string }> } };
  const first = statement.predicate.resources[0];
  if (first !== undefined) first.digest = 'f'.repeat(64);
  await rejectsWith(t, verifyModelDirectory(dir, JSON.stringify({ ...json, dsseEnvelope: { ...json.dsseEnvelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') } }), keyMethod), ['SIGNATURE']);
  await rejectsWith(t, verifyModelDirectory(dir, JSON.stringify({ ...json, mediaType: 'application/vnd.dev.sigstore.bundle.v0.9+json' }), keyMethod), ['BUNDLE_FORMAT']);
  await rejectsWith(t, verifyModelDirectory(dir, '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial"', keyMethod), ['BUNDLE_FORMAT']);
  await rejectsWith(t, verifyModelDirectory(dir, bundle, { kind: 'certificate', caCertificates: [] }), ['BUNDLE_FORMAT']);
});

t.test('certificate method: chain to the given root, by signature; wrong CA and expiry fail', async (t) => {
  const pkiDir = join(work, 'pki');
  mkdirSync(pkiDir);
  const pki = makePki(pkiDir);
  const dir = makeModel();
  const bundle = certificateBundle(omsStatement(fileResources(dir, walk(dir))), pki.leafKey, [pki.leafDer, pki.intermediateDer]);
  const root = new X509Certificate(pki.rootPem);
  const ok = await verifyModelDirectory(dir, bundle, { kind: 'certificate', caCertificates: [root] });
  t.same(ok.signer, { kind: 'certificate', subject: 'CN=test-signer', fingerprint256: new X509Certificate(pki.leafDer).fingerprint256, chainLength: 3 });
  // Same subject name as the real root, different key: must not be accepted.
  await rejectsWith(t, verifyModelDirectory(dir, bundle, { kind: 'certificate', caCertificates: [new X509Certificate(pki.otherRootPem)] }), ['CERTIFICATE']);
  // Without the intermediate in the bundle there is no path.
  const noIntermediate = certificateBundle(omsStatement(fileResources(dir, walk(dir))), pki.leafKey, [pki.leafDer]);
  await rejectsWith(t, verifyModelDirectory(dir, noIntermediate, { kind: 'certificate', caCertificates: [root] }), ['CERTIFICATE']);
  await rejectsWith(t, verifyModelDirectory(dir, bundle, { kind: 'certificate', caCertificates: [root], verificationTime: new Date('2099-01-01T00:00:00Z') }), ['CERTIFICATE']);
  // Signed by a key that is not the leaf's.
  const forged = certificateBundle(omsStatement(fileResources(dir, walk(dir))), privateKey, [pki.leafDer, pki.intermediateDer]);
  await rejectsWith(t, verifyModelDirectory(dir, forged, { kind: 'certificate', caCertificates: [root] }), ['SIGNATURE']);

  // And through the CLI: a wrong CA is exit 1, the right one exit 0.
  const sig = join(work, 'cert-model.sig');
  writeFileSync(sig, bundle);
  writeFileSync(join(pkiDir, 'other-only.pem'), pki.otherRootPem);
  const good = await runCli(['verify-model', 'certificate', '--signature', sig, '--certificate-chain', join(pkiDir, 'root.pem'), dir]);
  t.equal(good.code, 0, good.stderr);
  const bad = await runCli(['verify-model', 'certificate', '--signature', sig, '--certificate-chain', join(pkiDir, 'other-only.pem'), dir]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /Verification failed with error: CERTIFICATE/);
});

t.test('both resource orderings seen in the wild verify when the content agrees', async (t) => {
  const dir = makeModel({ 'a/b': '1', 'a/z': '2', 'a-c': '3', 'a.bin': '4' });
  const codePoint = walk(dir); // OMS spec: plain code-point order
  t.same(codePoint, ['a-c', 'a.bin', 'a/b', 'a/z']);
  const componentWise = ['a/b', 'a/z', 'a-c', 'a.bin']; // model_signing: PurePosixPath component order
  for (const order of [codePoint, componentWise]) {
    const result = await verifyModelDirectory(dir, keyBundle(omsStatement(fileResources(dir, order)), privateKey), keyMethod);
    t.same(result.resources.map((r) => r.name), order);
  }
});

t.test('shards: ranges verify; a grown file or a changed shard fails', async (t) => {
  const dir = makeModel({ 'w.bin': Buffer.alloc(25, 1), 'empty.txt': '', 'x:y.bin': 'colon name' });
  const resources = shardResources(dir, walk(dir), 8);
  t.same(resources.map((r) => r.name).filter((n) => n.startsWith('w.bin')), ['w.bin:0:8', 'w.bin:8:16', 'w.bin:16:24', 'w.bin:24:25']);
  t.same(parseShardName('x:y.bin:0:8'), { path: 'x:y.bin', start: 0, end: 8 }, 'the last two fields are the range');
  const bundle = keyBundle(omsStatement(resources, { method: 'shards', shardSize: 8 }), privateKey);
  const ok = await verifyModelDirectory(dir, bundle, keyMethod, { ignoreUnsignedFiles: true });
  t.equal(ok.bytesHashed, 25 + 10);
  t.same(ok.unsignedSkipped, ['empty.txt'], 'empty files have no shards');
  appendFileSync(join(dir, 'w.bin'), 'x');
  const grown = await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod, { ignoreUnsignedFiles: true }), ['MISMATCH']);
  t.match(grown?.message, /changed file: w\.bin/);
  writeFileSync(join(dir, 'w.bin'), Buffer.concat([Buffer.alloc(9, 1), Buffer.from([2]), Buffer.alloc(15, 1)]));
  const changed = await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod, { ignoreUnsignedFiles: true }), ['MISMATCH']);
  t.match(changed?.message, /changed file: w\.bin:8:16/);
});

t.test('blake2b hash type', async (t) => {
  const dir = makeModel({ 'a.bin': 'blake', 'b.bin': 'two' });
  const bundle = keyBundle(omsStatement(fileResources(dir, walk(dir), 'blake2b'), { hashType: 'blake2b' }), privateKey);
  const result = await verifyModelDirectory(dir, bundle, keyMethod);
  t.equal(result.resources[0]?.digest.length, 128);
});

t.test('ignore rules: git metadata, the signature file, caller and signer ignore paths', async (t) => {
  const dir = makeModel({ 'model.bin': 'w', '.git/HEAD': 'ref', '.gitattributes': '*', 'sub/.git/x': 'nested git is content', 'notes/draft.md': 'd', 'scratch.txt': 's' });
  const signed = fileResources(dir, ['model.bin', 'sub/.git/x']);
  const bundle = keyBundle(omsStatement(signed, { ignorePaths: ['notes'] }), privateKey);
  const sigPath = join(dir, 'model.sig');
  writeFileSync(sigPath, bundle);
  const ok = await verifyModelDirectory(dir, bundle, keyMethod, { signaturePath: sigPath, ignorePaths: [join(dir, 'scratch.txt')] });
  t.same(ok.resources.map((r) => r.name), ['model.bin', 'sub/.git/x'], 'only top-level git paths are metadata');
  await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod, { signaturePath: sigPath, ignorePaths: ['scratch.txt'], ignoreGitPaths: false }), ['MISMATCH']);
  const noSig = await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod, { ignorePaths: ['scratch.txt'] }), ['MISMATCH']);
  t.match(noSig?.message, /extra file: model\.sig/, 'the signature is only excluded when named');
});

t.test('symlinks are refused unless allowed, and never may leave the model', async (t) => {
  const dir = makeModel({ 'real.bin': 'data' });
  symlinkSync('real.bin', join(dir, 'link.bin'));
  const bundle = keyBundle(omsStatement(fileResources(dir, ['link.bin', 'real.bin'])), privateKey);
  await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod), ['MODEL_PATH']);
  const ok = await verifyModelDirectory(dir, bundle, keyMethod, { allowSymlinks: true });
  t.equal(ok.resources.length, 2);
  const outside = join(work, 'outside.bin');
  writeFileSync(outside, 'secret');
  rmSync(join(dir, 'link.bin'));
  symlinkSync(outside, join(dir, 'link.bin'));
  await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod, { allowSymlinks: true }), ['MODEL_PATH']);
});

t.test('single-file models: named "." (model_signing) or by basename (OMS spec)', async (t) => {
  const dir = makeModel({ 'weights.gguf': 'gguf bytes' });
  const file = join(dir, 'weights.gguf');
  for (const name of ['.', 'weights.gguf']) {
    const [r] = fileResources(dir, ['weights.gguf']);
    if (r === undefined) throw new Error('no resource');
    const bundle = keyBundle(omsStatement([{ ...r, name }]), privateKey);
    const result = await verifyModelDirectory(file, bundle, keyMethod);
    t.equal(result.resources[0]?.name, name);
  }
  await rejectsWith(t, verifyModelDirectory(join(dir, 'nope'), signDir(dir), keyMethod), ['MODEL_PATH']);
});

t.test('legacy v0.2 payloads need the explicit flag; unknown predicates and blake3 are refused', async (t) => {
  const dir = makeModel({ 'a.bin': 'A', 'b.bin': 'B' });
  const legacy = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: fileResources(dir, ['a.bin', 'b.bin']).map((r) => ({ name: r.name, digest: { sha256: r.digest } })),
    predicateType: 'https://model_signing/Digests/v0.1',
    predicate: { unused: true },
  };
  const bundle = keyBundle(legacy, privateKey);
  await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod), ['OMS_UNSUPPORTED']);
  const ok = await verifyModelDirectory(dir, bundle, keyMethod, { allowLegacy: true });
  t.equal(ok.manifest.format, 'legacy-v0.2');
  t.equal(ok.modelDigest, undefined);
  await rejectsWith(t, verifyModelDirectory(dir, keyBundle(omsStatement(fileResources(dir, walk(dir)), { predicateType: 'https://example.com/other' }), privateKey), keyMethod), ['PAYLOAD']);
  const blake3 = omsStatement(fileResources(dir, walk(dir)));
  (blake3.predicate as { serialization: { hash_type: string } }).serialization.hash_type = 'blake3';
  await rejectsWith(t, verifyModelDirectory(dir, keyBundle(blake3, privateKey), keyMethod), ['OMS_UNSUPPORTED']);
});

t.test('legacy v0.2.0 signatures over the buggy compat PAE verify only with the legacy option', async (t) => {
  const dir = makeModel({ 'a.bin': 'A' });
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: fileResources(dir, ['a.bin']).map((r) => ({ name: r.name, digest: { sha256: r.digest } })),
    predicateType: 'https://model_signing/Digests/v0.1',
    predicate: {},
  };
  const payload = Buffer.from(JSON.stringify(statement));
  // model_signing 0.2.0: f"DSSEV1 {len(type)} {type} {len(payload)} {payload!r}" (Python bytes repr).
  const compat = Buffer.from(`DSSEV1 28 application/vnd.in-toto+json ${payload.length} b'${payload.toString('latin1')}'`);
  const bundle = JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: '' } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: sign('sha256', compat, privateKey).toString('base64') }] },
  });
  await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod), ['SIGNATURE']);
  const ok = await verifyModelDirectory(dir, bundle, keyMethod, { allowLegacy: true });
  t.equal(ok.manifest.format, 'legacy-v0.2');
});

t.test('many differences: the message lists the first ones, the error carries all', async (t) => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 30; i += 1) files[`shard-${String(i).padStart(2, '0')}.bin`] = `content ${i}`;
  const dir = makeModel(files);
  const bundle = signDir(dir);
  for (let i = 0; i < 30; i += 1) writeFileSync(join(dir, `shard-${String(i).padStart(2, '0')}.bin`), `changed ${i}`);
  const err = await rejectsWith(t, verifyModelDirectory(dir, bundle, keyMethod, { threads: 2 }), ['MISMATCH']);
  t.equal((err as ModelSignatureError | undefined)?.differences.length, 30);
  t.match(err?.message, /… and 10 more$/);
});

t.test('CLI: a changed byte is exit 1 with model_signing\'s failure line', async (t) => {
  const dir = makeModel({ 'w.bin': 'weights', 'c.json': '{}' });
  const sig = join(work, 'cli-model.sig');
  writeFileSync(sig, signDir(dir));
  const keyPath = join(work, 'cli-key.pem');
  writeFileSync(keyPath, publicKey.export({ type: 'spki', format: 'pem' }));
  const good = await runCli(['verify-model', 'key', '--signature', sig, '--public-key', keyPath, dir]);
  t.equal(good.code, 0, good.stderr);
  writeFileSync(join(dir, 'w.bin'), 'weightz');
  const bad = await runCli(['verify-model', 'key', '--signature', sig, '--public-key', keyPath, dir]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^Verification failed with error: MISMATCH: .*changed file: w\.bin/m);
});
