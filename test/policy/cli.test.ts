// `modelgate policy eval|test` as a subprocess: exit 0 allow, 1 deny, 2 usage/error; table and JSON.
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { buildPolicyInput } from '../../src/policy/input.ts';
import { buildDefaultBundle, goodData, goodEvidence, REPO_ROOT } from './fixtures.ts';

const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const dir = t.testdir();
const { outDir } = await buildDefaultBundle(dir);

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 99) : 0, stdout, stderr });
    });
  });
}

const inputFile = join(dir, 'input.json');
const tagInputFile = join(dir, 'tag-input.json');
const dataFile = join(dir, 'data.json');
await writeFile(inputFile, JSON.stringify(buildPolicyInput(goodEvidence())));
const e = goodEvidence();
await writeFile(tagInputFile, JSON.stringify(buildPolicyInput({ ...e, artifact: { ...e.artifact, uri: 'oci://registry.acme.dev/models/llama:latest' } })));
await writeFile(dataFile, JSON.stringify(goodData()));

t.test('eval: allow exits 0 and prints the decision', async (t) => {
  const json = await run(['policy', 'eval', '--input', inputFile, '--data', dataFile, '--policy', outDir, '--output', 'json']);
  t.equal(json.code, 0, json.stderr);
  const decision = JSON.parse(json.stdout);
  t.equal(decision.allow, true);
  t.match(decision.bundleDigest, /^sha256:[a-f0-9]{64}$/);
  const table = await run(['policy', 'eval', '--input', inputFile, '--data', dataFile, '--policy', outDir]);
  t.equal(table.code, 0);
  t.match(table.stdout, /^VERDICT\s+allow/m);
});

t.test('eval: deny exits 1 with the code and message', async (t) => {
  const r = await run(['policy', 'eval', '--input', tagInputFile, '--data', dataFile, '--policy', outDir]);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stdout, /^VERDICT\s+deny/m);
  t.match(r.stdout, /deny\s+TAG_NOT_PINNED\s+oci:\/\/registry\.acme\.dev\/models\/llama:latest: reference is not pinned by digest/);
  // The bundle's own data.json trusts nobody: the good input is denied too.
  const shipped = await run(['policy', 'eval', '--input', inputFile, '--policy', outDir, '--output', 'json']);
  t.equal(shipped.code, 1);
  t.ok(JSON.parse(shipped.stdout).reasons.some((r: { code: string }) => r.code === 'UNTRUSTED_SIGNATURE'));
});

t.test('eval: bad input, bad data, bad bundle and bad flags exit 2', async (t) => {
  const badInput = join(dir, 'bad-input.json');
  await writeFile(badInput, JSON.stringify({ version: 'modelgate.dev/policy-input/v1' }));
  const r1 = await run(['policy', 'eval', '--input', badInput, '--policy', outDir]);
  t.equal(r1.code, 2);
  t.match(r1.stderr, /modelgate: INPUT_INVALID: /);
  const badData = join(dir, 'bad-data.json');
  await writeFile(badData, JSON.stringify({ modelgate_config: { signers: { threshold: 0 } } }));
  const r2 = await run(['policy', 'eval', '--input', inputFile, '--data', badData, '--policy', outDir]);
  t.equal(r2.code, 2);
  t.match(r2.stderr, /modelgate: DATA_INVALID: .*threshold/);
  const r3 = await run(['policy', 'eval', '--input', inputFile, '--policy', join(dir, 'nowhere')]);
  t.equal(r3.code, 2);
  t.match(r3.stderr, /BUNDLE_INVALID/);
  const r4 = await run(['policy', 'eval', '--input', inputFile, '--policy', outDir, '--output', 'yaml']);
  t.equal(r4.code, 2);
  t.equal(r4.stderr, 'error: option \'-o, --output <format>\' argument \'yaml\' is invalid. expected text or json, got "yaml". (see --help)\n', 'one line, not the help');
  const r5 = await run(['policy', 'eval', '--input', join(dir, 'missing.json'), '--policy', outDir]);
  t.equal(r5.code, 2);
  t.match(r5.stderr, /USAGE: cannot read policy input/);
});

t.test('policy test refuses a wrong opa binary', async (t) => {
  const fake = join(dir, 'opa');
  await writeFile(fake, '#!/bin/sh\nexit 0\n');
  await chmod(fake, 0o755);
  const r = await run(['policy', 'test'], { OPA_BIN: fake });
  t.equal(r.code, 2);
  t.match(r.stderr, /modelgate: OPA_CHECKSUM: refusing opa binary/);
  const ok = await run(['policy', 'test']);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /coverage 100\.00%/);
});
