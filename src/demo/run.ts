/**
 * The demo walk-through (`runDemo`): the whole modelgate pipeline on one machine, by default on an
 * OCI image layout under the output directory (no registry, no cluster), or against a registry.
 *
 * Owns: the demo's narrative only. Every step calls the functions the CLI commands call (dataset
 * manifest/sign, keygen, attest run, push, sign, attest attach, attest sbom, init) in-process; the admission
 * webhook runs as its own process (`modelgate webhook`) and is sent AdmissionReviews over HTTPS.
 * Each step prints what it did and what it proved, and asserts its expectation: any broken
 * expectation throws `DemoFailure` (the entry point exits 1).
 */
import { createPublicKey } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { datasetFromReference } from '../cli/dataset-inputs.ts';
import { openSubject } from '../cli/evidence-mode.ts';
import { resolveBundleSigner } from '../cli/signing-key-option.ts';
import { openReference, type StoreCliOptions } from '../cli/store-options.ts';
import { pushDatasetArtifact } from '../dataset/attestation-artifact.ts';
import { datasetPredicate, DATASET_PREDICATE_TYPE } from '../dataset/attestation.ts';
import { buildDatasetManifest, serializeDatasetManifest } from '../dataset/manifest.ts';
import { lineageAnnotations } from '../emit/lineage-annotations.ts';
import { readGitCheckout } from '../emit/source-tree.ts';
import { datasetDescriptor, DEPENDENCY_KIND_ANNOTATION, TRAINING_BUILD_TYPE, type DatasetInput } from '../emit/training-provenance.ts';
import { readEnvironmentPackages } from '../emit/environment-packages.ts';
import { queryCudaVersion } from '../emit/gpu-info.ts';
import { CYCLONEDX_BOM_PREDICATE, trainingEnvironmentSbom } from '../emit/sbom.ts';
import { hostFacts, runTrainingWithProvenance } from '../emit/training-run.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { BlobCache } from '../init/cache.ts';
import { initModel } from '../init/pull.ts';
import { RECEIPT_DIR, RECEIPT_FILE } from '../init/publish.ts';
import { pushModelDirectory } from '../modelpack/pack.ts';
import { FILEPATH_ANNOTATION, ModelPackMediaType } from '../modelpack/spec.ts';
import { defaultDockerConfigPath, loadDockerConfig } from '../oci/credentials.ts';
import type { Digest } from '../oci/digest.ts';
import { LayoutStore } from '../oci/layout.ts';
import { openStore } from '../oci/open.ts';
import { parseReference } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../pipeline/deps.ts';
import { DEFAULT_BUNDLE_DIR } from '../policy/bundle.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { EVALUATION_PREDICATE_V1, SLSA_PROVENANCE_V1 } from '../evidence/vocabulary.ts';
import { normalizeProvenance } from '../policy/input.ts';
import { attachBundle } from '../sign/attach.ts';
import { signBlobWith, signStatementWith, type BundleSigner } from '../sign/bundle-signer.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../sign/dsse-bundle.ts';
import { writeSigningKeyPair } from '../sign/keys.ts';
import { PASSPHRASE_ENV, resolvePassphrase } from '../sign/passphrase.ts';
import { verifyBundle } from '../sigstore/bundle.ts';
import { keyId } from '../sigstore/keys.ts';
import { safetensorsDataOffset, writeDemoDataset } from './model.ts';
import { selfSignedCertificate } from './tls.ts';
import { WebhookProcess, type AdmissionResponseBody } from './webhook-process.ts';

export class DemoFailure extends Error {}

function expect(condition: boolean, what: string): asserts condition {
  if (!condition) throw new DemoFailure(`demo expectation failed: ${what}`);
}

/** The package root: the training code whose git commit the provenance records. */
const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');
const TRAIN_SCRIPT = join(import.meta.dirname, `train${import.meta.filename.endsWith('.ts') ? '.ts' : '.js'}`);
const BUILDER_ID = 'https://modelgate.dev/builders/npm-run-demo@v1';
/** The demo's throw-away signing key is encrypted with this (set as MODELGATE_PASSWORD for the demo's own commands). */
const DEMO_PASSPHRASE = 'modelgate-demo-throwaway';
const DATASET_SEED = 7;
const TRAINING_SEED = 42;
const EPOCHS = 8;
const TAG = 'v1';
const NAMESPACE = 'models';

export interface DemoOptions {
  /** Output directory (default `demo-out`). */
  readonly outDir?: string;
  /** Run against this registry (`[http[s]://]host[:port][/prefix]`) instead of an OCI layout under the output directory. */
  readonly registry?: string;
  /** The training source tree whose git commit is recorded (default: the modelgate checkout). */
  readonly sourceDir?: string;
  readonly log?: (line: string) => void;
}

export interface DemoResult {
  readonly digest: Digest;
  readonly storageUri: string;
  readonly tamperedDigest: Digest;
  readonly receiptPath: string;
  readonly seconds: number;
}

/** The model repository: in an OCI layout under `out`, or on a registry. */
interface Target {
  /** `oci-layout:///abs/dir` or `oci://host/repo` (no tag or digest). */
  readonly base: string;
  readonly kind: 'layout' | 'registry';
  readonly storeOptions: StoreCliOptions;
  /** Extra `modelgate webhook` arguments this target needs. */
  readonly webhookArgs: readonly string[];
  /** Where `dataset push` puts the training datasets (no tag or digest). */
  readonly datasets: string;
}

function registryTarget(text: string): Target {
  const match = /^(?:(https?):\/\/)?([^/\s]+)(\/[^\s]*)?$/.exec(text.trim());
  if (match === null) throw new DemoFailure(`--registry ${JSON.stringify(text)}: expected [http[s]://]host[:port][/prefix]`);
  const host = match[2]!.toLowerCase();
  const prefix = (match[3] ?? '').replace(/^\/+|\/+$/g, '');
  const repository = `${prefix === '' ? 'modelgate-demo' : prefix}/demo-model`;
  parseReference(`oci://${host}/${repository}:${TAG}`); // BAD_REFERENCE names the bad part
  const plainHttp = match[1] === 'http' ? [host] : [];
  return {
    base: `oci://${host}/${repository}`,
    kind: 'registry',
    storeOptions: { plainHttp },
    webhookArgs: plainHttp.flatMap((h) => ['--plain-http', h]),
    datasets: `oci://${host}/${repository.replace(/demo-model$/, 'demo-dataset')}`,
  };
}

/** The store `modelgate push` writes to: a layout is created if missing. */
async function openPushTarget(target: Target, reference: string): Promise<ArtifactStore> {
  if (target.kind === 'layout') return openStore(parseReference(reference), { layout: { create: true } });
  return (await openReference(reference, target.storeOptions)).store;
}

function inferenceServiceReview(uid: string, name: string, storageUri: string): unknown {
  const object = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name, namespace: NAMESPACE },
    spec: { predictor: { model: { modelFormat: { name: 'custom' }, storageUri } } },
  };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'serving.kserve.io', version: 'v1beta1', kind: 'InferenceService' },
      resource: { group: 'serving.kserve.io', version: 'v1beta1', resource: 'inferenceservices' },
      namespace: NAMESPACE,
      name,
      operation: 'CREATE',
      userInfo: { username: 'ml-engineer@example.com', groups: ['system:authenticated'] },
      object,
      dryRun: false,
    },
  };
}

function reasonsOf(response: AdmissionResponseBody): Array<{ code: string; message: string }> {
  const raw = response.auditAnnotations?.['reasons'];
  return raw === undefined ? [] : (JSON.parse(raw) as Array<{ code: string; message: string }>);
}

function flipByte(bytes: Buffer, at: number): void {
  bytes[at] = bytes[at]! ^ 0x01;
}

/** Remove what a previous run left in the output directory (only the demo's own entries). */
const OUTPUTS = ['dataset', 'dataset-unreviewed', 'datasets', 'dataset.manifest.json', 'dataset.manifest.json.sigstore.json', 'keys', 'model', 'model.provenance.sigstore.json', 'model-tampered', 'layout', 'layout-tampered', 'policy-data.json', 'webhook', 'cache', 'mnt'];

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const started = performance.now();
  const stepTimes: string[] = [];
  let stepStarted = started;
  /** Close a step: record how long it took. */
  const took = (name: string): void => {
    const now = performance.now();
    stepTimes.push(`${name} ${((now - stepStarted) / 1000).toFixed(1)} s`);
    stepStarted = now;
  };
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const out = resolvePath(options.outDir ?? 'demo-out');
  const cwd = process.cwd();
  const show = (path: string): string => relative(cwd, path) || '.';
  /** Display form: paths relative to the working directory, digests shortened. */
  const brief = (text: string): string => text.replaceAll(`//${cwd}/`, '//').replace(/sha256:([0-9a-f]{12})[0-9a-f]{52}/g, 'sha256:$1…');
  const target: Target = options.registry === undefined
    ? { base: `oci-layout://${join(out, 'layout')}`, kind: 'layout', storeOptions: {}, webhookArgs: ['--layout-root', out], datasets: `oci-layout://${join(out, 'datasets')}` }
    : registryTarget(options.registry);
  const sourceDir = resolvePath(options.sourceDir ?? PACKAGE_ROOT);
  for (const entry of OUTPUTS) await rm(join(out, entry), { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  if (!existsSync(join(DEFAULT_BUNDLE_DIR, 'manifest.json'))) {
    throw new DemoFailure(`no policy bundle at ${show(DEFAULT_BUNDLE_DIR)}: run npm run build:policies first (npm run demo does)`);
  }

  const previousPassphrase = process.env[PASSPHRASE_ENV];
  process.env[PASSPHRASE_ENV] = DEMO_PASSPHRASE;
  let webhook: WebhookProcess | undefined;
  try {
    log(`modelgate demo: train, sign, admit and serve a model — ${target.kind === 'layout' ? `on an OCI image layout in ${show(out)}/layout (no registry, no cluster)` : `on the registry ${brief(target.base)}`}`);
    log('');

    // 0. An ephemeral signing key (modelgate keygen).
    const keyPrefix = join(out, 'keys', 'demo');
    await mkdir(join(out, 'keys'), { recursive: true });
    const keyFiles = await writeSigningKeyPair(keyPrefix, await resolvePassphrase({ purpose: 'create', keyName: `${keyPrefix}.key` }), { force: true });
    const signer: BundleSigner = await resolveBundleSigner({ key: keyFiles.privateKeyPath });
    const publicKey = createPublicKey(await readFile(keyFiles.publicKeyPath, 'utf8'));
    const keyDigest = `sha256:${keyId(publicKey)}`;
    log(`0. modelgate keygen: an ephemeral ECDSA P-256 key ${show(keyFiles.privateKeyPath)} (encrypted; passphrase in MODELGATE_PASSWORD, set by the demo) and ${show(keyFiles.publicKeyPath)}`);
    log(`     key id ${brief(keyDigest)}: the only signer the demo's policy trusts`);
    took('keygen');

    // 1. Dataset: generate, manifest, sign, attest and push (the gate requires it signed: datasets.requireSignature).
    const datasetDir = join(out, 'dataset');
    const data = await writeDemoDataset(datasetDir, { seed: DATASET_SEED });
    const manifestPath = join(out, 'dataset.manifest.json');
    const datasetManifest = await buildDatasetManifest(datasetDir);
    const manifestBytes = serializeDatasetManifest(datasetManifest);
    await writeFileAtomic(manifestPath, manifestBytes, { overwrite: true });
    const datasetBundle = await signBlobWith(signer, manifestBytes);
    await writeFileAtomic(`${manifestPath}.sigstore.json`, `${JSON.stringify(datasetBundle)}\n`, { overwrite: true });
    const datasetCheck = await verifyBundle(datasetBundle, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [publicKey] }, artifact: { kind: 'bytes', bytes: manifestBytes }, tlogThreshold: 0 });
    expect(datasetCheck.signer.kind === 'key' && `sha256:${datasetCheck.signer.keyId}` === keyDigest, 'the dataset manifest signature verifies under the demo key');
    const datasetStore = await openPushTarget(target, `${target.datasets}:${TAG}`);
    const datasetArtifact = await pushDatasetArtifact(datasetStore, manifestBytes, TAG);
    const datasetAttestation = await attachBundle(
      datasetStore,
      datasetArtifact,
      await signStatementWith(signer, [{ name: 'demo-reviews', digest: datasetArtifact.digest }], DATASET_PREDICATE_TYPE, datasetPredicate({ manifest: datasetManifest, manifestBytes, curation: [{ kind: 'dedup' }], license: 'CC0-1.0' })),
    );
    const dataset = datasetFromReference(`${target.datasets}@${datasetArtifact.digest}`);
    // An unreviewed copy (one more shard), pushed next to it but signed by nobody.
    const unreviewedDir = join(out, 'dataset-unreviewed');
    await cp(datasetDir, unreviewedDir, { recursive: true });
    await writeFile(join(unreviewedDir, 'scraped.jsonl'), '{"text":"unreviewed scraped review","label":1}\n');
    const unreviewedArtifact = await pushDatasetArtifact(datasetStore, serializeDatasetManifest(await buildDatasetManifest(unreviewedDir)), 'unreviewed');
    const unreviewed: DatasetInput = datasetFromReference(`${target.datasets}@${unreviewedArtifact.digest}`);
    log(`1. Generated a dataset ${show(datasetDir)}/ (${data.files.length} shards, ${data.rows} labelled reviews, seed ${DATASET_SEED})`);
    log(`     modelgate dataset manifest → ${show(manifestPath)}: ${datasetManifest.fileCount} files, Merkle root ${brief(datasetManifest.merkleRoot)}`);
    log(`     modelgate dataset sign     → ${show(manifestPath)}.sigstore.json`);
    log(`     modelgate dataset attest + push → ${brief(`${dataset.uri}@${dataset.digest}`)} (dataset attestation referrer ${brief(datasetAttestation.digest)})`);
    log(`     an unreviewed copy (one scraped shard more), pushed unsigned → ${brief(`${unreviewed.uri}@${unreviewed.digest}`)}`);
    log('   proved: the dataset is pinned by one digest, and its manifest carries a signature and an attestation that verify under the demo key');
    took('dataset');

    // 2. Training under attest run.
    const modelDir = join(out, 'model');
    const hyperparameters = { epochs: EPOCHS, learningRate: 0.05, hiddenUnits: 32, hashedFeatures: 4096 };
    const run = await runTrainingWithProvenance({
      command: [process.execPath, TRAIN_SCRIPT, '--data', datasetDir, '--out', modelDir, '--seed', String(TRAINING_SEED), '--epochs', String(EPOCHS)],
      outputsDir: modelDir,
      signer,
      builderId: BUILDER_ID,
      datasets: [dataset],
      hyperparameters,
      seeds: [String(TRAINING_SEED)],
      sourceDir,
    });
    expect(run.status === 'attested', `the training script succeeds (exit code ${run.exitCode})`);
    const weights = await readFile(join(modelDir, 'model.safetensors'));
    const metrics = JSON.parse(await readFile(join(modelDir, 'metrics.json'), 'utf8')) as { trainAccuracy: number; trainLoss: number };
    const weightsDigest = run.subjects.find((s) => s.name === 'model.safetensors')?.digest;
    expect(weightsDigest !== undefined, 'the provenance names model.safetensors as a subject');
    const provenanceCheck = await verifyBundle(run.bundle, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [publicKey] }, artifact: { kind: 'bytes', bytes: weights }, tlogThreshold: 0 });
    const statement = provenanceCheck.content.kind === 'dsse' ? provenanceCheck.content.statement : undefined;
    expect(statement?.predicateType === SLSA_PROVENANCE_V1, 'the provenance is a signed SLSA v1 statement whose subjects include the weights');
    const provenance = normalizeProvenance(SLSA_PROVENANCE_V1, statement.predicate);
    const datasetDep = provenance.resolvedDependencies.find((d) => d.kind === 'dataset');
    expect(datasetDep !== undefined && `sha256:${datasetDep.digest['sha256']}` === dataset.digest, 'the provenance names the dataset digest');
    expect(JSON.stringify(provenance.externalParameters['seeds']) === JSON.stringify([String(TRAINING_SEED)]), 'the provenance records the seed');
    const checkout = readGitCheckout(sourceDir);
    expect((checkout === undefined) === (provenance.source === null), 'the provenance names a source commit exactly when the demo runs in a git checkout');
    log(`2. modelgate attest run (training ${show(TRAIN_SCRIPT)} on the pinned Node, seed ${TRAINING_SEED}): trained a ${hyperparameters.hashedFeatures}×${hyperparameters.hiddenUnits} sentiment classifier in ${show(modelDir)}/`);
    log(`     training accuracy ${metrics.trainAccuracy.toFixed(3)}, loss ${metrics.trainLoss.toFixed(3)}; weights ${brief(weightsDigest)}`);
    log(`     SLSA provenance ${show(run.bundlePath)}: builder ${provenance.builderId}, dataset ${brief(dataset.digest)}, seed ${TRAINING_SEED}`);
    log(
      checkout === undefined || provenance.source === null
        ? `     source: ${show(sourceDir)} is not inside a git checkout, so the provenance records no commit (the demo's policy waives SOURCE_NOT_ALLOWLISTED by a named exception)`
        : `     source: ${provenance.source.repository} at commit ${provenance.source.commit ?? '?'}${provenance.source.ref === null ? '' : ` (${provenance.source.ref})`}`,
    );
    log('   proved: the provenance signature verifies, its subjects are the output files, and it names the dataset digest, the code and the seed');
    took('training');

    // 3. Push, sign, attach provenance.
    const pushRef = `${target.base}:${TAG}`;
    const store = await openPushTarget(target, pushRef);
    const annotations = lineageAnnotations({
      datasetDigest: dataset.digest,
      ...(provenance.source?.commit ? { trainingCode: `git+${provenance.source.repository}@${provenance.source.commit}` } : {}),
      hyperparams: JSON.stringify(hyperparameters),
    });
    const built = await pushModelDirectory(store, modelDir, { tag: TAG, annotations, name: 'demo-sentiment', version: '1.0.0' });
    const digest = built.manifest.descriptor.digest;
    const pinned = `${target.base}@${digest}`;
    const subject = await openSubject(pinned, target.storeOptions);
    expect(subject.digest === digest, 'the pushed manifest resolves by digest');
    const signature = await attachBundle(subject.store, subject.descriptor, await signStatementWith(signer, [{ name: subject.repository, digest }], COSIGN_SIGN_PREDICATE_TYPE, {}));
    const attestation = await attachBundle(subject.store, subject.descriptor, await signStatementWith(signer, [{ name: subject.repository, digest }], SLSA_PROVENANCE_V1, statement.predicate));
    const evaluation = await attachBundle(subject.store, subject.descriptor, await signStatementWith(signer, [{ name: subject.repository, digest }], EVALUATION_PREDICATE_V1, { metrics }));
    const environment = readEnvironmentPackages(sourceDir);
    const [host, cudaVersion] = await Promise.all([hostFacts(), queryCudaVersion()]);
    const bom = await trainingEnvironmentSbom({
      model: { name: subject.repository, digest },
      packages: environment.packages,
      gpus: host.gpus,
      ...(cudaVersion === undefined ? {} : { cudaVersion }),
      runtimes: host.runtimes,
    });
    const sbom = await attachBundle(subject.store, subject.descriptor, await signStatementWith(signer, [{ name: subject.repository, digest }], CYCLONEDX_BOM_PREDICATE, bom));
    const referrers = await subject.store.listReferrers(digest);
    expect(
      [signature, attestation, evaluation, sbom].every((written) => referrers.some((r) => r.digest === written.digest)),
      'the signature, provenance, evaluation and SBOM are listed as referrers of the model',
    );
    log(`3. modelgate push ${show(modelDir)} ${brief(pushRef)} → ${digest}`);
    const width = Math.max(...built.files.map((f) => f.path.length));
    for (const layer of built.layers) log(`     layer ${brief(layer.digest)} ${(layer.annotations?.[FILEPATH_ANNOTATION] ?? '').padEnd(width)} ${layer.mediaType}`);
    log(`     modelgate sign           → signature bundle referrer ${brief(signature.digest)}`);
    log(`     modelgate attest attach  → SLSA provenance bundle referrer ${brief(attestation.digest)}`);
    log(`     modelgate attest attach  → evaluation (trainAccuracy ${metrics.trainAccuracy}) bundle referrer ${brief(evaluation.digest)}`);
    log(`     modelgate attest sbom    → CycloneDX SBOM (${environment.packages.length} packages from ${environment.lockfiles.map((l) => l.name).join(', ') || 'no lockfile'}) bundle referrer ${brief(sbom.digest)}`);
    log('   proved: the model is one content-addressed ModelPack artifact, and its signature, provenance, evaluation and SBOM are bound to that digest');

    // A tampered copy: one byte of the weights flipped, pushed again (it cannot carry the signature).
    const tamperedDir = join(out, 'model-tampered');
    await cp(modelDir, tamperedDir, { recursive: true });
    const tamperedWeights = Buffer.from(weights);
    flipByte(tamperedWeights, safetensorsDataOffset(tamperedWeights) + 1000);
    await writeFile(join(tamperedDir, 'model.safetensors'), tamperedWeights);
    const tampered = await pushModelDirectory(store, tamperedDir, { tag: `${TAG}-tampered`, annotations, name: 'demo-sentiment', version: '1.0.0' });
    const tamperedDigest = tampered.manifest.descriptor.digest;
    expect(tamperedDigest !== digest, 'a one-byte change gives another manifest digest');

    // The same weights, signed, with a provenance naming the unreviewed dataset instead (trusted builder and key).
    const unreviewedPredicate = structuredClone(statement.predicate) as { buildDefinition: { resolvedDependencies: Array<{ annotations?: Record<string, string> }> } };
    const dependencies = unreviewedPredicate.buildDefinition.resolvedDependencies;
    dependencies.splice(0, dependencies.length, ...dependencies.map((d) => (d.annotations?.[DEPENDENCY_KIND_ANNOTATION] === 'dataset' ? datasetDescriptor(unreviewed) : d)));
    const onUnreviewed = await pushModelDirectory(store, modelDir, { tag: `${TAG}-unreviewed-data`, annotations: { ...annotations, ...lineageAnnotations({ datasetDigest: unreviewed.digest }) }, name: 'demo-sentiment', version: '1.0.0' });
    const unreviewedDigest = onUnreviewed.manifest.descriptor.digest;
    const unreviewedSubject = [{ name: subject.repository, digest: unreviewedDigest }];
    for (const [predicateType, predicate] of [
      [COSIGN_SIGN_PREDICATE_TYPE, {}],
      [SLSA_PROVENANCE_V1, unreviewedPredicate],
      [EVALUATION_PREDICATE_V1, { metrics }],
      [CYCLONEDX_BOM_PREDICATE, bom],
    ] as const) {
      await attachBundle(subject.store, onUnreviewed.manifest.descriptor, await signStatementWith(signer, unreviewedSubject, predicateType, predicate));
    }

    // Policy data: trust the demo key, builder, source and dataset.
    const sources = provenance.source === null ? {} : { [provenance.source.repository]: {} };
    const exceptions =
      provenance.source === null
        ? {
            'demo-no-git-checkout': {
              digest,
              waive: ['SOURCE_NOT_ALLOWLISTED'],
              approvedBy: 'npm run demo',
              reason: 'the demo ran outside a git checkout, so its provenance names no source repository',
              expires: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            },
          }
        : {};
    const policyData = {
      modelgate_config: {
        signers: { threshold: 1, keys: { [keyDigest]: {} }, identities: {} },
        provenance: { required: true, builders: { [BUILDER_ID]: {} }, buildTypes: { [TRAINING_BUILD_TYPE]: {} } },
        sources: { repositories: sources },
        // Both datasets are allowlisted by digest; requireSignature also wants each signed by a trusted signer.
        datasets: { requireSignature: true, [dataset.uri]: { digests: { [dataset.digest]: {}, [unreviewed.digest]: {} } } },
        containers: { digests: {}, repositories: {} },
        revoked: { digests: {}, keys: {}, identities: {} },
        evaluation: { required: false, thresholds: {} },
        modelSignature: { required: false },
        attestations: { required: { [SLSA_PROVENANCE_V1]: {}, [CYCLONEDX_BOM_PREDICATE]: {}, [EVALUATION_PREDICATE_V1]: {} } },
        unverifiable: { allowed: {} },
        exceptions,
      },
    };
    const policyDataPath = join(out, 'policy-data.json');
    await writeFileAtomic(policyDataPath, `${JSON.stringify(policyData, null, 2)}\n`, { overwrite: true });
    took('push, sign, attach');

    // 4. The webhook, and an InferenceService naming the signed model by digest.
    const tls = selfSignedCertificate('modelgate-demo-webhook');
    await mkdir(join(out, 'webhook'), { recursive: true });
    const certPath = join(out, 'webhook', 'tls.crt');
    const tlsKeyPath = join(out, 'webhook', 'tls.key');
    await writeFile(certPath, tls.certPem);
    await writeFile(tlsKeyPath, tls.keyPem, { mode: 0o600 });
    const webhookArgs = ['--tls-cert', certPath, '--tls-key', tlsKeyPath, '--key', keyFiles.publicKeyPath, '--data', policyDataPath, ...target.webhookArgs];
    webhook = await WebhookProcess.start(webhookArgs, tls.certPem);
    const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: policyData });
    const storageUri = `modelgate+${pinned}`;
    const admitted = await webhook.review(inferenceServiceReview('demo-allowed', 'demo-sentiment', storageUri));
    log(`4. modelgate webhook on ${webhook.url} (self-signed certificate, policy bundle ${brief(engine.bundleDigest)} from npm run build:policies,`);
    log(`   data ${show(policyDataPath)}: trusts key ${brief(keyDigest)}, builder ${BUILDER_ID}, ${provenance.source === null ? 'no source (exception)' : `source ${provenance.source.repository}`}, datasets allowlisted and required signed)`);
    log(`     POST /validate: InferenceService ${NAMESPACE}/demo-sentiment, storageUri ${brief(storageUri)}`);
    expect(admitted.response.allowed, `the signed model is admitted (got: ${admitted.response.status?.message ?? 'denied'})`);
    expect(JSON.parse(admitted.response.auditAnnotations?.['digests'] ?? '{}')['spec.predictor.model.storageUri'] === digest, 'the webhook decided on the pushed digest');
    log(`     → allowed in ${admitted.ms.toFixed(0)} ms (audit annotation digests: ${brief(admitted.response.auditAnnotations?.['digests'] ?? '')})`);
    log('   proved: over HTTPS, the webhook verified the signature and the SLSA provenance against the trusted key, builder, source and dataset, and the policy allowed it');
    took('webhook start + allow');

    // 5. Denials: the tampered model, and a tag.
    log(`5. The same InferenceService with other storage URIs:`);
    const denials: Array<{ what: string; uri: string; codes: string[] }> = [
      { what: `the tampered copy (one byte of model.safetensors flipped, pushed as :${TAG}-tampered)`, uri: `modelgate+${target.base}@${tamperedDigest}`, codes: ['UNSIGNED', 'MISSING_PROVENANCE'] },
      { what: `the signed model by its tag, unpinned`, uri: `modelgate+${target.base}:${TAG}`, codes: ['TAG_NOT_PINNED'] },
      { what: `the same weights, signed, whose provenance names the unreviewed dataset (allowlisted, but signed by nobody)`, uri: `modelgate+${target.base}@${unreviewedDigest}`, codes: ['DATASET_UNSIGNED'] },
    ];
    let forbidden = '';
    for (const [i, denial] of denials.entries()) {
      const { response, ms } = await webhook.review(inferenceServiceReview(`demo-denied-${i}`, `demo-sentiment-${i}`, denial.uri));
      const reasons = reasonsOf(response);
      log(`     ${denial.what}: ${brief(denial.uri)}`);
      expect(!response.allowed && response.status?.code === 403, `${denial.what} is denied`);
      for (const code of denial.codes) expect(reasons.some((r) => r.code === code), `${denial.what} is denied with ${code} (got ${reasons.map((r) => r.code).join(', ')})`);
      log(`     → denied (403) in ${ms.toFixed(0)} ms:`);
      for (const reason of reasons) log(`         ${reason.code}: ${brief(reason.message)}`);
      if (i === 0) forbidden = response.status?.message ?? '';
    }
    log(`     what kubectl apply prints for the first: Error from server (Forbidden): admission webhook denied the request: ${brief(forbidden)}`);
    log('   proved: a signature does not carry over to changed bytes, a tag that could move is refused, and a model is only as trusted as its signed training data — each reason with a code and a fix');
    const webhookExit = await webhook.stop();
    webhook = undefined;
    expect(webhookExit === 0, `the webhook shuts down cleanly on SIGTERM (exit ${webhookExit})`);
    took('denials + webhook stop');

    // 6. init: verify again, pull, publish with a receipt.
    const credentials = await loadDockerConfig(defaultDockerConfigPath());
    const initDeps = {
      pipeline: {
        stores: storeProvider({ registry: { credentials, plainHttpRegistries: target.storeOptions.plainHttp ?? [] } }),
        trust: KEYS_ONLY_TRUST,
        signers: { keys: [publicKey], identities: [] },
        engine,
      },
      cache: new BlobCache(join(out, 'cache')),
      log: () => {},
    };
    log(`6. modelgate init (the KServe storage initializer) with the node cache ${show(join(out, 'cache'))}/:`);
    if (target.kind === 'layout') {
      // A copy of the layout whose weights blob has one byte flipped: manifest, signature and provenance intact.
      const tamperedLayout = join(out, 'layout-tampered');
      await cp(join(out, 'layout'), tamperedLayout, { recursive: true });
      const weightsLayer = built.layers.find((l) => l.mediaType === ModelPackMediaType.WEIGHT_RAW && l.annotations?.[FILEPATH_ANNOTATION] === 'model.safetensors');
      expect(weightsLayer !== undefined, 'the weights are a raw weight layer');
      const blobPath = new LayoutStore(tamperedLayout).blobPath(weightsLayer.digest);
      const blob = await readFile(blobPath);
      flipByte(blob, safetensorsDataOffset(blob) + 1000);
      await writeFile(blobPath, blob);
      const uri = `modelgate+oci-layout://${tamperedLayout}@${digest}`;
      const dest = join(out, 'mnt', 'tampered');
      const refused = await initModel(uri, dest, initDeps);
      expect(refused.kind === 'refused' && refused.reasons.some((r) => r.code === 'DIGEST_MISMATCH'), `init refuses a blob that does not hash to its digest (got ${JSON.stringify(refused)})`);
      expect(!existsSync(dest), 'nothing was published for the tampered blob');
      log(`     ${brief(uri)} (a copy of the layout, one byte of the weights blob flipped; manifest and signatures intact) → refused, exit ${refused.exitCode}:`);
      for (const reason of refused.reasons) log(`         ${reason.code}: ${brief(reason.message)}`);
      log(`       ${show(dest)} was not created`);
    } else {
      const uri = `modelgate+${target.base}@${tamperedDigest}`;
      const dest = join(out, 'mnt', 'tampered');
      const refused = await initModel(uri, dest, initDeps);
      expect(refused.kind === 'refused' && refused.reasons.some((r) => r.code === 'UNSIGNED'), `init refuses the unsigned tampered model (got ${JSON.stringify(refused)})`);
      expect(!existsSync(dest), 'nothing was published for the tampered model');
      log(`     ${brief(uri)} (the tampered copy) → refused, exit ${refused.exitCode}: ${refused.reasons.map((r) => r.code).join(', ')}; ${show(dest)} was not created`);
    }
    const dest = join(out, 'mnt', 'models');
    const published = await initModel(storageUri, dest, initDeps);
    expect(published.kind === 'published' && published.digest === digest, `init publishes the signed model (got ${JSON.stringify(published)})`);
    for (const file of built.files) {
      expect(Buffer.compare(await readFile(join(dest, file.path)), await readFile(file.absolutePath)) === 0, `${file.path} is published byte-identical`);
    }
    const receiptPath = join(dest, RECEIPT_DIR, RECEIPT_FILE);
    const receipt = JSON.parse(await readFile(receiptPath, 'utf8')) as {
      digest: string;
      decision: string;
      policy: { bundleDigest: string; dataDigest: string };
      evidence: { signers: string[]; predicateTypes: string[] } | null;
      layers: unknown[];
      bytesDownloaded: number;
    };
    expect(receipt.digest === digest && receipt.decision === 'allow', 'the receipt records the allowed digest');
    log(`     ${brief(storageUri)} → published ${built.files.length} files into ${show(dest)}/`);
    log(`     receipt ${show(receiptPath)}: decision ${receipt.decision}, digest ${brief(receipt.digest)}, policy ${brief(receipt.policy.bundleDigest)} (data ${brief(receipt.policy.dataDigest)}),`);
    log(`       signers ${receipt.evidence?.signers.map(brief).join(', ') ?? 'none'}, attestations ${receipt.evidence?.predicateTypes.join(', ') ?? 'none'}, ${receipt.layers.length} layers, ${receipt.bytesDownloaded} bytes downloaded`);
    log('   proved: the node re-verifies before it pulls, checks every byte it pulls, and publishes all files or none, with a receipt of what it checked');
    took('init');

    const seconds = (performance.now() - started) / 1000;
    log('');
    log(`Done in ${seconds.toFixed(1)} s (${stepTimes.join(', ')}). Try it yourself:`);
    // As a user types it in the checkout: npx runs the project's bin on the pinned Node 24, whatever
    // the system Node is (running the built CLI file with a plain `node` would need that `node` to be 24).
    const cli = 'npx modelgate';
    log(`  ${cli} verify ${brief(pinned).replace(/sha256:[0-9a-f]{12}…/, digest)} --key ${show(keyFiles.publicKeyPath)} --data ${show(policyDataPath)}`);
    log(`  ${cli} inspect ${brief(pinned).replace(/sha256:[0-9a-f]{12}…/, digest)}`);
    return { digest, storageUri, tamperedDigest, receiptPath, seconds };
  } finally {
    if (webhook !== undefined) await webhook.stop();
    if (previousPassphrase === undefined) delete process.env[PASSPHRASE_ENV];
    else process.env[PASSPHRASE_ENV] = previousPassphrase;
  }
}

