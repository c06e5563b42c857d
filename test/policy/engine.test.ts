// The default policy evaluated through the WASM engine: allow for a correct input, each deny code for
// a broken one (inputs built from evidence and validated against the input JSON Schema), hot reload,
// self-test and the bundle digest on every decision.
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parseDigest } from '../../src/oci/digest.ts';
import { PolicyEngine, type Decision } from '../../src/policy/engine.ts';
import { buildPolicyInput, type PolicyInputEvidence } from '../../src/policy/input.ts';
import { validatePolicyInput } from '../../src/policy/schema.ts';
import {
  buildDefaultBundle,
  CI_SIGNER,
  DATASET_HEX,
  evaluationAttestation,
  goodData,
  goodEvidence,
  MODEL_DIGEST,
  provenancePredicate,
  RELEASE_KEY_ID,
  RELEASE_SIGNER,
  TRAINER_HEX,
} from './fixtures.ts';

const dir = t.testdir();
const { bundle, outDir } = await buildDefaultBundle(dir);
const engine = await PolicyEngine.fromBundle(bundle, { data: goodData() });

function decide(evidence: PolicyInputEvidence, e: PolicyEngine = engine): Decision {
  const input = validatePolicyInput(JSON.parse(JSON.stringify(buildPolicyInput(evidence))));
  return e.evaluate(input);
}
const codes = (d: Decision): string[] => d.reasons.map((r) => r.code).sort();

function withProvenance(mutate: (p: any) => void): PolicyInputEvidence {
  const evidence = goodEvidence();
  const predicate = provenancePredicate();
  mutate(predicate);
  return { ...evidence, attestations: [{ ...evidence.attestations![0]!, predicate }] };
}

t.test('a correct input is allowed and the decision names the bundle', async (t) => {
  const d = decide(goodEvidence());
  t.equal(d.allow, true);
  t.same(d.reasons, []);
  t.same(d.warnings, []);
  t.equal(d.bundleDigest, bundle.digest);
  t.equal(engine.bundleDigest, bundle.digest);
  t.match(d.dataDigest, /^sha256:[a-f0-9]{64}$/);
  t.equal(d.policy, 'modelgate.dev/default-policy/v1');
});

const DIGEST_B = parseDigest(`sha256:${'b'.repeat(64)}`);
const denyCases: Array<[string, string, () => { evidence: PolicyInputEvidence; data?: object }]> = [
  ['UNSIGNED', 'no signature', () => ({ evidence: { ...goodEvidence(), signatures: [] } })],
  [
    'UNTRUSTED_SIGNATURE',
    'signed by an unknown key',
    () => ({ evidence: { ...goodEvidence(), signatures: [{ signer: { method: 'key', keyId: 'sha256:stranger' }, subjectDigest: MODEL_DIGEST }] } }),
  ],
  [
    'TAG_NOT_PINNED',
    'referenced by tag',
    () => {
      const e = goodEvidence();
      return { evidence: { ...e, artifact: { ...e.artifact, uri: 'oci://registry.acme.dev/models/llama:v1' } } };
    },
  ],
  ['UNTRUSTED_BUILDER', 'built elsewhere', () => ({ evidence: withProvenance((p) => (p.runDetails.builder.id = 'https://evil.example/builder')) })],
  ['DATASET_NOT_ALLOWLISTED', 'unknown dataset', () => ({ evidence: withProvenance((p) => (p.buildDefinition.resolvedDependencies[1].uri = 's3://scraped/web')) })],
  ['DATASET_DIGEST_MISMATCH', 'other dataset version', () => ({ evidence: withProvenance((p) => (p.buildDefinition.resolvedDependencies[1].digest = { sha256: TRAINER_HEX })) })],
  ['DATASET_NOT_PINNED', 'dataset without digest', () => ({ evidence: withProvenance((p) => delete p.buildDefinition.resolvedDependencies[1].digest) })],
  [
    'CONTAINER_NOT_ALLOWLISTED',
    'trainer from another registry',
    () => ({ evidence: withProvenance((p) => (p.buildDefinition.resolvedDependencies[2].uri = `oci://docker.io/evil/trainer@sha256:${TRAINER_HEX}`)) }),
  ],
  [
    'SOURCE_NOT_ALLOWLISTED',
    'source fork',
    () => ({ evidence: withProvenance((p) => (p.buildDefinition.resolvedDependencies[0].uri = 'git+https://github.com/fork/train@refs/heads/main')) }),
  ],
  ['REVOKED_DIGEST', 'artifact revoked', () => {
    const data = goodData();
    data.modelgate_config.revoked.digests[MODEL_DIGEST] = { reason: 'poisoned weights' };
    return { evidence: goodEvidence(), data };
  }],
  ['REVOKED_DIGEST', 'dataset revoked', () => {
    const data = goodData();
    data.modelgate_config.revoked.digests[`sha256:${DATASET_HEX}`] = { reason: 'PII' };
    return { evidence: goodEvidence(), data };
  }],
  ['REVOKED_KEY', 'signing key revoked', () => {
    const data = goodData();
    data.modelgate_config.revoked.keys[RELEASE_KEY_ID] = { reason: 'leaked' };
    const e = goodEvidence();
    return { evidence: { ...e, signatures: [...e.signatures!, { signer: RELEASE_SIGNER, subjectDigest: MODEL_DIGEST }] }, data };
  }],
  ['MISSING_PROVENANCE', 'no provenance', () => ({ evidence: { ...goodEvidence(), attestations: [] } })],
  [
    'PROVENANCE_SIGNER_UNTRUSTED',
    'provenance signed by a stranger',
    () => {
      const e = goodEvidence();
      return { evidence: { ...e, attestations: [{ ...e.attestations![0]!, signer: { ...CI_SIGNER, issuer: 'https://accounts.google.com' } }] } };
    },
  ],
  ['INSUFFICIENT_SIGNATURES', '1 of 2', () => {
    const data = goodData();
    data.modelgate_config.signers.threshold = 2;
    return { evidence: goodEvidence(), data };
  }],
  ['UNVERIFIABLE_LOCATION', 's3 model', () => ({
    evidence: { artifact: { uri: 's3://acme-models/llama' }, context: { mode: 'admission', time: new Date('2026-09-01T12:00:00Z') } },
  })],
  ['EVALUATION_THRESHOLD', 'accuracy too low', () => {
    const data = goodData();
    data.modelgate_config.evaluation = { required: true, thresholds: { accuracy: { min: 0.9 } } };
    const e = goodEvidence();
    return { evidence: { ...e, attestations: [...e.attestations!, evaluationAttestation({ accuracy: 0.42 })] }, data };
  }],
  ['EVALUATION_MISSING', 'evaluation required', () => {
    const data = goodData();
    data.modelgate_config.evaluation = { required: true, thresholds: {} };
    return { evidence: goodEvidence(), data };
  }],
  ['MODEL_SIGNATURE_MISSING', 'OMS required', () => {
    const data = goodData();
    data.modelgate_config.modelSignature = { required: true };
    return { evidence: goodEvidence(), data };
  }],
];

for (const [code, name, make] of denyCases) {
  t.test(`${code}: ${name}`, async (t) => {
    const { evidence, data } = make();
    const e = data ? await PolicyEngine.fromBundle(bundle, { data }) : engine;
    const d = decide(evidence, e);
    t.equal(d.allow, false);
    t.same(codes(d), [code], 'exactly this deny code');
    const reason = d.reasons[0]!;
    t.ok(reason.message.startsWith(`${evidence.artifact.uri}: `), `message names the artifact: ${reason.message}`);
  });
}

t.test('the deny codes asked for by the issue are all distinct', async (t) => {
  const required = ['UNSIGNED', 'UNTRUSTED_SIGNATURE', 'TAG_NOT_PINNED', 'UNTRUSTED_BUILDER', 'DATASET_NOT_ALLOWLISTED', 'REVOKED_DIGEST', 'MISSING_PROVENANCE'];
  const covered = new Set(denyCases.map(([code]) => code));
  for (const code of required) t.ok(covered.has(code), code);
});

t.test('an allowlisted unverifiable location is admitted with a warning', async (t) => {
  const data = goodData();
  data.modelgate_config.unverifiable.allowed['s3://acme-models'] = { approvedBy: 'security' };
  const e = await PolicyEngine.fromBundle(bundle, { data });
  const d = decide({ artifact: { uri: 's3://acme-models/llama' }, context: { mode: 'init' } }, e);
  t.equal(d.allow, true);
  t.same(d.warnings.map((w) => w.code), ['UNVERIFIABLE_ALLOWED']);
});

t.test('an auditable exception waives a deny and is reported; an expired one is not', async (t) => {
  const tagged = goodEvidence();
  const evidence = { ...tagged, artifact: { ...tagged.artifact, uri: 'oci://registry.acme.dev/models/llama:hotfix' } };
  const data = goodData();
  data.modelgate_config.exceptions['EXC-7'] = { digest: MODEL_DIGEST, waive: ['TAG_NOT_PINNED'], approvedBy: 'bob@acme.dev', reason: 'INC-42', expires: '2026-10-01T00:00:00Z' };
  const d = decide(evidence, await PolicyEngine.fromBundle(bundle, { data }));
  t.equal(d.allow, true);
  t.same(d.exceptions, [{ id: 'EXC-7', approvedBy: 'bob@acme.dev', reason: 'INC-42', expires: '2026-10-01T00:00:00Z', waived: ['TAG_NOT_PINNED'] }]);
  t.same(d.warnings.map((w) => w.code), ['EXCEPTION_APPLIED']);
  const later = decide({ ...evidence, context: { ...evidence.context, time: new Date('2026-10-02T00:00:00Z') } }, await PolicyEngine.fromBundle(bundle, { data }));
  t.same(codes(later), ['TAG_NOT_PINNED']);
  t.same(later.warnings.map((w) => w.code), ['EXCEPTION_EXPIRED']);
});

t.test('evaluation thresholds met and key signatures are accepted', async (t) => {
  const data = goodData();
  data.modelgate_config.evaluation = { required: true, thresholds: { accuracy: { min: 0.9 }, toxicity: { max: 0.1 } } };
  data.modelgate_config.signers.threshold = 2;
  const e = goodEvidence();
  const evidence = {
    ...e,
    signatures: [...e.signatures!, { signer: RELEASE_SIGNER, subjectDigest: MODEL_DIGEST }],
    attestations: [...e.attestations!, evaluationAttestation({ accuracy: 0.93, toxicity: 0.01 })],
  };
  t.equal(decide(evidence, await PolicyEngine.fromBundle(bundle, { data })).allow, true);
});

t.test('data without modelgate_config is refused by the data schema, and denied by the policy when not validated', async (t) => {
  await t.rejects(PolicyEngine.fromBundle(bundle, { data: {} }), { code: 'DATA_INVALID' });
  const lax = await PolicyEngine.fromBundle(bundle, { data: {}, validateData: false });
  t.same(codes(decide(goodEvidence(), lax)), ['CONFIG_MISSING', 'PROVENANCE_SIGNER_UNTRUSTED', 'UNTRUSTED_SIGNATURE']);
  const shipped = await PolicyEngine.fromBundle(bundle); // the bundle's own data.json trusts nobody
  t.equal(decide(goodEvidence(), shipped).allow, false);
});

t.test('validateInput refuses a malformed input; a garbage input is denied, never allowed', async (t) => {
  const strict = await PolicyEngine.fromBundle(bundle, { data: goodData(), validateInput: true });
  t.throws(() => strict.evaluate({ version: 'modelgate.dev/policy-input/v1' }), { code: 'INPUT_INVALID' });
  const d = engine.evaluate({ hello: 'world' });
  t.equal(d.allow, false);
  t.ok(codes(d).includes('INPUT_VERSION'));
});

t.test('self-test: a policy that allows an unsigned tag-only artifact is refused', async (t) => {
  const data = goodData();
  data.modelgate_config.exceptions['ALL'] = {
    uri: 'oci://selftest.invalid/modelgate/selftest:latest',
    waive: ['TAG_NOT_PINNED', 'UNSIGNED', 'MISSING_PROVENANCE'],
    approvedBy: 'x',
    reason: 'y',
    expires: '2099-01-01T00:00:00Z',
  };
  await t.rejects(PolicyEngine.fromBundle(bundle, { data }), { code: 'SELF_TEST_FAILED' });
  await t.rejects(
    PolicyEngine.fromBundle(bundle, { data: goodData(), selfTest: [{ name: 'good must pass', input: buildPolicyInput({ ...goodEvidence(), signatures: [] }), expect: { allow: true } }] }),
    { code: 'SELF_TEST_FAILED' },
  );
});

t.test('withData: a new engine on the same bundle with other data, self-tested; the original untouched', async (t) => {
  const revoked = goodData();
  revoked.modelgate_config.revoked.digests = { [MODEL_DIGEST]: {} };
  const next = await engine.withData(revoked);
  t.not(next, engine);
  t.equal(next.bundleDigest, engine.bundleDigest, 'same bundle');
  t.not(next.dataDigest, engine.dataDigest, 'new data');
  t.same(codes(decide(goodEvidence(), next)), ['REVOKED_DIGEST']);
  t.equal(decide(goodEvidence(), engine).allow, true, 'the original still decides with its own data');
  await t.rejects(engine.withData({ modelgate_config: { signers: 'everyone' } }), { code: 'DATA_INVALID' });
  t.equal((await engine.withData(undefined)).dataDigest, (await PolicyEngine.fromBundle(bundle)).dataDigest, 'undefined: the bundle data');
});

t.test('hot reload: the old policy serves until the new bundle verifies and passes its self-test', async (t) => {
  const live = join(dir, 'live');
  await cp(outDir, live, { recursive: true });
  const e = await PolicyEngine.load(live, { data: goodData() });
  const first = e.bundleDigest;
  t.equal(await e.reload(live), false, 'same digest: nothing to do');

  // A tampered wasm is refused; the old policy keeps answering.
  const wasmPath = join(live, 'policy.wasm');
  const wasm = await readFile(wasmPath);
  await writeFile(wasmPath, Buffer.concat([wasm, Buffer.from([0])]));
  await t.rejects(e.reload(live), { code: 'BUNDLE_DIGEST_MISMATCH' });
  t.equal(e.bundleDigest, first);
  t.equal(decide(goodEvidence(), e).allow, true);
  await writeFile(wasmPath, wasm);

});
