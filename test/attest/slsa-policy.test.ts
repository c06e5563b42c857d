/**
 * in-toto statement parsing, SLSA v0.2/v1 normalisation and the slsa-verifier policy, on the real
 * slsa-github-generator statement (decoded from the vector bundle) and variations of it: source
 * prefix attacks, branches, tags, versioned tags (Go semver rules), builder ID forms, untrusted
 * builders, workflow inputs.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationError } from '../../src/attest/errors.ts';
import { normalizeProvenance } from '../../src/attest/provenance.ts';
import { verifySlsaProvenance, verifyVersionedTag, type SignerWorkflowIdentity, type SlsaPolicy } from '../../src/attest/slsa-policy.ts';
import { parseArtifactDigest, parseStatement, requireSubject, type Statement } from '../../src/attest/statement.ts';
import * as semver from '../../src/attest/go-semver.ts';
import { VECTORS } from '../helpers/run-cli.ts';

const bundle = JSON.parse(readFileSync(join(VECTORS, 'slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl'), 'utf8')) as { dsseEnvelope: { payload: string } };
const REAL: Record<string, any> = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
const ARTIFACT = parseArtifactDigest('sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa');
const GENERIC = 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml';
const SIGNER: SignerWorkflowIdentity = {
  san: `${GENERIC}@refs/tags/v2.1.0`,
  issuer: 'https://token.actions.githubusercontent.com',
  sourceRepositoryUri: 'https://github.com/slsa-framework/example-package',
};
const POLICY: SlsaPolicy = { sourceUri: 'github.com/slsa-framework/example-package', artifactDigests: [ARTIFACT] };

function variant(mutate: (s: Record<string, any>) => void): Statement {
  const copy = structuredClone(REAL);
  mutate(copy);
  return parseStatement(JSON.stringify(copy));
}

/** A tag build: github_ref_type tag, ref refs/tags/<tag>, released from `branch`. */
function tagBuild(tag: string, branch = 'release'): Statement {
  return variant((s) => {
    const env = s.predicate.invocation.environment;
    env.github_ref_type = 'tag';
    env.github_ref = `refs/tags/${tag}`;
    env.github_event_name = 'release';
    env.github_event_payload = { release: { target_commitish: branch } };
    const uri = `git+https://github.com/slsa-framework/example-package@refs/tags/${tag}`;
    s.predicate.invocation.configSource.uri = uri;
    s.predicate.materials[0].uri = uri;
  });
}

function failsWith(t: Test, fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
    t.fail(`expected ${code}`);
  } catch (err) {
    t.ok(err instanceof AttestationError && err.code === code, `fails with ${code}`, { found: err instanceof Error ? `${(err as AttestationError).code}: ${err.message}` : String(err) });
    if (message !== undefined) t.match((err as Error).message, message);
  }
}

t.test('statements: v0.1 and v1, strict shapes, digest matching', async (t) => {
  const s = parseStatement(JSON.stringify(REAL));
  t.equal(s.version, 'v0.1');
  t.equal(s.predicateType, 'https://slsa.dev/provenance/v0.2');
  t.equal(requireSubject(s, ARTIFACT).name, 'gha_generic-binary-linux-amd64-workflow_dispatch');
  const v1 = parseStatement({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha512: 'a'.repeat(128) } }], predicateType: 'x' });
  t.same(v1.predicate, {});
  t.equal(requireSubject(v1, parseArtifactDigest(`sha512:${'a'.repeat(128)}`)).name, undefined);
  failsWith(t, () => requireSubject(v1, parseArtifactDigest(`sha256:${'a'.repeat(64)}`)), 'SUBJECT_MISMATCH');
  failsWith(t, () => parseStatement({ ...REAL, _type: 'https://in-toto.io/Statement/v2' }), 'STATEMENT', /_type/);
  failsWith(t, () => parseStatement({ ...REAL, subject: [] }), 'STATEMENT', /subject/);
  failsWith(t, () => parseStatement({ ...REAL, subject: [{ digest: { sha256: 'A'.repeat(64) } }] }), 'STATEMENT', /lowercase hex/);
  failsWith(t, () => parseStatement({ ...REAL, predicateType: '' }), 'STATEMENT', /predicateType/);
  failsWith(t, () => parseStatement('{"_type": '), 'STATEMENT', /JSON/);
});

t.test('SLSA v0.2 normalisation (buildInvocationID and buildInvocationId)', async (t) => {
  const p = normalizeProvenance(parseStatement(JSON.stringify(REAL)));
  t.match(p, {
    slsaVersion: 'v0.2',
    builderId: `${GENERIC}@refs/tags/v2.1.0`,
    buildType: 'https://github.com/slsa-framework/slsa-github-generator/generic@v1',
    invocationId: '13531731005-1',
    triggerUri: 'git+https://github.com/slsa-framework/example-package@refs/heads/main',
    source: { repository: 'git+https://github.com/slsa-framework/example-package', ref: 'refs/heads/main', commit: '4d329c75e7ec1725f7c9ce917a8799d408d06be3' },
  });
  t.equal(p.resolvedDependencies.length, 1);
  const spec = variant((s) => {
    delete s.predicate.metadata.buildInvocationID;
    s.predicate.metadata.buildInvocationId = 'spec-spelling';
  });
  t.equal(normalizeProvenance(spec).invocationId, 'spec-spelling');
  failsWith(t, () => normalizeProvenance(variant((s) => { delete s.predicate.builder; })), 'PROVENANCE', /builder\.id/);
  failsWith(t, () => normalizeProvenance(variant((s) => { s.predicateType = 'https://example.com/x'; })), 'PREDICATE_TYPE');
});

t.test('SLSA v1 normalisation: GitHub workflow build type', async (t) => {
  const p = normalizeProvenance(parseStatement({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'model', digest: { sha256: ARTIFACT.hex } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'https://actions.github.io/buildtypes/workflow/v1',
        externalParameters: { workflow: { ref: 'refs/heads/main', repository: 'https://github.com/acme/train', path: '.github/workflows/train.yml' } },
        internalParameters: { github: { event_name: 'push' } },
        resolvedDependencies: [{ uri: 'git+https://github.com/acme/train@refs/heads/main', digest: { gitCommit: 'c0ffee' } }, { name: 'dataset', digest: { sha256: 'b'.repeat(64) } }],
      },
      runDetails: { builder: { id: 'https://github.com/acme/train/.github/workflows/train.yml@refs/heads/main' }, metadata: { invocationId: 'https://github.com/acme/train/actions/runs/1/attempts/1', startedOn: '2026-01-01T00:00:00Z' } },
    },
  }));
  t.match(p, {
    slsaVersion: 'v1',
    buildType: 'https://actions.github.io/buildtypes/workflow/v1',
    invocationId: 'https://github.com/acme/train/actions/runs/1/attempts/1',
    triggerUri: 'git+https://github.com/acme/train@refs/heads/main',
    source: { ref: 'refs/heads/main', commit: 'c0ffee' },
    startedOn: '2026-01-01T00:00:00Z',
  });
  t.same(p.resolvedDependencies[1], { uri: undefined, name: 'dataset', digest: { sha256: 'b'.repeat(64) } });
});

t.test('the real provenance passes the default policy', async (t) => {
  const verdict = verifySlsaProvenance(parseStatement(JSON.stringify(REAL)), SIGNER, POLICY);
  t.equal(verdict.builderId, `${GENERIC}@refs/tags/v2.1.0`);
});

t.test('source repositories match exactly, never by prefix', async (t) => {
  const s = parseStatement(JSON.stringify(REAL));
  for (const sourceUri of ['github.com/slsa-framework/example-packageA', 'github.com/slsa-framework/example-packag', 'github.com/slsa-framework/example-package/sub']) {
    failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceUri }), 'SOURCE_MISMATCH');
    // Without the certificate extension, the provenance check alone must catch it.
    failsWith(t, () => verifySlsaProvenance(s, { ...SIGNER, sourceRepositoryUri: undefined }, { ...POLICY, sourceUri }), 'SOURCE_MISMATCH');
  }
  t.ok(verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceUri: 'https://github.com/slsa-framework/example-package' }), 'a scheme is accepted');
  t.ok(verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceUri: 'git+https://github.com/slsa-framework/example-package' }), 'git+https is accepted');
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceUri: 'gitlab.com/slsa-framework/example-package' }), 'SOURCE_MISMATCH');
  const forkedMaterial = variant((x) => { x.predicate.materials[0].uri = 'git+https://github.com/evil/example-package@refs/heads/main'; });
  failsWith(t, () => verifySlsaProvenance(forkedMaterial, SIGNER, POLICY), 'SOURCE_MISMATCH');
});

t.test('branches: refs/heads/<b> only; tag builds use the release branch', async (t) => {
  const s = parseStatement(JSON.stringify(REAL));
  t.ok(verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceBranch: 'main' }));
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceBranch: 'master' }), 'BRANCH_MISMATCH', /expected branch 'master', got 'main'/);
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceBranch: 'mai' }), 'BRANCH_MISMATCH');
  const tagged = tagBuild('v1.2.3', 'release-1.x');
  t.ok(verifySlsaProvenance(tagged, SIGNER, { ...POLICY, sourceBranch: 'release-1.x' }));
  failsWith(t, () => verifySlsaProvenance(tagged, SIGNER, { ...POLICY, sourceBranch: 'main' }), 'BRANCH_MISMATCH');
});

t.test('tags and versioned tags', async (t) => {
  const s = parseStatement(JSON.stringify(REAL));
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, sourceTag: 'v1.2.3' }), 'INVALID_REF', /refs\/tags/);
  const tagged = tagBuild('v1.2.3');
  t.ok(verifySlsaProvenance(tagged, SIGNER, { ...POLICY, sourceTag: 'v1.2.3' }));
  failsWith(t, () => verifySlsaProvenance(tagged, SIGNER, { ...POLICY, sourceTag: 'v1.2.4' }), 'TAG_MISMATCH');
  for (const ok of ['v1', 'v1.2', 'v1.2.3', 'v1.2.3+build']) t.ok(verifySlsaProvenance(tagged, SIGNER, { ...POLICY, sourceVersionedTag: ok }), `${ok} matches v1.2.3`);
  // Go's patch parsing splits on every '.', so a build suffix with a dot does not match (as upstream).
  for (const bad of ['v2', 'v1.3', 'v1.2.4', 'v0', 'v1.2.3+build.7']) failsWith(t, () => verifySlsaProvenance(tagged, SIGNER, { ...POLICY, sourceVersionedTag: bad }), 'VERSIONED_TAG_MISMATCH');
  for (const invalid of ['1.2.3', 'v1.2.3.4', 'va', 'v01']) failsWith(t, () => verifySlsaProvenance(tagged, SIGNER, { ...POLICY, sourceVersionedTag: invalid }), 'INVALID_SEMVER');
  failsWith(t, () => verifySlsaProvenance(tagBuild('latest'), SIGNER, { ...POLICY, sourceVersionedTag: 'v1' }), 'INVALID_SEMVER');
  t.doesNotThrow(() => verifyVersionedTag('v2', 'v2.0'), 'provenance shorthand canonicalises to v2.0.0');
  t.doesNotThrow(() => verifyVersionedTag('v1.2.3-rc.1', 'v1.2.3-rc.1'));
  t.equal(semver.canonical('v1'), 'v1.0.0');
  t.equal(semver.canonical('v1.2.3+meta'), 'v1.2.3');
  t.equal(semver.isValid('v1.2-pre'), false);
  t.equal(semver.prerelease('v1.2.3-rc.1'), '-rc.1');
});

t.test('builder ID forms and trusted builders', async (t) => {
  const s = parseStatement(JSON.stringify(REAL));
  for (const builderId of [GENERIC, `${GENERIC}@v2.1.0`, `${GENERIC}@refs/tags/v2.1.0`]) t.ok(verifySlsaProvenance(s, SIGNER, { ...POLICY, builderId }), builderId);
  for (const builderId of [`${GENERIC}@v2.0.0`, `${GENERIC}@refs/tags/v2.0.0`, 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml', `${GENERIC}x`]) {
    failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, builderId }), 'UNTRUSTED_BUILDER');
  }
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, builderId: `${GENERIC}@` }), 'BUILDER_MISMATCH');
  // A workflow outside slsa-github-generator is untrusted unless named, and then must be at a release tag.
  const own = 'https://github.com/acme/builders/.github/workflows/build.yml';
  const ownStatement = variant((x) => { x.predicate.builder.id = `${own}@refs/tags/v1.0.0`; });
  const ownSigner = { ...SIGNER, san: `${own}@refs/tags/v1.0.0` };
  failsWith(t, () => verifySlsaProvenance(ownStatement, ownSigner, POLICY), 'UNTRUSTED_BUILDER');
  t.ok(verifySlsaProvenance(ownStatement, ownSigner, { ...POLICY, builderId: own }));
  failsWith(t, () => verifySlsaProvenance(ownStatement, { ...ownSigner, san: `${own}@refs/heads/main` }, { ...POLICY, builderId: own }), 'INVALID_REF');
  failsWith(t, () => verifySlsaProvenance(s, { ...SIGNER, san: `${GENERIC}@refs/tags/v2.1.0-rc.1` }, POLICY), 'INVALID_REF');
  // Provenance builder.id must be the certificate's builder.
  failsWith(t, () => verifySlsaProvenance(variant((x) => { x.predicate.builder.id = `${GENERIC}@refs/tags/v2.0.0`; }), SIGNER, POLICY), 'BUILDER_MISMATCH');
  failsWith(t, () => verifySlsaProvenance(s, { ...SIGNER, issuer: 'https://accounts.google.com' }, POLICY), 'OIDC_ISSUER');
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, kind: 'container' }), 'UNTRUSTED_BUILDER', /generator_container_slsa3/);
});

t.test('subject digests and workflow_dispatch inputs', async (t) => {
  const s = parseStatement(JSON.stringify(REAL));
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, artifactDigests: [parseArtifactDigest(`sha256:${'0'.repeat(64)}`)] }), 'SUBJECT_MISMATCH');
  failsWith(t, () => verifySlsaProvenance(s, SIGNER, { ...POLICY, buildWorkflowInputs: { release: 'true' } }), 'WORKFLOW_INPUTS_MISMATCH', /inputs/);
  const withInputs = variant((x) => { x.predicate.invocation.environment.github_event_payload.inputs = { release: 'true', level: '3' }; });
  t.ok(verifySlsaProvenance(withInputs, SIGNER, { ...POLICY, buildWorkflowInputs: { release: 'true', level: '3' } }));
  failsWith(t, () => verifySlsaProvenance(withInputs, SIGNER, { ...POLICY, buildWorkflowInputs: { release: 'false' } }), 'WORKFLOW_INPUTS_MISMATCH', /expected 'release=false', got 'release=true'/);
  failsWith(t, () => verifySlsaProvenance(withInputs, SIGNER, { ...POLICY, buildWorkflowInputs: { missing: 'x' } }), 'WORKFLOW_INPUTS_MISMATCH', /'missing'/);
  const pushed = variant((x) => { x.predicate.invocation.environment.github_event_name = 'push'; });
  failsWith(t, () => verifySlsaProvenance(pushed, SIGNER, { ...POLICY, buildWorkflowInputs: { release: 'true' } }), 'WORKFLOW_INPUTS_MISMATCH', /workflow_dispatch/);
});
