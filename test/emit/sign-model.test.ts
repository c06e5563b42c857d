// modelgate sign-model key|certificate writes an OMS model.sig (v0.3 bundle, DSSE in-toto Statement v1,
// model_signing/signature/v1.0, files serialisation, resources in code-point order, subject = root
// digest) that modelgate verify-model accepts under each method; tampering, a foreign CA and a
// certificate that does not match the key are refused.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { verifyModelDirectory } from '../../src/oms/verify.ts';
import { signModel } from '../../src/sign/model-signature.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makePki } from '../helpers/test-pki.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-sign-model-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const model = join(dir, 'model');
mkdirSync(join(model, 'a'), { recursive: true });
mkdirSync(join(model, '.git'), { recursive: true });
writeFileSync(join(model, 'a/b'), 'nested\n');
writeFileSync(join(model, 'a-b'), 'dash\n'); // '-' < '/': code-point order puts a-b before a/b
writeFileSync(join(model, 'weights.bin'), Buffer.alloc(100_000, 3));
writeFileSync(join(model, '.git/HEAD'), 'ref: refs/heads/main\n');
const pkiDir = join(dir, 'pki');
mkdirSync(pkiDir);
const pki = makePki(pkiDir);
const rootPath = join(pkiDir, 'root.pem');
const otherPath = join(pkiDir, 'other.pem');
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'key.pem');
const pubPath = join(dir, 'key.pub');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(join(dir, 'leaf.key'), pki.leafKey.export({ type: 'pkcs8', format: 'pem' }));
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

t.test('key and certificate methods through the CLI, verified by verify-model', async (t) => {
  const certSig = join(dir, 'cert-model.sig');
  // One after the other: the key signature is written into the model, the certificate one beside it.
  const certSigned = await runCli(['sign-model', 'certificate', model, '--private_key', join(dir, 'leaf.key'), '--signing-certificate', join(pkiDir, 'leaf.pem'), '--certificate-chain', join(pkiDir, 'int.pem'), '--signature', certSig]);
  const keySigned = await runCli(['sign-model', 'key', model, '--private-key', keyPath]);
  t.equal(keySigned.code, 0, keySigned.stderr);
  t.equal(certSigned.code, 0, certSigned.stderr);
  const names = ['a-b', 'a/b', 'weights.bin'];
  const digests = names.map((n) => sha256(readFileSync(join(model, n))));
  const root = sha256(Buffer.concat(digests.map((d) => Buffer.from(d, 'hex'))));
  t.equal(keySigned.stdout.trim(), `sha256:${root}`);

  const bundle = JSON.parse(readFileSync(join(model, 'model.sig'), 'utf8'));
  t.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
  t.same(statement, {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'model', digest: { sha256: root } }],
    predicateType: 'https://model_signing/signature/v1.0',
    predicate: {
      serialization: { method: 'files', hash_type: 'sha256', allow_symlinks: false, ignore_paths: ['.git', '.gitattributes', '.github', '.gitignore', 'model.sig'] },
      resources: names.map((name, i) => ({ name, algorithm: 'sha256', digest: digests[i] })),
    },
  });
  const certBundle = JSON.parse(readFileSync(certSig, 'utf8'));
  t.same(certBundle.verificationMaterial.x509CertificateChain.certificates.map((c: { rawBytes: string }) => c.rawBytes), [pki.leafDer.toString('base64'), pki.intermediateDer.toString('base64')]);

  const [byKey, byCert, foreignCa] = await Promise.all([
    runCli(['verify-model', 'key', model, '--public-key', pubPath, '--signature', join(model, 'model.sig')]),
    runCli(['verify-model', 'certificate', model, '--certificate-chain', rootPath, '--signature', certSig, '--ignore-paths', join(model, 'model.sig')]), // the key method's signature sits in the model
    runCli(['verify-model', 'certificate', model, '--certificate-chain', otherPath, '--signature', certSig, '--ignore-paths', join(model, 'model.sig')]),
  ]);
  t.equal(byKey.code, 0, byKey.stderr);
  t.match(byKey.stdout, /Verification succeeded/);
  t.equal(byCert.code, 0, byCert.stderr);
  t.equal(foreignCa.code, 1, 'a signature chained to another CA is refused');
});

t.test('P-384 and Ed25519 keys, single files, tampering and mismatched certificates (library)', async (t) => {
  for (const pair of [generateKeyPairSync('ec', { namedCurve: 'P-384' }), generateKeyPairSync('ed25519')]) {
    const signaturePath = join(dir, `other-${pair.publicKey.asymmetricKeyType}.sig`);
    const signed = await signModel(model, { kind: 'key', privateKey: pair.privateKey }, { signaturePath, modelName: 'm' });
    const verified = await verifyModelDirectory(model, signed.bundle, { kind: 'key', publicKey: pair.publicKey }, { signaturePath });
    t.equal(verified.modelDigest, signed.rootDigest);
  }
  const single = join(model, 'weights.bin');
  const singleSigned = await signModel(single, { kind: 'key', privateKey }, { signaturePath: join(dir, 'single.sig') });
  t.same(singleSigned.resources.map((r) => r.name), ['.']);
  t.equal((await verifyModelDirectory(single, singleSigned.bundle, { kind: 'key', publicKey })).resources.length, 1);

  const signed = await signModel(model, { kind: 'key', privateKey }, { signaturePath: join(model, 'model.sig'), ignorePaths: ['weights.bin'] });
  t.same(signed.resources.map((r) => r.name), ['a-b', 'a/b']);
  writeFileSync(join(model, 'a-b'), 'changed\n');
  t.teardown(() => writeFileSync(join(model, 'a-b'), 'dash\n'));
  await t.rejects(verifyModelDirectory(model, signed.bundle, { kind: 'key', publicKey }, { signaturePath: join(model, 'model.sig') }), { code: 'MISMATCH' });
  await t.rejects(signModel(model, { kind: 'certificate', privateKey, leafDer: pki.leafDer, chainDer: [pki.intermediateDer] }, { signaturePath: join(dir, 'x.sig') }), { code: 'KEY_FORMAT' });
  await t.rejects(signModel(model, { kind: 'key', privateKey }, { signaturePath: join(dir, 'x.sig'), ignorePaths: ['/etc/passwd'] }), { code: 'USAGE' });
});
