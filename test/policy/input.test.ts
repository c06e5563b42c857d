// buildPolicyInput: verified evidence → the versioned JSON the policy sees (validated against the
// input JSON Schema), SLSA v1 and (real, slsa-github-generator) v0.2 provenance normalisation, and
// refusal of evidence bound to another digest.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parseDigest } from '../../src/oci/digest.ts';
import { SLSA_PROVENANCE_V02 } from '../../src/evidence/vocabulary.ts';
import { buildPolicyInput, dependencyKind, locationScheme, normalizeProvenance, policyTime } from '../../src/policy/input.ts';
import { validatePolicyData, validatePolicyInput } from '../../src/policy/schema.ts';
import { goodData, goodEvidence, MODEL_DIGEST, REPO_ROOT, TRAINER_HEX, WORKFLOW } from './fixtures.ts';

const VECTORS = join(REPO_ROOT, '..', 'shared', 'vectors');

t.test('a full evidence set becomes a schema-valid input', async (t) => {
  const input = buildPolicyInput(goodEvidence());
  t.same(validatePolicyInput(JSON.parse(JSON.stringify(input))), input);
  t.equal(input.version, 'modelgate.dev/policy-input/v1');
  t.same(input.artifact.reference, { registry: 'registry.acme.dev', repository: 'models/llama', tag: null, digest: MODEL_DIGEST });
  t.equal(input.artifact.scheme, 'oci');
  t.equal(input.artifact.verifiable, true);
  t.equal(input.artifact.digest, MODEL_DIGEST);
  t.same(input.artifact.usage, { namespace: 'team-a', resourceKind: 'InferenceService', resourceName: 'llama', fieldPath: 'spec.predictor.model.storageUri' });
  t.same(input.signatures[0], {
    method: 'keyless',
    keyId: null,
    san: WORKFLOW,
    issuer: 'https://token.actions.githubusercontent.com',
    oidc: { sourceRepositoryUri: 'https://github.com/acme/train', sourceRepositoryRef: 'refs/heads/main' },
    tlog: { logIndex: 1234, integratedTime: '2026-08-01T14:05:00Z', logId: 'c0d23d6ad406973f' },
    timestamps: [],
  });
  const provenance = input.attestations[0]!.provenance!;
  t.same(provenance.source, { repository: 'https://github.com/acme/train', ref: 'refs/heads/main', commit: '0123456789abcdef0123456789abcdef01234567' });
  t.same(
    provenance.resolvedDependencies.map((d) => [d.kind, d.repository]),
    [['source', null], ['dataset', null], ['container', 'ghcr.io/acme/trainer']],
  );
  t.same(provenance.resolvedDependencies[2]!.digest, { sha256: TRAINER_HEX });
  t.same(input.context, { time: '2026-09-01T12:00:00Z', mode: 'admission', user: { username: 'alice', uid: '1', groups: ['team-a'] }, operation: 'CREATE' });
  t.same(buildPolicyInput(goodEvidence()), input, 'pure: same evidence, same input');
  validatePolicyData(goodData(3));
});

t.test('evidence bound to another digest is refused', async (t) => {
  const evidence = goodEvidence();
  const other = parseDigest(`sha256:${'c'.repeat(64)}`);
  t.throws(() => buildPolicyInput({ ...evidence, signatures: [{ ...evidence.signatures![0]!, subjectDigest: other }] }), {
    code: 'INPUT_INVALID',
    message: /covers sha256:c+, not the verified digest/,
  });
  t.throws(() => buildPolicyInput({ ...evidence, artifact: { uri: evidence.artifact.uri } }), { code: 'INPUT_INVALID', message: /no verified digest/ });
  t.throws(() => buildPolicyInput({ ...evidence, attestations: [{ ...evidence.attestations![0]!, predicate: { runDetails: {} } }] }), {
    code: 'INPUT_INVALID',
    message: /buildDefinition missing/,
  });
});

t.test('dataset checks become input.datasets, each signature bound to its dataset digest', async (t) => {
  const evidence = goodEvidence();
  const datasetDigest = `sha256:${'d'.repeat(64)}`;
  const signer = evidence.signatures![0]!.signer;
  const dataset = { uri: 'oci://registry.acme.dev/datasets/reviews', digest: datasetDigest, status: 'verified' as const, artifactType: 'application/vnd.modelgate.dataset.manifest.v1+json', signatures: [{ signer, subjectDigest: parseDigest(datasetDigest) }] };
  const input = buildPolicyInput({ ...evidence, datasets: [dataset, { uri: 's3://acme/raw', digest: datasetDigest, status: 'unreachable', reason: 'not an OCI location' }] });
  validatePolicyInput(input);
  t.same(input.datasets?.map((d) => [d.uri, d.status, d.reason, d.artifactType, d.signers.length, d.unverifiedSignatures]), [
    ['oci://registry.acme.dev/datasets/reviews', 'verified', null, 'application/vnd.modelgate.dataset.manifest.v1+json', 1, 0],
    ['s3://acme/raw', 'unreachable', 'not an OCI location', null, 0, 0],
  ]);
  t.notOk('datasets' in buildPolicyInput(evidence), 'absent when none were checked');
  t.throws(() => buildPolicyInput({ ...evidence, datasets: [{ ...dataset, signatures: [{ signer, subjectDigest: MODEL_DIGEST }] }] }), {
    code: 'INPUT_INVALID',
    message: /covers sha256:[0-9a-f]+, not the digest sha256:d+ of dataset/,
  });
});

t.test('real slsa-github-generator v0.2 provenance normalises', async (t) => {
  const line = (await readFile(join(VECTORS, 'slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl'), 'utf8')).trim().split('\n')[0]!;
  const bundle = JSON.parse(line) as { dsseEnvelope: { payload: string } };
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as { predicateType: string; predicate: unknown };
  t.equal(statement.predicateType, SLSA_PROVENANCE_V02);
  const p = normalizeProvenance(statement.predicateType, statement.predicate);
  t.equal(p.slsaVersion, 'v0.2');
  t.equal(p.builderId, 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0');
  t.equal(p.buildType, 'https://github.com/slsa-framework/slsa-github-generator/generic@v1');
  t.same(p.source, { repository: 'https://github.com/slsa-framework/example-package', ref: 'refs/heads/main', commit: '4d329c75e7ec1725f7c9ce917a8799d408d06be3' });
  t.match(p.invocationId, /^\d+-\d+$/, 'buildInvocationID (Go spelling) is read');
  t.ok(p.resolvedDependencies.length >= 1);
  t.equal(p.resolvedDependencies[0]!.kind, 'source');
  // It fits the input schema as the provenance of an attestation.
  const evidence = goodEvidence();
  const input = buildPolicyInput({ ...evidence, attestations: [{ ...evidence.attestations![0]!, predicateType: statement.predicateType, predicate: statement.predicate }] });
  validatePolicyInput(JSON.parse(JSON.stringify(input)));
});

t.test('locations: only OCI is verifiable; everything else arrives as unverifiable', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['oci://r.example/m@sha256:' + 'a'.repeat(64), 'oci', true],
    ['oci+native://r.example/m:v1', 'oci', true],
    ['ghcr.io/acme/model:v1', 'oci', true],
    ['s3://bucket/model', 's3', false],
    ['gs://bucket/model', 'gs', false],
    ['hf://meta-llama/Llama-3', 'hf', false],
    ['pvc://claim/models', 'pvc', false],
    ['https://example.com/model.tar', 'https', false],
    ['webhdfs://x/y', 'other', false],
  ];
  for (const [uri, scheme, verifiable] of cases) {
    t.equal(locationScheme(uri), scheme, uri);
    const input = buildPolicyInput({ artifact: { uri }, context: { mode: 'admission', time: new Date('2026-01-02T03:04:05.678Z') } });
    t.equal(input.artifact.verifiable, verifiable, uri);
    t.equal(input.artifact.reference === null, !verifiable, `${uri} reference`);
    validatePolicyInput(JSON.parse(JSON.stringify(input)));
  }
  t.throws(() => buildPolicyInput({ artifact: { uri: 'oci://UPPER/Case' }, context: { mode: 'cli' } }), { code: 'INPUT_INVALID' });
  t.equal(policyTime(new Date('2026-01-02T03:04:05.678Z')), '2026-01-02T03:04:05Z');
});

t.test('dependency kinds', async (t) => {
  t.equal(dependencyKind('s3://x/y', { 'modelgate.dev/kind': 'dataset' }), 'dataset');
  t.equal(dependencyKind('oci://ghcr.io/acme/base-model@sha256:x', { kind: 'model' }), 'model');
  t.equal(dependencyKind('git+https://github.com/a/b@refs/heads/main', undefined), 'source');
  t.equal(dependencyKind('pkg:docker/python@3.12', undefined), 'container');
  t.equal(dependencyKind('hf://datasets/acme/reviews', undefined), 'dataset');
  t.equal(dependencyKind('https://example.com/x', { kind: 'bogus' }), 'other');
});

t.test('the schema refuses inputs that are not of the documented shape', async (t) => {
  const input = JSON.parse(JSON.stringify(buildPolicyInput(goodEvidence())));
  t.throws(() => validatePolicyInput({ ...input, extra: 1 }), { code: 'INPUT_INVALID', message: /extra/ });
  const { context: _dropped, ...noContext } = input;
  t.throws(() => validatePolicyInput(noContext), { code: 'INPUT_INVALID', message: /context/ });
  const keyless = JSON.parse(JSON.stringify(input));
  keyless.signatures[0].issuer = null;
  t.throws(() => validatePolicyInput(keyless), { code: 'INPUT_INVALID' });
});
