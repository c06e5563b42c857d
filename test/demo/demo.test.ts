// `npm run demo`: the whole pipeline in one command. Default path as the user runs it (a subprocess,
// an OCI image layout under ./demo-out, the webhook as a child process over HTTPS), including the
// `modelgate verify` command it prints (a model whose provenance names an unsigned dataset is denied
// DATASET_UNSIGNED: the demo's data sets datasets.requireSignature); then `--registry` against the real loopback registry, run
// in-process from a source tree outside any git checkout (the policy exception path). Bad arguments
// exit 2, a failed expectation exits 1. The `sh runnable` blocks of the README and docs run verbatim
// in the default run's directory afterwards (test/readme-commands.test.ts checks the other blocks), so
// the suite runs the demo once for both.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGitCheckout } from '../../src/emit/source-tree.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { runDemo } from '../../src/demo/run.ts';
import { docBlocks, where } from '../helpers/doc-blocks.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO } from '../helpers/run-cli.ts';
import { runInUserShell } from '../helpers/user-shell.ts';

const NODE = join(REPO, 'node_modules/.bin/node');

function demo(cwd: string, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [join(REPO, 'src/demo/main.ts'), ...args], { cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

interface Receipt {
  digest: string;
  decision: string;
  evidence: { signers: string[]; predicateTypes: string[] };
}

// Both demos start at once (most of a run is waiting on processes), each in its own directory. The
// default one runs inside the checkout (under node_modules/.cache, ignored by git), as `npm run demo`
// does, so that the `npx modelgate …` commands it prints find the project's bin.
mkdirSync(join(REPO, 'node_modules/.cache'), { recursive: true });
const dir = mkdtempSync(join(REPO, 'node_modules/.cache/modelgate-demo-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const cwd = join(dir, 'cwd');
mkdirSync(cwd);
const defaultRun = demo(cwd);
const registry = await startRegistry({ t });
// The registry demo's sources: outside any git checkout (the system temporary directory).
const outsideGit = mkdtempSync(join(tmpdir(), 'modelgate-demo-source-'));
t.teardown(() => rmSync(outsideGit, { recursive: true, force: true }));
const registryRun = (async () => {
  const lines: string[] = [];
  const result = await runDemo({ outDir: join(dir, 'registry-out'), registry: `http://${registry.host}/team`, sourceDir: outsideGit, log: (line) => lines.push(line) });
  return { result, out: lines.join('\n') };
})();
// Settle both before any assertion, so a failure in one does not leave the other running.
const [defaultSettled, registrySettled] = await Promise.allSettled([defaultRun, registryRun]);

t.test('npm run demo: dataset → attest run → push/sign/attach → webhook allow and deny → init publishes with a receipt', async (t) => {
  if (defaultSettled.status === 'rejected') throw defaultSettled.reason;
  const run = defaultSettled.value;
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  const out = run.stdout;
  for (let step = 0; step <= 6; step++) t.match(out, new RegExp(`^${step}\\. `, 'm'), `step ${step} printed`);
  t.equal((out.match(/^ {3}proved: /gm) ?? []).length, 6, 'each step after the key says what it proved');
  t.equal((out.match(/→ allowed in \d+ ms/g) ?? []).length, 1);
  t.equal((out.match(/→ denied \(403\) in \d+ ms/g) ?? []).length, 3);
  for (const code of ['UNSIGNED', 'MISSING_PROVENANCE', 'TAG_NOT_PINNED', 'DATASET_UNSIGNED', 'DIGEST_MISMATCH']) t.match(out, new RegExp(`^ +${code}: `, 'm'), `${code} printed as a reason`);
  t.match(out, /to fix: sign the model/);
  // Other commits may land while the demo runs: only the form of the commit is checked.
  if (readGitCheckout(REPO) !== undefined) t.match(out, /source: \S+ at commit [0-9a-f]{40}/);

  const digest = /^3\. modelgate push .* → (sha256:[0-9a-f]{64})$/m.exec(out)?.[1];
  t.ok(digest, 'pushed digest printed');
  const layout = join(cwd, 'demo-out/layout');
  t.equal((await new LayoutStore(layout).resolve('v1')).digest, digest, 'the layout tag names the pushed model');
  t.equal((await new LayoutStore(layout).listReferrers(digest as never)).length, 4, 'signature, provenance, evaluation and SBOM are referrers');
  const receipt = JSON.parse(readFileSync(join(cwd, 'demo-out/mnt/models/.modelgate/receipt.json'), 'utf8')) as Receipt;
  t.equal(receipt.digest, digest);
  t.equal(receipt.decision, 'allow');
  t.same(receipt.evidence.predicateTypes, ['https://cyclonedx.org/bom', 'https://modelgate.dev/evaluation/v1', 'https://slsa.dev/provenance/v1'], 'the policy data requires all three');
  t.same(readFileSync(join(cwd, 'demo-out/mnt/models/model.safetensors')), readFileSync(join(cwd, 'demo-out/model/model.safetensors')));
  t.notOk(existsSync(join(cwd, 'demo-out/mnt/tampered')), 'the tampered blob published nothing');
  t.match(out, /^Done in \d+\.\d s \(keygen/m);

  // The commands the demo prints run as printed, in a shell with the user's PATH (the system Node and
  // npm, without the pinned Node 24 that `npm test` puts first): npx runs the bin on Node 24.
  const printed = out.slice(out.indexOf('Try it yourself:')).split('\n').slice(1).filter((l) => l.startsWith('  ')).map((l) => l.trim());
  t.same(printed.map((l) => l.split(' ').slice(0, 3).join(' ')), ['npx modelgate verify', 'npx modelgate inspect'], 'it prints npx commands');
  const [verify, inspect] = await Promise.all(printed.map((line) => runInUserShell(line, cwd)));
  t.equal(verify!.code, 0, verify!.stdout + verify!.stderr);
  t.match(verify!.stdout, /VERDICT +allow/);
  t.equal(inspect!.code, 0, inspect!.stdout + inspect!.stderr);
  t.match(inspect!.stdout, digest!);
});

t.test('the runnable blocks of README and docs run verbatim after npm run demo, on the system Node via npx', async (t) => {
  if (defaultSettled.status === 'rejected') throw defaultSettled.reason;
  t.equal(defaultSettled.value.code, 0, 'the demo ran');
  const runnable = docBlocks().filter((b) => b.marker === 'runnable');
  t.ok(runnable.length > 0, 'some blocks are runnable');
  for (const b of runnable) {
    const result = await runInUserShell(b.text, cwd);
    t.equal(result.code, 0, `${where(b)} exits 0: ${result.stderr}`);
    t.not(result.stdout.trim(), '', `${where(b)} prints its answer`);
    t.notMatch(result.stderr, /SyntaxError|does not provide an export/, `${where(b)}: runs on Node 24 whatever the system Node`);
  }
});

t.test('npm run demo -- --registry: the same against a registry, from a source tree outside git', async (t) => {
  if (registrySettled.status === 'rejected') throw registrySettled.reason;
  const { result, out } = registrySettled.value;
  t.match(out, `on the registry oci://${registry.host}/team/demo-model`);
  t.match(out, /not inside a git checkout, so the provenance records no commit/);
  t.match(out, /→ allowed in/);
  t.equal((out.match(/→ denied \(403\)/g) ?? []).length, 3);
  t.match(out, /^ +DATASET_UNSIGNED: .*training dataset oci:\/\/\S+\/team\/demo-dataset@sha256:[0-9a-f]{12}… has no signature or attestation by a trusted signer/m, 'the model trained on the unsigned dataset is denied');
  t.match(out, /the tampered copy\) → refused, exit 1: (?:[A-Z_]+, )*UNSIGNED/);
  const store = new RegistryStore({ registry: registry.host, repository: 'team/demo-model' });
  t.equal((await store.resolve('v1')).digest, result.digest);
  t.equal(result.storageUri, `modelgate+oci://${registry.host}/team/demo-model@${result.digest}`);
  const receipt = JSON.parse(readFileSync(result.receiptPath, 'utf8')) as Receipt & { exceptions: Array<{ id: string; waived: string[] }> };
  t.equal(receipt.digest, result.digest);
  t.same(receipt.exceptions.map((e) => [e.id, e.waived]), [['demo-no-git-checkout', ['SOURCE_NOT_ALLOWLISTED']]], 'the missing source is waived by a named exception, and the receipt says so');
});

t.test('bad arguments exit 2; a failed expectation exits 1', async (t) => {
  const cwd = t.testdir();
  const [usage, failed] = await Promise.all([demo(cwd, ['--bogus']), demo(cwd, ['--registry', 'not a registry'])]);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /^usage: npm run demo/);
  t.equal(failed.code, 1);
  t.match(failed.stderr, /^demo failed: --registry "not a registry"/);
});
