// modelgate push / sign / attest attach against a real loopback registry and an OCI image layout:
// the pushed ModelPack carries the lineage annotations; referrer and legacy signatures and attestations
// all verify with `modelgate verify-signatures --key`; the legacy tags are read-modify-written (earlier
// layers kept, an identical layer not duplicated); bad input fails with a clear code.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lineageAnnotations } from '../../src/emit/lineage-annotations.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { MediaType } from '../../src/oci/manifest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { cosignTag } from '../../src/oci/tag-schema.ts';
import { KEYS_ONLY_TRUST } from '../../src/pipeline/deps.ts';
import { signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { attachLegacyAttestation, attachLegacySignature } from '../../src/sign/legacy-tag.ts';
import { collectEvidence } from '../../src/sigstore/cosign-evidence.ts';
import { startRegistry } from '../helpers/registry.ts';
import { runCli, VECTORS } from '../helpers/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-push-sign-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const model = join(dir, 'model');
mkdirSync(join(model, 'tokenizer'), { recursive: true });
writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(4096, 7));
writeFileSync(join(model, 'config.json'), '{"layers":2}\n');
writeFileSync(join(model, 'tokenizer/vocab.txt'), 'a\nb\n');
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'signer.key');
const pubPath = join(dir, 'signer.pub');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
const predicatePath = join(dir, 'predicate.json');
writeFileSync(predicatePath, JSON.stringify({ buildDefinition: { buildType: 'https://example.com/b' }, runDetails: { builder: { id: 'https://example.com/builder' } } }));
const datasetDigest = digestOf('dataset manifest');
const container = `oci://ghcr.io/acme/train@${digestOf('train image')}`;

t.test('push → sign → attest attach (both modes) on a registry; verify-signatures finds all four', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  const pushed = await runCli([
    'push', model, `oci://${registry.host}/models/demo:v1`,
    '--name', 'demo', '--dataset-digest', datasetDigest, '--dataset-ref', `oci://${registry.host}/datasets/d@${datasetDigest}`,
    '--training-code', 'git+https://example.com/acme/train@0123456789abcdef0123456789abcdef01234567',
    '--training-container', container, '--hyperparams', '{"lr": 0.001, "epochs": 3}',
  ]);
  t.equal(pushed.code, 0, pushed.stderr);
  const digest = pushed.stdout.trim();
  t.match(digest, /^sha256:[0-9a-f]{64}$/);
  const store = new RegistryStore({ registry: registry.host, repository: 'models/demo' }, { plainHttpRegistries: [registry.host] });
  const fetched = await store.fetchManifest('v1');
  t.equal(fetched.descriptor.digest, digest, 'tag points at the printed digest');
  t.match(fetched.manifest, { kind: 'manifest', artifactType: 'application/vnd.cncf.model.manifest.v1+json' });
  t.same(fetched.manifest.annotations, {
    'org.ml.dataset.digest': datasetDigest,
    'org.ml.dataset.oci-ref': `oci://${registry.host}/datasets/d@${datasetDigest}`,
    'org.ml.training.code': 'git+https://example.com/acme/train@0123456789abcdef0123456789abcdef01234567',
    'org.ml.training.container': container,
    'org.ml.hyperparams': '{"lr":0.001,"epochs":3}',
  });
  t.equal(fetched.manifest.kind === 'manifest' ? fetched.manifest.layers.length : 0, 3);

  const ref = `oci://${registry.host}/models/demo@${digest}`;
  // One after the other: two processes updating one referrers fallback index at the same moment can
  // lose an entry on a registry without conditional writes (see addToFallbackIndex).
  const signed = await runCli(['sign', ref, '--key', keyPath, '--mode', 'both']);
  const attested = await runCli(['attest', 'attach', ref, '--predicate', predicatePath, '--type', 'slsaprovenance1', '--key', keyPath, '--mode', 'both']);
  const unpinned = await runCli(['sign', `oci://${registry.host}/models/demo:v1`, '--key', keyPath]);
  t.equal(signed.code, 0, signed.stderr);
  t.equal(signed.stdout.trim().split('\n').length, 2, 'two manifests written');
  t.equal(attested.code, 0, attested.stderr);
  t.equal(unpinned.code, 2);
  t.match(unpinned.stderr, /not pinned/);

  const verified = await runCli(['verify-signatures', ref, '--key', pubPath, '--trusted-root', join(VECTORS, 'sigstore-js/verify/trusted_root.json'), '--output', 'json']);
  t.equal(verified.code, 0, verified.stderr);
  const report = JSON.parse(verified.stdout) as { items: Array<{ source: string; kind: string; status: string; predicateType?: string }> };
  t.same(
    report.items.map((i) => [i.source, i.kind, i.status, i.predicateType ?? '-']).sort(),
    [
      ['legacy-att', 'attestation', 'verified', 'https://slsa.dev/provenance/v1'],
      ['legacy-sig', 'signature', 'verified', '-'],
      ['referrer', 'attestation', 'verified', 'https://slsa.dev/provenance/v1'],
      ['referrer', 'signature', 'verified', 'https://sigstore.dev/cosign/sign/v1'],
    ].sort(),
  );
  const sigTag = await store.fetchManifest(cosignTag(digest as never, 'sig'));
  t.match(sigTag.manifest, { kind: 'manifest', config: { mediaType: MediaType.OCI_CONFIG }, layers: [{ mediaType: MediaType.COSIGN_SIMPLESIGNING, annotations: { 'dev.cosignproject.cosign/signature': /^[A-Za-z0-9+/]+=*$/ } }] });
});

t.test('legacy tags are read-modify-written; another key\'s signature is kept and reported as failed', async (t) => {
  const layout = join(dir, 'layout');
  const pushed = await runCli(['push', model, `oci-layout://${layout}:v1`]);
  t.equal(pushed.code, 0, pushed.stderr);
  const digest = pushed.stdout.trim() as ReturnType<typeof digestOf>;
  const store = new LayoutStore(layout);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  await attachLegacySignature(store, digest, other.privateKey, { dockerReference: 'example/model', annotations: { team: 'ml' } });
  await attachLegacySignature(store, digest, privateKey, { dockerReference: 'example/model' });
  await attachLegacySignature(store, digest, privateKey, { dockerReference: 'example/model' }); // same payload: ECDSA differs, both kept
  const bundle = signStatementBundle([{ digest }], 'https://example.com/predicate/v1', { a: 1 }, privateKey);
  await attachLegacyAttestation(store, digest, bundle.dsseEnvelope!, 'https://example.com/predicate/v1');
  await attachLegacyAttestation(store, digest, bundle.dsseEnvelope!, 'https://example.com/predicate/v1'); // identical layer: not added twice
  const sig = await store.fetchManifest(cosignTag(digest, 'sig'));
  const att = await store.fetchManifest(cosignTag(digest, 'att'));
  t.equal(sig.manifest.kind === 'manifest' ? sig.manifest.layers.length : 0, 3);
  t.equal(att.manifest.kind === 'manifest' ? att.manifest.layers.length : 0, 1);
  const mine = await collectEvidence(store, digest, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [publicKey] } });
  t.same(mine.items.map((i) => [i.source, i.status]).sort(), [['legacy-att', 'verified'], ['legacy-sig', 'failed'], ['legacy-sig', 'verified'], ['legacy-sig', 'verified']]);
  const theirs = await collectEvidence(store, digest, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [other.publicKey] } });
  t.same(theirs.items.filter((i) => i.status === 'verified').map((i) => i.source), ['legacy-sig'], 'P-384 legacy signature verifies with its key');
});

t.test('lineage annotations are validated', async (t) => {
  t.throws(() => lineageAnnotations({ datasetDigest: 'sha256:nothex' }), { code: 'BAD_DIGEST' });
  t.throws(() => lineageAnnotations({ datasetOciRef: 'oci://r.example/d:latest' }), { code: 'USAGE' });
  t.throws(() => lineageAnnotations({ trainingContainer: 'ghcr.io/acme/train:v1' }), { code: 'USAGE' });
  t.throws(() => lineageAnnotations({ hyperparams: '[1,2]' }), { code: 'USAGE' });
  t.throws(() => lineageAnnotations({ hyperparams: '{' }), { code: 'USAGE' });
  t.same(lineageAnnotations({}), {});
});
