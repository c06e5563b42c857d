// Key-signed DSSE bundles (signDsseBundle / signStatementBundle) verify with verifyBundle for every
// supported key type (P-256/P-384/P-521 with the curve's hash, Ed25519), are v0.3 bundles with a key
// hint and no log entries, and attachBundle writes the cosign v3 referrer shape that collectEvidence
// reads back and verifies (OCI image layout, no registry needed).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { digestOf } from '../../src/oci/digest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { EMPTY_DESCRIPTOR, MediaType } from '../../src/oci/manifest.ts';
import { KEYS_ONLY_TRUST } from '../../src/pipeline/deps.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, inTotoStatement, signDsseBundle, signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { verifyBundle } from '../../src/sigstore/bundle.ts';
import { collectEvidence, policyEvidence } from '../../src/sigstore/cosign-evidence.ts';
import { keyHint, keyId } from '../../src/sigstore/keys.ts';

const subject = digestOf('model manifest bytes');

t.test('every supported key type signs a bundle verifyBundle accepts', async (t) => {
  const pairs = [
    generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    generateKeyPairSync('ed25519'),
  ];
  for (const { privateKey, publicKey } of pairs) {
    const bundle = signStatementBundle([{ name: 'model', digest: subject }], 'https://slsa.dev/provenance/v1', { x: 1 }, privateKey);
    t.equal(bundle.mediaType, MediaType.SIGSTORE_BUNDLE_V03);
    t.same(bundle.verificationMaterial.tlogEntries ?? [], [], 'no transparency-log entries');
    t.equal(bundle.verificationMaterial.publicKey?.hint, keyHint(publicKey));
    const verified = await verifyBundle(bundle, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [publicKey] }, tlogThreshold: 0, artifact: { kind: 'digest', digest: subject } });
    t.same(verified.signer, { kind: 'key', keyId: keyId(publicKey) }, String(publicKey.asymmetricKeyDetails?.namedCurve ?? 'ed25519'));
    t.equal(verified.content.kind === 'dsse' ? verified.content.statement?.predicateType : undefined, 'https://slsa.dev/provenance/v1');
  }
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const bundle = signDsseBundle(inTotoStatement([{ digest: subject }], COSIGN_SIGN_PREDICATE_TYPE), pairs[0]!.privateKey);
  await t.rejects(verifyBundle(bundle, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [other.publicKey] }, tlogThreshold: 0 }), { code: 'SIGNATURE' });
  t.throws(() => signDsseBundle(Buffer.from('{}'), pairs[0]!.publicKey), { code: 'KEY_FORMAT' });
  t.throws(() => inTotoStatement([], 'x'), { code: 'USAGE' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  t.throws(() => signDsseBundle(Buffer.from('{}'), rsa.privateKey), { code: 'KEY_FORMAT' });
});

t.test('attachBundle writes the cosign v3 referrer that collectEvidence reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-attach-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new LayoutStore(dir, { create: true });
  await store.pushBlob({ kind: 'bytes', bytes: Buffer.from('{}'), mediaType: MediaType.OCI_EMPTY });
  const model = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: EMPTY_DESCRIPTOR, layers: [] }));
  const descriptor = await store.pushManifest(model, MediaType.OCI_MANIFEST, { tag: 'v1' });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const created = new Date('2026-08-01T12:00:00.123Z');
  const sig = await attachBundle(store, descriptor, signStatementBundle([{ digest: descriptor.digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, privateKey), { created });
  const att = await attachBundle(store, descriptor, JSON.stringify(signStatementBundle([{ digest: descriptor.digest }], 'https://slsa.dev/provenance/v1', { b: 1 }, privateKey)), { created });
  const fetched = await store.fetchManifest(sig.digest);
  t.match(fetched.manifest, {
    kind: 'manifest',
    artifactType: MediaType.SIGSTORE_BUNDLE_V03,
    config: { mediaType: MediaType.OCI_EMPTY, digest: EMPTY_DESCRIPTOR.digest, size: 2 },
    layers: [{ mediaType: MediaType.SIGSTORE_BUNDLE_V03 }],
    subject: { mediaType: MediaType.OCI_MANIFEST, digest: descriptor.digest, size: descriptor.size },
    annotations: {
      'org.opencontainers.image.created': '2026-08-01T12:00:00Z',
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE,
    },
  });
  t.equal((await store.fetchManifest(att.digest)).manifest.annotations?.['dev.sigstore.bundle.predicateType'], 'https://slsa.dev/provenance/v1');
  const report = await collectEvidence(store, descriptor.digest, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [publicKey] } });
  t.same(report.items.map((i) => [i.source, i.kind, i.status]).sort(), [['referrer', 'attestation', 'verified'], ['referrer', 'signature', 'verified']]);
  const evidence = policyEvidence(report);
  t.equal(evidence.signatures.length, 1);
  t.same(evidence.attestations.map((a) => [a.predicateType, a.predicate]), [['https://slsa.dev/provenance/v1', { b: 1 }]]);
  await t.rejects(attachBundle(store, descriptor, { mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1' }), { code: 'USAGE' });
  await t.rejects(attachBundle(store, descriptor, 'not json'), { code: 'USAGE' });
});
