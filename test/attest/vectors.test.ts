/**
 * Every `provenance` case of shared/vectors/cases.json (real slsa-github-generator provenance) gives
 * its expected verdict through `modelgate verify-artifact` run as a subprocess, with slsa-verifier's
 * flags and verdict lines.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, VECTORS } from '../helpers/run-cli.ts';

interface ProvenanceCase {
  id: string;
  kind: string;
  expect: 'pass' | 'fail';
  bundle: string;
  artifact: string;
  trustedRoot: string;
  sourceUri: string;
  sourceBranch?: string;
  builderId?: string;
  notes?: string;
}

const cases = (JSON.parse(readFileSync(join(VECTORS, 'cases.json'), 'utf8')) as ProvenanceCase[]).filter((c) => c.kind === 'provenance');
const abs = (p: string): string => join(VECTORS, p);

t.ok(cases.length >= 5, 'the vector file has the provenance cases');

for (const c of cases) {
  t.test(`${c.id} -> ${c.expect}`, async (t) => {
    const args = ['verify-artifact', '--provenance-path', abs(c.bundle), '--source-uri', c.sourceUri, '--trusted-root', abs(c.trustedRoot)];
    if (c.sourceBranch !== undefined) args.push('--source-branch', c.sourceBranch);
    if (c.builderId !== undefined) args.push('--builder-id', c.builderId);
    args.push(abs(c.artifact));
    const result = await runCli(args);
    if (c.expect === 'pass') {
      t.equal(result.code, 0, `${c.notes ?? ''}\n${result.stderr}`);
      t.match(result.stderr, /^PASSED: SLSA verification passed$/m);
    } else {
      t.equal(result.code, 1, result.stderr);
      t.match(result.stderr, /^FAILED: SLSA verification failed: /m);
      t.notMatch(result.stderr, /PASSED: SLSA/);
    }
  });
}

t.test('--print-provenance prints the verified statement; builder ID without refs/tags also matches', async (t) => {
  const base = cases[0];
  if (base === undefined) throw new Error('no provenance case');
  const result = await runCli([
    'verify-artifact', '--provenance-path', abs(base.bundle), '--source-uri', base.sourceUri, '--trusted-root', abs(base.trustedRoot),
    '--builder-id', 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v2.1.0',
    '--print-provenance', abs(base.artifact),
  ]);
  t.equal(result.code, 0, result.stderr);
  const statement = JSON.parse(result.stdout) as { predicateType: string; subject: Array<{ digest: { sha256: string } }> };
  t.equal(statement.predicateType, 'https://slsa.dev/provenance/v0.2');
  t.match(statement.subject[0]?.digest.sha256, /^376e7e01348585b6/);
});

t.test('a different artifact, a tag policy on a branch build, and a foreign builder all fail', async (t) => {
  const base = cases[0];
  if (base === undefined) throw new Error('no provenance case');
  const common = ['verify-artifact', '--provenance-path', abs(base.bundle), '--source-uri', base.sourceUri, '--trusted-root', abs(base.trustedRoot)];
  const wrongArtifact = await runCli([...common, abs('sigstore-conformance/bundle-verify/a.txt')]);
  t.equal(wrongArtifact.code, 1);
  t.match(wrongArtifact.stderr, /FAILED: SLSA verification failed: DIGEST/);
  const tag = await runCli([...common, '--source-tag', 'v1.0.0', abs(base.artifact)]);
  t.equal(tag.code, 1);
  t.match(tag.stderr, /FAILED: .*INVALID_REF/);
  const builder = await runCli([...common, '--builder-id', 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml', abs(base.artifact)]);
  t.equal(builder.code, 1);
  t.match(builder.stderr, /FAILED: .*UNTRUSTED_BUILDER/);
});

t.test('usage errors exit 2', async (t) => {
  const noSource = await runCli(['verify-artifact', '--provenance-path', abs(cases[0]?.bundle ?? ''), abs(cases[0]?.artifact ?? '')]);
  t.equal(noSource.code, 2);
  t.match(noSource.stderr, /--source-uri/);
  const both = await runCli(['verify-artifact', '--provenance-path', abs(cases[0]?.bundle ?? ''), '--source-uri', 'github.com/a/b', '--source-tag', 'v1', '--source-versioned-tag', 'v1', abs(cases[0]?.artifact ?? '')]);
  t.equal(both.code, 2);
});
