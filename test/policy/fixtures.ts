/**
 * Shared fixtures for the policy tests: a correct, fully verified evidence set for one model, the
 * matching allowlists, and a one-off build of the default policy bundle into a test directory.
 */
import { join } from 'node:path';
import { parseDigest } from '../../src/oci/digest.ts';
import { buildBundle, type BuildResult } from '../../src/policy/bundle.ts';
import type { SignerIdentity } from '../../src/evidence/signers.ts';
import { EVALUATION_PREDICATE_V1, SLSA_PROVENANCE_V1 } from '../../src/evidence/vocabulary.ts';
import type { PolicyInputEvidence } from '../../src/policy/input.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const POLICY_DIR = join(REPO_ROOT, 'policies');

export const MODEL_DIGEST = parseDigest('sha256:9f2c6b1e0d4a8c7b5e3f1a2d4c6b8e0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b');
export const DATASET_HEX = '5d41402abc4b2a76b9719d911017c592aa5d41402abc4b2a76b9719d911017c5';
export const TRAINER_HEX = '1111111111111111111111111111111111111111111111111111111111111111';
export const GHA = 'https://token.actions.githubusercontent.com';
export const WORKFLOW = 'https://github.com/acme/train/.github/workflows/train.yml@refs/heads/main';
export const RELEASE_KEY_ID = 'sha256:0b8c2d6f2a1f4e0b7c3d9e8f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';

export const CI_SIGNER: SignerIdentity = {
  method: 'keyless',
  san: WORKFLOW,
  issuer: GHA,
  oidcExtensions: { sourceRepositoryUri: 'https://github.com/acme/train', sourceRepositoryRef: 'refs/heads/main' },
};
export const RELEASE_SIGNER: SignerIdentity = { method: 'key', keyId: RELEASE_KEY_ID };

/** A SLSA v1 predicate as a training pipeline would write it (our model-training buildType). */
export function provenancePredicate(): Record<string, unknown> {
  return {
    buildDefinition: {
      buildType: 'https://modelgate.dev/buildtypes/model-training/v1',
      externalParameters: { epochs: 3, learningRate: 0.0002 },
      internalParameters: { accelerator: 'H200' },
      resolvedDependencies: [
        { uri: 'git+https://github.com/acme/train@refs/heads/main', digest: { gitCommit: '0123456789abcdef0123456789abcdef01234567' } },
        { uri: 's3://acme-data/imagenet', name: 'train-split', digest: { sha256: DATASET_HEX }, annotations: { 'modelgate.dev/kind': 'dataset' } },
        { uri: `oci://ghcr.io/acme/trainer:2.1@sha256:${TRAINER_HEX}`, name: 'trainer', digest: { sha256: TRAINER_HEX } },
      ],
    },
    runDetails: {
      builder: { id: WORKFLOW },
      metadata: { invocationId: 'https://github.com/acme/train/actions/runs/1/attempts/1', startedOn: '2026-08-01T10:00:00Z' },
    },
  };
}

export function goodEvidence(): PolicyInputEvidence {
  const tlog = { logIndex: 1234, integratedTime: new Date('2026-08-01T14:05:00Z'), logId: 'c0d23d6ad406973f' };
  return {
    artifact: {
      uri: `oci://registry.acme.dev/models/llama@${MODEL_DIGEST}`,
      verifiedDigest: MODEL_DIGEST,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.cncf.model.manifest.v1+json',
      annotations: { 'org.opencontainers.image.title': 'llama' },
    },
    usage: { namespace: 'team-a', resourceKind: 'InferenceService', resourceName: 'llama', fieldPath: 'spec.predictor.model.storageUri' },
    signatures: [{ signer: CI_SIGNER, subjectDigest: MODEL_DIGEST, tlog }],
    attestations: [{ signer: CI_SIGNER, subjectDigest: MODEL_DIGEST, tlog, predicateType: SLSA_PROVENANCE_V1, predicate: provenancePredicate() }],
    modelSignatures: [],
    context: { mode: 'admission', time: new Date('2026-09-01T12:00:00Z'), user: { username: 'alice', uid: '1', groups: ['team-a'] }, operation: 'CREATE' },
  };
}

export function evaluationAttestation(metrics: Record<string, number>, signer: SignerIdentity = CI_SIGNER): NonNullable<PolicyInputEvidence['attestations']>[number] {
  return { signer, subjectDigest: MODEL_DIGEST, predicateType: EVALUATION_PREDICATE_V1, predicate: { metrics } };
}

/** Allowlists matching goodEvidence(), plus `entries` filler entries in each allowlist (benchmarks). */
export function goodData(entries = 0): { modelgate_config: Record<string, any> } {
  const filler = (prefix: string): Record<string, object> =>
    Object.fromEntries(Array.from({ length: entries }, (_, i) => [`${prefix}${i.toString().padStart(6, '0')}`, { name: `entry ${i}` }]));
  return {
    modelgate_config: {
      signers: { threshold: 1, keys: { ...filler('sha256:filler-key-'), [RELEASE_KEY_ID]: { name: 'release' } }, identities: { [GHA]: { ...filler('https://github.com/filler/'), [WORKFLOW]: { name: 'ci' } } } },
      provenance: { required: true, builders: { ...filler('https://builders.example/'), [WORKFLOW]: {} }, buildTypes: {} },
      sources: { repositories: { ...filler('https://github.com/filler-'), 'https://github.com/acme/train': {} } },
      datasets: { ...Object.fromEntries(Object.keys(filler('s3://filler/')).map((k) => [k, { digests: {} }])), 's3://acme-data/imagenet': { digests: { [`sha256:${DATASET_HEX}`]: {} } } },
      containers: { digests: filler('sha256:filler-'), repositories: { ...filler('registry.example/filler-'), 'ghcr.io/acme': {} } },
      revoked: { digests: filler('sha256:revoked-'), keys: filler('sha256:revoked-key-'), identities: {} },
      evaluation: { required: false, thresholds: {} },
      modelSignature: { required: false },
      unverifiable: { allowed: {} },
      exceptions: {},
    },
  };
}

let built: Promise<BuildResult> | undefined;
/** Build the default policy bundle once per test process, into `dir`. */
export function buildDefaultBundle(dir: string): Promise<BuildResult> {
  built ??= buildBundle({ policyDir: POLICY_DIR, outDir: join(dir, 'bundle') });
  return built;
}
