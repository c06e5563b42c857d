/**
 * Test and bench helper: small ModelPack models in a registry, key-signed and attested the way the
 * emitter does it, and the policy data that trusts exactly that key, builder, source and dataset.
 *
 * Owns: `pushSignedModel` (a two-file model directory pushed with `pushModelDirectory`, then a cosign
 * "sign" statement and a SLSA v1 provenance statement signed with `signingKey` and attached as
 * Sigstore bundles) and `keyTrustPolicyData` (the matching `modelgate_config`, with optional revoked
 * digests and policy exceptions).
 */
import type { KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Descriptor } from '../../src/oci/manifest.ts';
import type { ArtifactStore } from '../../src/oci/store.ts';
import { pushModelDirectory } from '../../src/modelpack/pack.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { keyId } from '../../src/sigstore/keys.ts';

export const SLSA_V1 = 'https://slsa.dev/provenance/v1';
export const TRAINING_BUILDER = 'https://ci.acme.dev/trainer@v1';
export const TRAINING_SOURCE = 'https://github.com/acme/train';
export const TRAINING_DATASET = 'https://data.acme.dev/reviews-v3.tar';
export const TRAINING_DATASET_HEX = 'd'.repeat(64);

/** A dataset a provenance names: its URI and `algorithm:hex` digest. */
export interface NamedDataset {
  readonly uri: string;
  readonly digest: string;
}

const TRAINING_DATASETS: readonly NamedDataset[] = [{ uri: TRAINING_DATASET, digest: `sha256:${TRAINING_DATASET_HEX}` }];

/** SLSA v1 provenance naming the trusted builder, source and dataset (or `datasets`). */
export function trainingProvenance(datasets: readonly NamedDataset[] = TRAINING_DATASETS): unknown {
  return {
    buildDefinition: {
      buildType: 'https://modelgate.dev/buildtypes/train/v1',
      externalParameters: {},
      resolvedDependencies: [
        { uri: `git+${TRAINING_SOURCE}@refs/heads/main`, digest: { gitCommit: '0123456789abcdef0123456789abcdef01234567' } },
        ...datasets.map((d) => ({ uri: d.uri, digest: { [d.digest.split(':')[0]!]: d.digest.split(':')[1]! }, annotations: { 'modelgate.dev/kind': 'dataset' } })),
      ],
    },
    runDetails: { builder: { id: TRAINING_BUILDER }, metadata: { invocationId: 'run-1' } },
  };
}

export interface PolicyDataExtras {
  readonly revoked?: readonly string[];
  /** `modelgate_config.exceptions` entries by id. */
  readonly exceptions?: Readonly<Record<string, unknown>>;
  /** `modelgate_config.attestations.required`: predicate types a trusted signer must have attested. */
  readonly requiredAttestations?: readonly string[];
  /** More allowlisted datasets (besides the training dataset), and `datasets.requireSignature`. */
  readonly datasets?: readonly NamedDataset[];
  readonly requireDatasetSignature?: boolean;
}

/** `datasets` allowlist entries: uri → { digests } (several digests of one uri merged). */
function allowlist(datasets: readonly NamedDataset[]): Record<string, { digests: Record<string, object> }> {
  const entries: Record<string, { digests: Record<string, object> }> = {};
  for (const d of datasets) (entries[d.uri] ??= { digests: {} }).digests[d.digest] = {};
  return entries;
}

/** Policy data trusting `trusted` (one signature needed), the training builder, source and dataset. */
export function keyTrustPolicyData(trusted: KeyObject, extras: PolicyDataExtras = {}): unknown {
  return {
    modelgate_config: {
      signers: { threshold: 1, keys: { [`sha256:${keyId(trusted)}`]: {} }, identities: {} },
      provenance: { required: true, builders: { [TRAINING_BUILDER]: {} }, buildTypes: {} },
      sources: { repositories: { [TRAINING_SOURCE]: {} } },
      datasets: {
        ...(extras.requireDatasetSignature === undefined ? {} : { requireSignature: extras.requireDatasetSignature }),
        ...allowlist([...TRAINING_DATASETS, ...(extras.datasets ?? [])]),
      },
      containers: { digests: {}, repositories: {} },
      revoked: { digests: Object.fromEntries((extras.revoked ?? []).map((d) => [d, {}])), keys: {}, identities: {} },
      evaluation: { required: false, thresholds: {} },
      modelSignature: { required: false },
      unverifiable: { allowed: {} },
      exceptions: extras.exceptions ?? {},
      attestations: { required: Object.fromEntries((extras.requiredAttestations ?? []).map((type) => [type, {}])) },
    },
  };
}

/** Push a tiny model named `name` (files written under `workDir`), signed and attested unless `signed: false`. */
export async function pushSignedModel(
  store: ArtifactStore,
  workDir: string,
  name: string,
  signingKey: KeyObject,
  opts: { readonly tag?: string; readonly signed?: boolean; /** the datasets its provenance names (default the training dataset) */ readonly datasets?: readonly NamedDataset[] } = {},
): Promise<Descriptor> {
  const modelDir = join(workDir, 'models', name);
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ name }));
  writeFileSync(join(modelDir, 'model.safetensors'), Buffer.alloc(1024, name));
  const built = await pushModelDirectory(store, modelDir, { name, ...(opts.tag === undefined ? {} : { tag: opts.tag }) });
  const subject = built.manifest.descriptor;
  if (opts.signed !== false) {
    await attachBundle(store, subject, signStatementBundle([{ digest: subject.digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, signingKey));
    await attachBundle(store, subject, signStatementBundle([{ name: 'model', digest: subject.digest }], SLSA_V1, trainingProvenance(opts.datasets), signingKey));
  }
  return subject;
}
