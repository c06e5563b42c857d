/**
 * slsa-verifier's trusted-builder set (issue 14, item 4): every default builder accepts a release
 * tag and refuses a branch ref, an untagged identity and a look-alike repository; the BYOB
 * delegators need `--builder-id` naming the trusted reusable workflow recorded in the provenance.
 * Statements are the real slsa-github-generator provenance of the shared vectors with the builder
 * fields changed to each builder's.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationError } from '../../src/attest/errors.ts';
import { BYOB_DELEGATORS, defaultTrustedWorkflows, verifySlsaProvenance, type ArtifactKind, type SlsaPolicy } from '../../src/attest/slsa-policy.ts';
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
