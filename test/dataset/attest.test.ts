// `modelgate dataset attest`: an in-toto Statement v1 (predicateType https://modelgate.dev/dataset/v1)
// about a dataset manifest — subject = the manifest bytes' sha256 (what `attest run
// --dataset-manifest` records) plus the OCI artifact `dataset push` makes of it — signed with a key
// or keyless; verified with `verify-bundle`; predicate content asserted; bad flags refused clearly.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { datasetFromManifest } from '../../src/cli/dataset-inputs.ts';
import { checkDatasetPredicate, DATASET_PREDICATE_TYPE, parseLicenseFlag, parseSourceFlag, parseStepFlag } from '../../src/dataset/attestation.ts';
import { datasetArtifact } from '../../src/dataset/attestation-artifact.ts';
import { runCli, VECTORS } from '../helpers/run-cli.ts';
import { startSigstoreServices } from '../helpers/sigstore-services.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-dataset-attest-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, 'reviews');
mkdirSync(join(data, 'split'), { recursive: true });
writeFileSync(join(data, 'README'), 'reviews v3\n');
writeFileSync(join(data, 'split/train.jsonl'), '{"text":"good","label":1}\n');
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'k.pem');
const pubPath = join(dir, 'k.pub');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
/** Any valid root keeps key verification offline (no TUF fetch). */
const OFFLINE_ROOT = join(VECTORS, 'sigstore-js/verify/trusted_root.json');
const RAW = `sha256:${'ab'.repeat(32)}`;
const STEP = '{"kind":"pii-removal","description":"e-mail addresses masked","tool":"presidio@2.2.355","parameters":{"entities":["EMAIL_ADDRESS"],"score":0.6}}';

const payloadOf = (bundlePath: string): { subject: { name: string; digest: { sha256: string } }[]; predicateType: string; predicate: Record<string, any> } => {
  const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
  return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
};

t.test('key-signed attestation of a directory and of its manifest file', async (t) => {
  const manifest = join(dir, 'reviews.json');
  const fromDir = join(dir, 'from-dir.sigstore.json');
  const [made, attested] = await Promise.all([
    runCli(['dataset', 'manifest', data, '--output-file', manifest]),
    runCli(['dataset', 'attest', data, '--key', keyPath, '--output-file', fromDir, '--name', 'reviews.json', '--uri', 's3://acme/reviews/v3',
      '--source', `https://example.org/dump.tar.zst?v=2=${RAW}`, '--step', 'dedup', '--step', STEP, '--license', 'CC-BY-4.0 OR MIT']),
  ]);
  t.equal(made.code, 0, made.stderr);
  t.equal(attested.code, 0, attested.stderr);
  const manifestBytes = readFileSync(manifest);
  const manifestDigest = createHash('sha256').update(manifestBytes).digest('hex');

  const statement = payloadOf(fromDir);
  t.equal(statement.predicateType, DATASET_PREDICATE_TYPE);
  t.same(statement.subject, [
    { name: 'reviews.json', digest: { sha256: manifestDigest } },
    { name: 'reviews.json#oci-artifact', digest: { sha256: datasetArtifact(manifestBytes).digest.slice(7) } },
  ], 'subject: the manifest bytes, and the OCI artifact dataset push makes of them');
  t.same(statement.predicate, {
    manifest: {
      mediaType: 'application/vnd.modelgate.dataset.manifest.v1+json',
      digest: `sha256:${manifestDigest}`,
      merkleRoot: JSON.parse(manifestBytes.toString('utf8')).merkleRoot,
      fileCount: 2,
      totalSize: 11 + 26,
      uri: 's3://acme/reviews/v3',
    },
    sources: [{ uri: 'https://example.org/dump.tar.zst?v=2', digest: { sha256: 'ab'.repeat(32) } }],
    curation: [{ kind: 'dedup' }, JSON.parse(STEP)],
    license: 'CC-BY-4.0 OR MIT',
  });
  checkDatasetPredicate(statement.predicate);
  t.equal((await datasetFromManifest(manifest)).digest, `sha256:${manifestDigest}`, 'the digest attest run --dataset-manifest records');

  // --manifest FILE (default output beside it) signs the same subject; both verify.
  const fromFile = await runCli(['dataset', 'attest', '--manifest', manifest, '--key', keyPath]);
  t.equal(fromFile.code, 0, fromFile.stderr);
  t.same(payloadOf(`${manifest}.intoto.sigstore.json`).subject[0]!.digest, { sha256: manifestDigest });
  const [byFile, byDigest] = await Promise.all([
    runCli(['verify-bundle', manifest, '--bundle', fromDir, '--key', pubPath, '--tlog-threshold', '0', '--trusted-root', OFFLINE_ROOT, '--output', 'json']),
    runCli(['verify-bundle', `sha256:${manifestDigest}`, '--bundle', `${manifest}.intoto.sigstore.json`, '--key', pubPath, '--tlog-threshold', '0', '--trusted-root', OFFLINE_ROOT]),
  ]);
  t.equal(byFile.code, 0, byFile.stderr);
  t.equal(JSON.parse(byFile.stdout).content.predicateType, DATASET_PREDICATE_TYPE);
  t.equal(byDigest.code, 0, byDigest.stderr);
});

t.test('keyless attestation verifies by identity', async (t) => {
  const services = await startSigstoreServices();
  t.teardown(() => services.close());
  const root = join(dir, 'trusted_root.json');
  writeFileSync(root, services.trustedRootJson);
  const manifest = join(dir, 'reviews.json');
  const out = join(dir, 'keyless.intoto.sigstore.json');
  const env = { ...process.env, SIGSTORE_ID_TOKEN: services.token('data-team@example.com') };
  const attested = await runCli(['dataset', 'attest', '--manifest', manifest, '--output-file', out, '--fulcio-url', services.fulcioUrl, '--rekor-url', services.rekorUrl, '--step', 'filter'], { env });
  t.equal(attested.code, 0, attested.stderr);
  const verified = await runCli(['verify-bundle', manifest, '--bundle', out, '--certificate-identity', 'data-team@example.com', '--certificate-oidc-issuer', services.issuer, '--trusted-root', root]);
  t.equal(verified.code, 0, verified.stderr);
  t.match(verified.stdout, `predicate ${DATASET_PREDICATE_TYPE}`);
  t.equal(services.requests.rekor, 1, 'one dsse entry');
});

t.test('bad flags get clear errors', async (t) => {
  t.same(parseSourceFlag(`s3://b/raw.tar=${RAW}`), { uri: 's3://b/raw.tar', digest: { sha256: 'ab'.repeat(32) } });
  t.throws(() => parseSourceFlag('s3://b/raw.tar'), { code: 'USAGE', message: /must be URI=sha256:<hex>/ });
  t.throws(() => parseSourceFlag('raw.tar=sha256:' + 'ab'.repeat(32)), { message: /is not a URI/ });
  t.throws(() => parseSourceFlag('s3://b/x=sha256:abcd'), { message: /a sha256 digest has 64 hex digits, got 4/ });
  t.same(parseStepFlag('pii-removal'), { kind: 'pii-removal' });
  t.throws(() => parseStepFlag('PII removal'), { code: 'USAGE', message: /kind must match pattern/ });
  t.throws(() => parseStepFlag('{"kind":"dedup","tools":"x"}'), { message: /must NOT have additional properties \(tools\)/ });
  t.throws(() => parseStepFlag('{"kind":"dedup","parameters":[1]}'), { message: /parameters must be object/ });
  t.throws(() => parseStepFlag('{"kind":'), { message: /is not valid JSON/ });
  t.equal(parseLicenseFlag('Apache-2.0 WITH LLVM-exception'), 'Apache-2.0 WITH LLVM-exception');
  t.equal(parseLicenseFlag('LicenseRef-acme-internal'), 'LicenseRef-acme-internal');
  t.throws(() => parseLicenseFlag('Apache 2'), { code: 'USAGE', message: /not an SPDX licence expression/ });
  t.throws(() => checkDatasetPredicate({ manifest: {}, sources: [], curation: [], extra: 1 }), { code: 'USAGE', message: /dataset predicate is invalid/ });

  const [noInput, bad] = await Promise.all([
    runCli(['dataset', 'attest', '--key', keyPath]),
    runCli(['dataset', 'attest', '--manifest', join(dir, 'reviews.json'), '--key', keyPath, '--output-file', join(dir, 'bad.json'), '--license', 'GPL-2.0+ OR OR MIT']),
  ]);
  t.equal(noInput.code, 2);
  t.match(noInput.stderr, /USAGE: give either a dataset DIR or --manifest FILE/);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /USAGE: --license "GPL-2.0\+ OR OR MIT" is not an SPDX licence expression/);
});
