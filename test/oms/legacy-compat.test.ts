/**
 * Signatures made by model_signing 0.2.x (issue 14, item 3): a `https://model_signing/Digests/v0.1`
 * statement (one subject per file) signed over 0.2's non-standard PAE,
 * `"DSSEV1 <len> <type> <len> " + repr(payload bytes)`, with SHA-256 for the certificate method and
 * the curve's hash for the key method. Accepted as model_signing's `pae_compat` fallback accepts
 * them — only after the standard PAE failed, only for that predicate type — and reported as such.
 */
import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pythonBytesRepr } from '../../src/oms/signature.ts';
import { verifyModelDirectory } from '../../src/oms/verify.ts';
import { fileResources, omsStatement, walk } from '../helpers/oms-sign.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makePki } from '../helpers/test-pki.ts';

const work = mkdtempSync(join(tmpdir(), 'modelgate-oms-legacy-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const IN_TOTO = 'application/vnd.in-toto+json';

const model = join(work, 'model');
mkdirSync(join(model, 'sub'), { recursive: true });
writeFileSync(join(model, 'weights.bin'), Buffer.alloc(3000, 9));
writeFileSync(join(model, "it's.json"), '{"quote": "\'"}'); // a quote in the payload changes Python's repr
writeFileSync(join(model, 'sub/tokenizer.txt'), 'tab\there\n');

/** The statement model_signing 0.2 wrote: one subject per file, a placeholder predicate. */
function legacyStatement(): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: fileResources(model, walk(model)).map((r) => ({ name: r.name, digest: { sha256: r.digest }, annotations: { actual_hash_algorithm: 'file-sha256' } })),
    predicateType: 'https://model_signing/Digests/v0.1',
    predicate: { unused: 'Unused, just passed due to API requirements' },
  };
}

const compatPae = (payload: Buffer): Buffer => Buffer.from(`DSSEV1 ${IN_TOTO.length} ${IN_TOTO} ${payload.length} ${pythonBytesRepr(payload)}`, 'utf8');
const standardPae = (payload: Buffer): Buffer => Buffer.concat([Buffer.from(`DSSEv1 ${IN_TOTO.length} ${IN_TOTO} ${payload.length} `), payload]);

function bundle(statement: unknown, key: KeyObject, hash: string, material: Record<string, unknown>, pae = compatPae): string {
  const payload = Buffer.from(JSON.stringify(statement, null, 1));
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: material,
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: IN_TOTO, signatures: [{ sig: sign(hash, pae(payload), key).toString('base64'), keyid: null }] },
  });
}

t.test('Python repr(bytes), as 0.2 embedded the payload', async (t) => {
  t.equal(pythonBytesRepr(Buffer.from('{"a": 1}')), `b'{"a": 1}'`);
  t.equal(pythonBytesRepr(Buffer.from("it's\t\\\n\u00e9")), `b"it's\\t\\\\\\n\\xc3\\xa9"`);
  t.equal(pythonBytesRepr(Buffer.from(`'"`)), `b'\\'"'`);
});

t.test('certificate method: a 0.2 signature (compat PAE, SHA-256) verifies by default and says so', async (t) => {
  const pkiDir = join(work, 'pki');
  mkdirSync(pkiDir);
  const pki = makePki(pkiDir);
  const chain = { x509CertificateChain: { certificates: [pki.leafDer, pki.intermediateDer].map((d) => ({ rawBytes: d.toString('base64') })) } };
  const method = { kind: 'certificate' as const, caCertificates: [new X509Certificate(pki.rootPem)] };
  const legacy = bundle(legacyStatement(), pki.leafKey, 'sha256', chain);
  const result = await verifyModelDirectory(model, legacy, method, { allowLegacy: true });
  t.equal(result.legacyPae, true);
  t.equal(result.manifest.format, 'legacy-v0.2');
  t.same(result.resources.map((r) => r.name).sort(), ["it's.json", 'sub/tokenizer.txt', 'weights.bin']);

  const sig = join(work, 'legacy-cert.sig');
  writeFileSync(sig, legacy);
  const args = ['verify-model', 'certificate', '--signature', sig, '--certificate-chain', join(pkiDir, 'root.pem'), model];
  const cli = await runCli(args);
  t.equal(cli.code, 0, cli.stderr);
  t.equal(cli.stdout, 'Verification succeeded\n');
  t.match(cli.stderr, /model_signing 0\.2 signature .* non-standard PAE \(compatibility fallback\)/);
  const json = await runCli([...args.slice(0, 2), '--output', 'json', ...args.slice(2)]);
  t.match(JSON.parse(json.stdout), { verified: true, format: 'legacy-v0.2', legacyPae: true });
  const refused = await runCli([...args.slice(0, 2), '--no-allow-legacy-signatures', ...args.slice(2)]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /Verification failed with error: SIGNATURE/);

  // Only for the Digests/v0.1 predicate: the compat PAE over a v1.0 statement is not a signature.
  const v1 = bundle(omsStatement(fileResources(model, walk(model))), pki.leafKey, 'sha256', chain);
  await rejectsWith(t, verifyModelDirectory(model, v1, method, { allowLegacy: true }), ['SIGNATURE']);
  // A model changed after signing still fails on its digests.
  const changed = join(work, 'changed');
  mkdirSync(changed);
  writeFileSync(join(changed, 'weights.bin'), Buffer.alloc(3000, 8));
  await rejectsWith(t, verifyModelDirectory(changed, legacy, method, { allowLegacy: true }), ['MISMATCH']);
});

t.test('key method: the compat PAE with the curve\'s hash, as model_signing; standard PAE first', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const method = { kind: 'key' as const, publicKey };
  const material = { publicKey: { hint: '' } };
  const ok = await verifyModelDirectory(model, bundle(legacyStatement(), privateKey, 'sha384', material), method, { allowLegacy: true });
  t.equal(ok.legacyPae, true);
  await rejectsWith(t, verifyModelDirectory(model, bundle(legacyStatement(), privateKey, 'sha256', material), method, { allowLegacy: true }), ['SIGNATURE'], 'the key method hashes by the curve');
  const standard = await verifyModelDirectory(model, bundle(legacyStatement(), privateKey, 'sha384', material, standardPae), method, { allowLegacy: true });
  t.equal(standard.legacyPae, false, 'a standard PAE over the old predicate is not a compat signature');
  await rejectsWith(t, verifyModelDirectory(model, bundle(legacyStatement(), privateKey, 'sha384', material), method), ['SIGNATURE'], 'the library refuses unless asked');
});
