/**
 * slsa-verifier's trusted-builder set (issue 14, item 4): every default builder accepts a release
 * tag and refuses a branch ref, an untagged identity and a look-alike repository; the BYOB
 * delegators need `--builder-id` naming the trusted reusable workflow recorded in the provenance.
 * The Node.js builder is a BYOB workflow (through the low-permissions delegator); the npm CLI's
 * GitHub-runner builder IDs are trusted for npm packages only, named by `--builder-id`.
 * Statements are the real slsa-github-generator provenance of the shared vectors with the builder
 * fields changed to each builder's; the npm CLI statement is shaped like the npm CLI's v0.2
 * provenance (as in slsa-verifier's npm tests). The Bazel Central Registry statements are shaped
 * like GitHub's `actions/attest-build-provenance` v1 provenance as in slsa-verifier's BCR test data
 * (buildType workflow/v1, `externalParameters.workflow`, `internalParameters.github`).
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationError } from '../../src/attest/errors.ts';
import { BYOB_DELEGATORS, GITHUB_ACTIONS_BUILD_TYPE, GITHUB_ATTESTATION_BUILDERS, GITHUB_RUNNER_BUILDERS, NODEJS_BUILDER, defaultTrustedWorkflows, verifySlsaProvenance, type ArtifactKind, type SlsaPolicy } from '../../src/attest/slsa-policy.ts';
import { parseArtifactDigest, parseStatement, type Statement } from '../../src/attest/statement.ts';
import { VECTORS } from '../helpers/run-cli.ts';

const bundle = JSON.parse(readFileSync(join(VECTORS, 'slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl'), 'utf8')) as { dsseEnvelope: { payload: string } };
const REAL: Record<string, any> = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
const ARTIFACT = parseArtifactDigest('sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa');
const GH = 'https://github.com/';
const ISSUER = 'https://token.actions.githubusercontent.com';
const SOURCE = 'https://github.com/slsa-framework/example-package';

function statementBuiltBy(builderId: string): Statement {
  const copy = structuredClone(REAL);
  copy.predicate.builder.id = builderId;
  return parseStatement(JSON.stringify(copy));
}

const policy = (kind: ArtifactKind, builderId?: string): SlsaPolicy => ({ sourceUri: 'github.com/slsa-framework/example-package', artifactDigests: [ARTIFACT], kind, ...(builderId === undefined ? {} : { builderId }) });
const signer = (san: string) => ({ san, issuer: ISSUER, sourceRepositoryUri: SOURCE });

function failsWith(t: Test, fn: () => unknown, code: string, what: string): void {
  try {
    fn();
    t.fail(`${what}: expected ${code}`);
  } catch (err) {
    t.ok(err instanceof AttestationError && err.code === code, `${what}: ${code}`, { found: err instanceof Error ? `${(err as AttestationError).code}: ${err.message}` : String(err) });
  }
}

const builders: Array<{ path: string; kind: ArtifactKind }> = [
  ...defaultTrustedWorkflows('artifact').map((path) => ({ path, kind: 'artifact' as const })),
  ...defaultTrustedWorkflows('container').map((path) => ({ path, kind: 'container' as const })),
];

t.test('the default set mirrors slsa-verifier', async (t) => {
  t.ok(defaultTrustedWorkflows('artifact').includes('slsa-framework/slsa-github-generator/.github/workflows/builder_container-based_slsa3.yml'), 'container-based builder');
  t.same(BYOB_DELEGATORS.map((p) => p.split('/').pop()), ['delegator_generic_slsa3.yml', 'delegator_lowperms-generic_slsa3.yml']);
  t.same(GITHUB_RUNNER_BUILDERS, ['https://github.com/actions/runner/github-hosted', 'https://github.com/actions/runner'], 'npm CLI builders (no self-hosted)');
  t.same(defaultTrustedWorkflows('npm'), [], 'npm packages have no default builder');
});

for (const { path, kind } of builders) {
  t.test(`${path.split('/').pop()} (${kind}): a release tag verifies; branch, untagged and another repository do not`, async (t) => {
    const id = `${GH}${path}`;
    const ok = verifySlsaProvenance(statementBuiltBy(`${id}@refs/tags/v2.1.0`), signer(`${id}@refs/tags/v2.1.0`), policy(kind));
    t.equal(ok.builderId, `${id}@refs/tags/v2.1.0`);
    t.ok(verifySlsaProvenance(statementBuiltBy(`${id}@refs/tags/v2.1.0`), signer(`${id}@refs/tags/v2.1.0`), policy(kind, `${id}@v2.1.0`)), 'with a matching --builder-id');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${id}@refs/heads/main`), signer(`${id}@refs/heads/main`), policy(kind)), 'INVALID_REF', 'branch ref');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${id}@refs/tags/v2.1`), signer(`${id}@refs/tags/v2.1`), policy(kind)), 'INVALID_REF', 'not vX.Y.Z');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(id), signer(id), policy(kind)), 'MALFORMED_URI', 'untagged');
    const fork = `${GH}${path.replace('slsa-framework/slsa-github-generator', 'attacker/slsa-github-generator')}`;
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${fork}@refs/tags/v2.1.0`), signer(`${fork}@refs/tags/v2.1.0`), policy(kind)), 'UNTRUSTED_BUILDER', 'another repository');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${id}@refs/tags/v2.1.0`), signer(`${id}@refs/tags/v2.1.0`), policy(kind, `${id}@v2.2.0`)), 'UNTRUSTED_BUILDER', '--builder-id at another version');
  });
}

t.test('a container builder is not trusted for files, nor a file builder for images', async (t) => {
  const generator = `${GH}slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0`;
  failsWith(t, () => verifySlsaProvenance(statementBuiltBy(generator), signer(generator), policy('artifact')), 'UNTRUSTED_BUILDER', 'container generator for a file');
  const generic = `${GH}slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0`;
  failsWith(t, () => verifySlsaProvenance(statementBuiltBy(generic), signer(generic), policy('container')), 'UNTRUSTED_BUILDER', 'generic generator for an image');
});

for (const delegator of BYOB_DELEGATORS) {
  t.test(`BYOB ${delegator.split('/').pop()}: the certificate names the delegator, --builder-id the TRW in the provenance`, async (t) => {
    const cert = `${GH}${delegator}@refs/tags/v1.9.0`;
    const trw = `${GH}acme/builders/.github/workflows/builder_maven_slsa3.yml`;
    for (const kind of ['artifact', 'container'] as const) {
      const ok = verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(cert), policy(kind, `${trw}@v1.0.0`));
      t.equal(ok.builderId, `${trw}@refs/tags/v1.0.0`, `${kind}: the verified builder is the TRW`);
      t.ok(verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(cert), policy(kind, trw)), `${kind}: --builder-id without a version`);
    }
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(cert), policy('artifact')), 'UNTRUSTED_BUILDER', 'no --builder-id');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(cert), policy('artifact', `${GH}acme/builders/.github/workflows/other.yml`)), 'BUILDER_MISMATCH', 'another TRW');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(cert), policy('artifact', `${trw}@v1.0.1`)), 'BUILDER_MISMATCH', 'the TRW at another version');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${trw}@refs/heads/main`), signer(cert), policy('artifact', trw)), 'INVALID_REF', 'the TRW at a branch');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(`${GH}${delegator}@refs/heads/main`), policy('artifact', trw)), 'INVALID_REF', 'the delegator at a branch');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(`${GH}${delegator}`), policy('artifact', trw)), 'MALFORMED_URI', 'an untagged delegator');
    const fork = `${GH}${delegator.replace('slsa-framework/', 'attacker/')}@refs/tags/v1.9.0`;
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${trw}@refs/tags/v1.0.0`), signer(fork), policy('artifact', trw)), 'UNTRUSTED_BUILDER', 'a delegator from another repository');
  });
}

t.test('the Node.js builder: signed by the low-permissions delegator, trusted when --builder-id names it', async (t) => {
  const lowperms = BYOB_DELEGATORS.find((d) => d.includes('lowperms')) as string;
  const cert = `${GH}${lowperms}@refs/tags/v2.0.0`;
  const built = `${NODEJS_BUILDER}@refs/tags/v2.0.0`;
  for (const kind of ['npm', 'artifact'] as const) {
    t.equal(verifySlsaProvenance(statementBuiltBy(built), signer(cert), policy(kind, NODEJS_BUILDER)).builderId, built, `${kind}: accepted, the verified builder is the Node.js builder`);
    t.equal(verifySlsaProvenance(statementBuiltBy(built), signer(cert), policy(kind, `${NODEJS_BUILDER}@v2.0.0`)).builderId, built, `${kind}: --builder-id at its version`);
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(built), signer(cert), policy(kind)), 'UNTRUSTED_BUILDER', `${kind}: no --builder-id`);
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(built), signer(cert), policy(kind, `${NODEJS_BUILDER}@v2.0.1`)), 'BUILDER_MISMATCH', `${kind}: --builder-id at another version`);
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${NODEJS_BUILDER}@refs/heads/main`), signer(cert), policy(kind, NODEJS_BUILDER)), 'INVALID_REF', `${kind}: the builder at a branch`);
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(`${NODEJS_BUILDER}@refs/tags/v2.0`), signer(cert), policy(kind, NODEJS_BUILDER)), 'INVALID_REF', `${kind}: the builder at a tag that is not vX.Y.Z`);
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(NODEJS_BUILDER), signer(cert), policy(kind, NODEJS_BUILDER)), 'BUILDER_MISMATCH', `${kind}: an untagged builder in the provenance`);
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(built), signer(`${GH}${lowperms}@refs/heads/main`), policy(kind, NODEJS_BUILDER)), 'INVALID_REF', `${kind}: the delegator at a branch`);
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(built), signer(`${GH}${lowperms}`), policy(kind, NODEJS_BUILDER)), 'MALFORMED_URI', `${kind}: an untagged delegator`);
    const forkedBuilder = built.replace('slsa-framework/slsa-github-generator', 'attacker/slsa-github-generator');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(forkedBuilder), signer(cert), policy(kind, NODEJS_BUILDER)), 'BUILDER_MISMATCH', `${kind}: the builder from another repository`);
    const forkedDelegator = cert.replace('slsa-framework/', 'attacker/');
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(built), signer(forkedDelegator), policy(kind, NODEJS_BUILDER)), 'UNTRUSTED_BUILDER', `${kind}: a delegator from another repository`);
  }
});

// npm CLI provenance (v0.2, buildType https://github.com/npm/cli/gha@v1): the certificate names the publisher's own workflow.
const NPM_PACKAGE = parseArtifactDigest(`sha512:${'29d19f26233f4441328412b34fd73ed104ecfef62f14097890cccf7455b521b65c5acff851849faa85c85395aa22d401436f01f3afb61b19c780e906c88c7f20'}`);
const COMMIT = 'c2f4c1e8b1cbb7a5d0e6e9a7cd81e1a0fd5b6b7d';

function npmCliStatement(builderId: string, repository = 'slsa-framework/example-package'): Statement {
  const uri = `git+https://github.com/${repository}@refs/heads/main`;
  return parseStatement(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v0.1',
    subject: [{ name: 'pkg:npm/%40modelgate/example@1.0.0', digest: { sha512: NPM_PACKAGE.hex } }],
    predicateType: 'https://slsa.dev/provenance/v0.2',
    predicate: {
      buildType: 'https://github.com/npm/cli/gha@v1',
      builder: { id: builderId },
      invocation: {
        configSource: { uri, digest: { sha1: COMMIT }, entryPoint: '.github/workflows/release.yml' },
        parameters: {},
        environment: {
          GITHUB_EVENT_NAME: 'push',
          GITHUB_REF: 'refs/heads/main',
          GITHUB_REPOSITORY: repository,
          GITHUB_RUN_ATTEMPT: '1',
          GITHUB_RUN_ID: '4757060009',
          GITHUB_SHA: COMMIT,
          GITHUB_WORKFLOW_REF: `${repository}/.github/workflows/release.yml@refs/heads/main`,
          GITHUB_WORKFLOW_SHA: COMMIT,
        },
      },
      metadata: { buildInvocationId: '4757060009-1', completeness: { parameters: false, environment: false, materials: false }, reproducible: false },
      materials: [{ uri, digest: { sha1: COMMIT } }],
    },
  }));
}

const npmPolicy = (builderId?: string, kind: ArtifactKind = 'npm'): SlsaPolicy => ({ ...policy(kind, builderId), artifactDigests: [NPM_PACKAGE] });
const PUBLISHER = `${GH}slsa-framework/example-package/.github/workflows/release.yml`;

for (const runner of GITHUB_RUNNER_BUILDERS) {
  t.test(`npm CLI ${runner}: trusted for npm packages with --builder-id; the publisher's workflow ref is not a builder ref`, async (t) => {
    for (const ref of ['refs/heads/main', 'refs/tags/v1.0.0']) {
      t.equal(verifySlsaProvenance(npmCliStatement(runner), signer(`${PUBLISHER}@${ref}`), npmPolicy(runner)).builderId, runner, `accepted, published from ${ref}`);
    }
    const cert = signer(`${PUBLISHER}@refs/heads/main`);
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), cert, npmPolicy()), 'UNTRUSTED_BUILDER', 'no --builder-id');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), cert, npmPolicy(`${runner}@v1.0.0`)), 'UNTRUSTED_BUILDER', '--builder-id with a version');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), cert, npmPolicy(runner, 'artifact')), 'UNTRUSTED_BUILDER', 'not trusted for verify-artifact');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), cert, npmPolicy(runner, 'container')), 'UNTRUSTED_BUILDER', 'not trusted for images');
    const other = GITHUB_RUNNER_BUILDERS.find((b) => b !== runner) as string;
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(other), cert, npmPolicy(runner)), 'BUILDER_MISMATCH', 'the provenance names the other runner ID');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(`${runner}@v1`), cert, npmPolicy(runner)), 'BUILDER_MISMATCH', 'the provenance names a versioned runner ID');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), signer(PUBLISHER), npmPolicy(runner)), 'MALFORMED_URI', 'an untagged certificate workflow');
    const attackerRunner = runner.replace('actions/runner', 'attacker/runner');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(attackerRunner), cert, npmPolicy(attackerRunner)), 'UNTRUSTED_BUILDER', 'a runner ID from another repository');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), { ...cert, sourceRepositoryUri: 'https://github.com/attacker/example-package' }, npmPolicy(runner)), 'SOURCE_MISMATCH', 'published from another repository');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), { san: cert.san, issuer: ISSUER }, npmPolicy(runner)), 'SOURCE_MISMATCH', 'a certificate without its source repository');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner, 'attacker/example-package'), cert, npmPolicy(runner)), 'SOURCE_MISMATCH', 'provenance built from another repository');
    failsWith(t, () => verifySlsaProvenance(npmCliStatement(runner), { ...cert, issuer: 'https://accounts.google.com' }, npmPolicy(runner)), 'OIDC_ISSUER', 'not GitHub Actions');
  });
}

t.test('npm packages: self-hosted runners and the file/image builders are refused', async (t) => {
  const cert = signer(`${PUBLISHER}@refs/heads/main`);
  const selfHosted = 'https://github.com/actions/runner/self-hosted';
  failsWith(t, () => verifySlsaProvenance(npmCliStatement(selfHosted), cert, npmPolicy(selfHosted)), 'UNTRUSTED_BUILDER', 'self-hosted runner');
  for (const path of defaultTrustedWorkflows('artifact')) {
    const id = `${GH}${path}@refs/tags/v2.1.0`;
    failsWith(t, () => verifySlsaProvenance(statementBuiltBy(id), signer(id), policy('npm', id)), 'UNTRUSTED_BUILDER', `${path.split('/').pop()} for an npm package`);
  }
});

// GitHub-attestation provenance (actions/attest-build-provenance), as the Bazel Central Registry workflows produce it.
const MODULE_FILE = parseArtifactDigest(`sha256:${'4b1e0c9f6f2d3a8e7c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170654'}`);
const RULESET = 'acme/rules_model';

function githubAttestationStatement(builderId: string, ref = 'refs/heads/publish-to-bcr', repository = RULESET): Statement {
  return parseStatement(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'MODULE.bazel', digest: { sha256: MODULE_FILE.hex } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: GITHUB_ACTIONS_BUILD_TYPE,
        externalParameters: { workflow: { ref, repository: `https://github.com/${repository}`, path: '.github/workflows/release.yml' } },
        internalParameters: { github: { event_name: 'workflow_dispatch', repository_id: '731246815', repository_owner_id: '90412733', runner_environment: 'github-hosted' } },
        resolvedDependencies: [{ uri: `git+https://github.com/${repository}@${ref}`, digest: { gitCommit: COMMIT } }],
      },
      runDetails: { builder: { id: builderId }, metadata: { invocationId: `https://github.com/${repository}/actions/runs/15012345678/attempts/1` } },
    },
  }));
}

const bcrPolicy = (builderId?: string, extra: Partial<SlsaPolicy> = {}): SlsaPolicy => ({ sourceUri: `github.com/${RULESET}`, artifactDigests: [MODULE_FILE], ...(builderId === undefined ? {} : { builderId }), ...extra });
const bcrSigner = (san: string) => ({ san, issuer: ISSUER, sourceRepositoryUri: `https://github.com/${RULESET}` });

t.test('the Bazel Central Registry builders mirror slsa-verifier', async (t) => {
  t.same(GITHUB_ATTESTATION_BUILDERS, [
    'https://github.com/bazel-contrib/.github/.github/workflows/release_ruleset.yaml',
    'https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml',
  ]);
});

for (const builder of GITHUB_ATTESTATION_BUILDERS) {
  t.test(`${builder.split('/').pop()}: GitHub-attestation provenance verifies with --builder-id; refused otherwise`, async (t) => {
    const built = `${builder}@refs/tags/v0.2.1`;
    t.equal(verifySlsaProvenance(githubAttestationStatement(built), bcrSigner(built), bcrPolicy(builder)).builderId, built, 'accepted from a branch of the ruleset');
    t.equal(verifySlsaProvenance(githubAttestationStatement(built), bcrSigner(built), bcrPolicy(`${builder}@v0.2.1`)).builderId, built, '--builder-id at its version');
    t.ok(verifySlsaProvenance(githubAttestationStatement(built, 'refs/tags/v1.4.0'), bcrSigner(built), bcrPolicy(builder, { sourceTag: 'v1.4.0' })), 'released from a tag, checked with --source-tag');
    t.ok(verifySlsaProvenance(githubAttestationStatement(built), bcrSigner(built), bcrPolicy(builder, { sourceBranch: 'publish-to-bcr' })), 'checked with --source-branch');
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(built), bcrSigner(built), bcrPolicy()), 'UNTRUSTED_BUILDER', 'no --builder-id (not a default builder)');
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(built), bcrSigner(built), bcrPolicy(`${builder}@v0.2.2`)), 'UNTRUSTED_BUILDER', '--builder-id at another version');
    const branch = `${builder}@refs/heads/main`;
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(branch), bcrSigner(branch), bcrPolicy(builder)), 'INVALID_REF', 'the builder at a branch');
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(builder), bcrSigner(builder), bcrPolicy(builder)), 'MALFORMED_URI', 'an untagged builder');
    const fork = built.replace('bazel-contrib/', 'attacker/');
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(fork), bcrSigner(fork), bcrPolicy(fork.split('@')[0])), 'UNTRUSTED_BUILDER', 'the same workflow from another repository, even when named by --builder-id');
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(built, undefined, 'attacker/rules_model'), bcrSigner(built), bcrPolicy(builder)), 'SOURCE_MISMATCH', 'provenance of another ruleset');
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(built), { ...bcrSigner(built), sourceRepositoryUri: 'https://github.com/attacker/rules_model' }, bcrPolicy(builder)), 'SOURCE_MISMATCH', 'a certificate for another ruleset');
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(built), bcrSigner(built), { ...bcrPolicy(builder), artifactDigests: [ARTIFACT] }), 'SUBJECT_MISMATCH', 'another file');
    const other = GITHUB_ATTESTATION_BUILDERS.find((b) => b !== builder) as string;
    failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(`${other}@refs/tags/v0.2.1`), bcrSigner(built), bcrPolicy(builder)), 'BUILDER_MISMATCH', 'the provenance names the other BCR workflow');
  });
}

t.test('GitHub-attestation provenance from a workflow slsa-verifier does not list is refused, even when named by --builder-id', async (t) => {
  const own = `${GH}${RULESET}/.github/workflows/release.yml@refs/tags/v1.0.0`;
  failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(own), bcrSigner(own), bcrPolicy(own.split('@')[0])), 'UNTRUSTED_BUILDER', 'the ruleset\'s own workflow');
  const generic = `${GH}slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0`;
  failsWith(t, () => verifySlsaProvenance(githubAttestationStatement(generic), bcrSigner(generic), bcrPolicy()), 'UNTRUSTED_BUILDER', 'a default builder\'s identity on an attest-build-provenance statement');
});
