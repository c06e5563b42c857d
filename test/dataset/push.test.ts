// `modelgate dataset push MANIFEST oci://…:tag --bundle …`: the manifest becomes an OCI artifact
// (artifactType application/vnd.modelgate.dataset.manifest.v1+json, the manifest bytes as its single
// layer, deterministic digest), its bundles Sigstore-bundle referrers. Against the loopback registry:
// push → resolve → referrers list both bundles → `verify-signatures` of the digest verifies the
// dataset attestation → the printed digest is accepted by `attest run --dataset`. A bundle about
// another manifest is refused before anything is pushed.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { datasetFromReference } from '../../src/cli/dataset-inputs.ts';
import { DATASET_ARTIFACT_TYPE, datasetArtifact, MERKLE_ROOT_ANNOTATION } from '../../src/dataset/attestation-artifact.ts';
import { DATASET_PREDICATE_TYPE } from '../../src/dataset/attestation.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { BUNDLE_PREDICATE_TYPE_ANNOTATION, COSIGN_SIGN_PREDICATE_TYPE } from '../../src/sign/attach.ts';
import { startRegistry } from '../helpers/registry.ts';
import { runCli, VECTORS } from '../helpers/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-dataset-push-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'k.pem');
const pubPath = join(dir, 'k.pub');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));

t.test('push a signed and attested dataset manifest, then find and verify it by digest', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  const data = join(dir, 'data');
  mkdirSync(data);
  for (let i = 0; i < 3; i += 1) writeFileSync(join(data, `part-${i}.csv`), `id,text\n${i},row ${i}\n`);
  const other = join(dir, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'x.csv'), 'x\n');
  const manifest = join(dir, 'dataset.json');
  const otherManifest = join(dir, 'other.json');
  await Promise.all([runCli(['dataset', 'manifest', data, '--output-file', manifest]), runCli(['dataset', 'manifest', other, '--output-file', otherManifest])]);
  const [signed, attested, otherSigned] = await Promise.all([
    runCli(['dataset', 'sign', manifest, '--key', keyPath]),
    runCli(['dataset', 'attest', '--manifest', manifest, '--key', keyPath, '--step', 'dedup', '--license', 'CC0-1.0']),
    runCli(['dataset', 'sign', otherManifest, '--key', keyPath]),
  ]);
  for (const r of [signed, attested, otherSigned]) t.equal(r.code, 0, r.stderr);
  const bundles = [`${manifest}.sigstore.json`, `${manifest}.intoto.sigstore.json`];
  const target = `oci://${registry.host}/datasets/reviews`;

  const refused = await runCli(['dataset', 'push', manifest, `${target}:v1`, '--bundle', bundles[0]!, '--bundle', `${otherManifest}.sigstore.json`]);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /USAGE: bundle .*other\.json\.sigstore\.json signs sha256:[0-9a-f]{64}, not this manifest/);
  const store = new RegistryStore({ registry: registry.host, repository: 'datasets/reviews' }, { plainHttpRegistries: [registry.host] });
  await t.rejects(store.resolve('v1'), { code: 'NOT_FOUND' }, 'nothing was pushed');

  const pushed = await runCli(['dataset', 'push', manifest, `${target}:v1`, ...bundles.flatMap((b) => ['--bundle', b])]);
  t.equal(pushed.code, 0, pushed.stderr);
  const bytes = readFileSync(manifest);
  const digest = pushed.stdout.trim() as Digest;
  t.equal(digest, datasetArtifact(bytes).digest, 'the digest dataset attest predicted');
  t.match(pushed.stderr, `datasets/reviews:v1@${digest}`);

  const descriptor = await store.resolve('v1');
  t.equal(descriptor.digest, digest);
  const fetched = await store.fetchManifest(digest);
  const oci = JSON.parse(Buffer.from(fetched.bytes).toString('utf8'));
  t.equal(oci.artifactType, DATASET_ARTIFACT_TYPE);
  t.equal(oci.config.mediaType, 'application/vnd.oci.empty.v1+json');
  t.same(oci.layers, [{ mediaType: DATASET_ARTIFACT_TYPE, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.byteLength }]);
  t.equal(oci.annotations[MERKLE_ROOT_ANNOTATION], JSON.parse(bytes.toString('utf8')).merkleRoot);
  t.same((await store.fetchBlob(oci.layers[0])).equals(bytes), true, 'the layer is the manifest, byte for byte');

  const referrers = await store.listReferrers(digest);
  t.same(referrers.map((r) => r.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION]).sort(), [DATASET_PREDICATE_TYPE, COSIGN_SIGN_PREDICATE_TYPE].sort(), 'both bundles are referrers');

  const verified = await runCli(['verify-signatures', `${target}@${digest}`, '--key', pubPath, '--trusted-root', join(VECTORS, 'sigstore-js/verify/trusted_root.json'), '--output', 'json']);
  t.equal(verified.code, 0, verified.stderr);
  const report = JSON.parse(verified.stdout) as { items: { kind: string; status: string; predicateType?: string }[] };
  const attestation = report.items.find((i) => i.predicateType === DATASET_PREDICATE_TYPE);
  t.equal(attestation?.status, 'verified', JSON.stringify(report.items));
  // The message signature signs the manifest bytes (the layer), not the OCI manifest: listed, not
  // counted for the artifact digest; it verifies against the layer with verify-bundle.
  t.equal(report.items.length, 2);
  const layerCheck = await runCli(['verify-bundle', manifest, '--bundle', bundles[0]!, '--key', pubPath, '--tlog-threshold', '0', '--trusted-root', join(VECTORS, 'sigstore-js/verify/trusted_root.json')]);
  t.equal(layerCheck.code, 0, layerCheck.stderr);

  t.same(datasetFromReference(`${target}@${digest}`), { uri: target, digest }, 'usable as attest run --dataset');
});
