/**
 * Every `provenance` case of shared/vectors/cases.json (real slsa-github-generator provenance) gives
 * its expected verdict through `modelgate verify-artifact` run as a subprocess, with slsa-verifier's
 * flags and verdict lines. The subprocesses start together (one per core at a time); the policy
 * details are unit-tested in slsa-policy.test.ts.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, VECTORS, type CliResult } from '../helpers/run-cli.ts';

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
const base = cases[0];
if (base === undefined) throw new Error('no provenance case in cases.json');
const common = ['verify-artifact', '--provenance-path', abs(base.bundle), '--source-uri', base.sourceUri, '--trusted-root', abs(base.trustedRoot)];

const runs = cases.map((c): Promise<CliResult> => {
  const args = ['verify-artifact', '--provenance-path', abs(c.bundle), '--source-uri', c.sourceUri, '--trusted-root', abs(c.trustedRoot)];
  if (c.sourceBranch !== undefined) args.push('--source-branch', c.sourceBranch);
  if (c.builderId !== undefined) args.push('--builder-id', c.builderId);
  args.push(abs(c.artifact));
  return runCli(args);
});
const printed = runCli([
  ...common, '--builder-id', 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v2.1.0',
  '--print-provenance', abs(base.artifact),
]);
const wrongArtifact = runCli([...common, abs('sigstore-conformance/bundle-verify/a.txt')]);
const noSource = runCli(['verify-artifact', '--provenance-path', abs(base.bundle), abs(base.artifact)]);
// JSON lines: the first bundle that verifies wins (here after a bundle for another artifact).
const work = mkdtempSync(join(tmpdir(), 'modelgate-prov-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const jsonl = join(work, 'multiple.intoto.jsonl');
const otherBundle = readFileSync(abs('sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json'), 'utf8');
writeFileSync(jsonl, `${JSON.stringify(JSON.parse(otherBundle))}\n${JSON.stringify(JSON.parse(readFileSync(abs(base.bundle), 'utf8')))}\n`);
const multiple = runCli(['verify-artifact', '--provenance-path', jsonl, '--source-uri', base.sourceUri, '--trusted-root', abs(base.trustedRoot), abs(base.artifact)]);

t.ok(cases.length >= 5, 'the vector file has the provenance cases');

cases.forEach((c, i) => {
  t.test(`${c.id} -> ${c.expect}`, async (t) => {
    const result = await (runs[i] as Promise<CliResult>);
    if (c.expect === 'pass') {
      t.equal(result.code, 0, `${c.notes ?? ''}\n${result.stderr}`);
      t.match(result.stderr, /^PASSED: SLSA verification passed$/m);
    } else {
      t.equal(result.code, 1, result.stderr);
      t.match(result.stderr, /^FAILED: SLSA verification failed: /m);
      t.notMatch(result.stderr, /PASSED: SLSA/);
    }
  });
});

t.test('--print-provenance prints the verified statement; builder ID without refs/tags also matches', async (t) => {
  const result = await printed;
  t.equal(result.code, 0, result.stderr);
  const statement = JSON.parse(result.stdout) as { predicateType: string; subject: Array<{ digest: { sha256: string } }> };
  t.equal(statement.predicateType, 'https://slsa.dev/provenance/v0.2');
  t.match(statement.subject[0]?.digest.sha256, /^376e7e01348585b6/);
});

t.test('an artifact the provenance does not name fails', async (t) => {
  const result = await wrongArtifact;
  t.equal(result.code, 1);
  t.match(result.stderr, /FAILED: SLSA verification failed: DIGEST/);
});

t.test('a JSON-lines provenance file: the first bundle that verifies wins', async (t) => {
  const result = await multiple;
  t.equal(result.code, 0, result.stderr);
  t.match(result.stderr, /PASSED: SLSA verification passed/);
});

t.test('usage errors exit 2', async (t) => {
  const result = await noSource;
  t.equal(result.code, 2);
  t.match(result.stderr, /--source-uri/);
});
