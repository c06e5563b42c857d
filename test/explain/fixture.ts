/**
 * Test fixture for `modelgate explain`: a signed model with SLSA provenance, a test-result evaluation
 * and a stranger's attestation in the loopback registry, built the way test/emit/round-trip.test.ts
 * builds one: source checkout with git metadata, `dataset manifest` and `attest run` of a deterministic
 * "training" script through the CLI (the real training provenance); then, in process to keep the
 * test cheap on a loaded machine, what `push`, `sign` and `attest attach` do (the library calls behind
 * them, as test/helpers/signed-models.ts does): ModelPack push with lineage annotations, cosign sign
 * statement and attestations attached as Sigstore bundle referrers.
 * Hostile text (`<script>`, ANSI escapes) is planted in signed fields so renderers must escape it.
 * Keys are unencrypted PKCS#8 (no passphrase prompt, no scrypt cost).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { datasetPredicate, DATASET_PREDICATE_TYPE } from '../../src/dataset/attestation.ts';
import { pushDatasetArtifact } from '../../src/dataset/attestation-artifact.ts';
import { parseDatasetManifest } from '../../src/dataset/manifest.ts';
import { compareMetrics, evaluationPredicate, parseTolerances } from '../../src/emit/evaluation.ts';
import { lineageAnnotations } from '../../src/emit/lineage-annotations.ts';
import { pushModelDirectory } from '../../src/modelpack/pack.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { REPO, runCli } from '../helpers/run-cli.ts';
import { keyTrustPolicyData, TRAINING_BUILDER, TRAINING_SOURCE } from '../helpers/signed-models.ts';
import { writeDatasetShards, writeSourceCheckout } from '../helpers/source-checkout.ts';

export const BUILDER = TRAINING_BUILDER;
/** The name the fixture's policy data gives the model signer. */
export const SIGNER_NAME = 'release-ci';
export const SOURCE = TRAINING_SOURCE;
export const COMMIT = 'c0ffee'.padEnd(40, '1');
export const DATASET_URI = 's3://acme-data/reviews';
export const TEST_RESULT = 'https://in-toto.io/attestation/test-result/v0.1';
export const DATASET_SOURCE = 'https://crawl.acme.dev/reviews-2026-10.warc';
export const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>\u001b[31mred`;

export interface SignedModel {
  readonly pinned: string;
  readonly digest: string;
  readonly publicKey: string;
  readonly strangerKey: string;
  readonly datasetDigest: string;
  /** The dataset manifest pushed as an OCI artifact (`dataset push`), with a signed dataset attestation. */
  readonly datasetRef: string;
  /** Policy data trusting the signer, builder, source and dataset. */
  readonly allowData: string;
  /** The same, allowlisting another dataset version. */
  readonly denyData: string;
}

function writeKeyPair(dir: string, name: string): { key: string; pub: string; privateKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub, privateKey };
}

/** The shared key-trust policy data (test/helpers/signed-models.ts), allowlisting these dataset versions. */
function policyData(key: KeyObject, datasets: Readonly<Record<string, string>>): unknown {
  const data = keyTrustPolicyData(createPublicKey(key)) as { modelgate_config: Record<string, unknown> & { signers: { keys: Record<string, unknown> } } };
  const allowed = Object.fromEntries(Object.entries(datasets).map(([uri, digest]) => [uri, { digests: { [digest]: {} } }]));
  // The data names the signer: explain shows the name beside the key id.
  const keys = Object.fromEntries(Object.keys(data.modelgate_config.signers.keys).map((id) => [id, { name: SIGNER_NAME }]));
  return { modelgate_config: { ...data.modelgate_config, signers: { ...data.modelgate_config.signers, keys }, datasets: allowed } };
}

async function ok(t: Test, args: string[], cwd: string): Promise<string> {
  const result = await runCli(args, { cwd });
  t.equal(result.code, 0, `modelgate ${args.slice(0, 2).join(' ')}: ${result.stderr}`);
  return result.stdout;
}

export async function signedModel(t: Test, dir: string, registryHost: string): Promise<SignedModel> {
  const signer = writeKeyPair(dir, 'signer');
  const stranger = writeKeyPair(dir, 'stranger');
  const source = writeSourceCheckout(dir, COMMIT, SOURCE);
  const data = writeDatasetShards(dir, 3);
  await ok(t, ['dataset', 'manifest', data, '--output-file', join(dir, 'dataset.json')], dir);
  writeFileSync(join(dir, 'hparams.json'), JSON.stringify({ lr: 0.1, steps: 10, note: HOSTILE }));

  // The dataset as an OCI artifact with a signed dataset attestation (what `dataset push` publishes).
  const manifestBytes = readFileSync(join(dir, 'dataset.json'));
  const datasetRepo = `oci://${registryHost}/datasets/reviews`;
  const datasetStore = openStore(parseReference(datasetRepo));
  const datasetArtifactDescriptor = await pushDatasetArtifact(datasetStore, manifestBytes, 'v1');
  const curated = datasetPredicate({
    manifest: parseDatasetManifest(manifestBytes),
    manifestBytes,
    sources: [{ uri: DATASET_SOURCE, digest: { sha256: 'e'.repeat(64) } }],
    curation: [{ kind: 'dedup', description: 'exact duplicates removed', tool: 'modelgate-test' }],
    license: 'CC-BY-4.0',
  });
  await attachBundle(datasetStore, datasetArtifactDescriptor, signStatementBundle([{ name: 'reviews', digest: datasetArtifactDescriptor.digest }], DATASET_PREDICATE_TYPE, curated, signer.privateKey));
  const datasetRef = `${datasetRepo}@${datasetArtifactDescriptor.digest}`;

  const node = join(REPO, 'node_modules/.bin/node');
  const train = "const fs=require('fs');const rows=fs.readdirSync('data').sort().map(f=>fs.readFileSync('data/'+f,'utf8'));fs.mkdirSync('out',{recursive:true});fs.writeFileSync('out/model.safetensors',Buffer.from(rows.join('')));fs.writeFileSync('out/config.json','{\"layers\":1}')";
  const bundlePath = (
    await ok(t, ['attest', 'run', '--outputs', join(dir, 'out'), '--key', signer.key, '--builder-id', BUILDER, '--source', source,
      '--dataset-manifest', `${DATASET_URI}=${join(dir, 'dataset.json')}`, '--dataset', datasetRef, '--params', join(dir, 'hparams.json'), '--seed', '7', '--', node, '-e', train], dir)
  ).trim();
  const statement = JSON.parse(Buffer.from(JSON.parse(readFileSync(bundlePath, 'utf8')).dsseEnvelope.payload, 'base64').toString('utf8'));
  const datasetDep = statement.predicate.buildDefinition.resolvedDependencies.find((d: { uri?: string }) => d.uri === DATASET_URI);
  const datasetDigest = `sha256:${datasetDep.digest.sha256 as string}`;

  const store = openStore(parseReference(`oci://${registryHost}/models/reviews`));
  const built = await pushModelDirectory(store, join(dir, 'out'), {
    name: 'reviews',
    tag: 'v1',
    annotations: lineageAnnotations({ datasetDigest, trainingCode: `git+${SOURCE}@${COMMIT}`, hyperparams: readFileSync(join(dir, 'hparams.json'), 'utf8') }),
  });
  const subject = built.manifest.descriptor;
  const digest = subject.digest;
  const about = [{ name: 'reviews', digest }];
  // One after the other: each attach updates the referrers (fallback tag) index.
  await attachBundle(store, subject, signStatementBundle([{ digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, signer.privateKey));
  await attachBundle(store, subject, signStatementBundle(about, statement.predicateType, statement.predicate, signer.privateKey));
  // What `attest evaluate --reference … --tolerance 1%` signs: in-toto test-result with metrics and comparisons.
  const metrics = { accuracy: 0.931, f1: 0.912 };
  const testResult = evaluationPredicate({ metrics, configuration: [], comparison: compareMetrics(metrics, { accuracy: 0.93, f1: 0.915 }, parseTolerances(['1%'])) });
  await attachBundle(store, subject, signStatementBundle(about, TEST_RESULT, testResult, signer.privateKey));
  await attachBundle(store, subject, signStatementBundle(about, 'https://example.com/stranger/v1', { claim: 'trust me', note: HOSTILE }, stranger.privateKey));
  const pinned = `oci://${registryHost}/models/reviews@${digest}`;

  const allowData = join(dir, 'allow.json');
  const denyData = join(dir, 'deny.json');
  writeFileSync(allowData, JSON.stringify(policyData(signer.privateKey, { [DATASET_URI]: datasetDigest, [datasetRepo]: datasetArtifactDescriptor.digest })));
  writeFileSync(denyData, JSON.stringify(policyData(signer.privateKey, { [DATASET_URI]: `sha256:${'0'.repeat(64)}`, [datasetRepo]: datasetArtifactDescriptor.digest })));
  return { pinned, digest, publicKey: signer.pub, strangerKey: stranger.pub, datasetDigest, datasetRef, allowData, denyData };
}
