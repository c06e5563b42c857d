/**
 * The consistent CLI surface: every command that prints a result takes `-o/--output text|json`
 * (older `table`/`tree` and `--json` spellings keep working), and a usage error is one line on
 * stderr, never the help. Real subprocesses of the CLI; `verify` runs on a location that needs no
 * registry (an s3:// URI, which the shipped policy denies as unverifiable).
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, runCli, type CliResult } from '../helpers/run-cli.ts';

/** The CLI with an environment that has no credentials or passphrases of the machine. */
const cli = (args: string[]): Promise<CliResult> => runCli(args, { env: { PATH: process.env.PATH ?? '', HOME: t.testdirName } });

const RESULT_COMMANDS = [
  ['verify'],
  ['explain'],
  ['inspect'],
  ['verify-signatures'],
  ['verify-bundle'],
  ['verify-model', 'key'],
  ['verify-model', 'certificate'],
  ['verify-model', 'sigstore'],
  ['dataset', 'verify'],
  ['policy', 'eval'],
  ['keygen'],
  ['key', 'id'],
  ['resolve'],
  ['sign'],
  ['attest', 'attach'],
  ['sign-model', 'key'],
  ['sign-model', 'certificate'],
];

t.test('every command that prints a result documents -o, --output <format> (text or json)', async (t) => {
  for (const command of RESULT_COMMANDS) {
    const help = await cli([...command, '--help']);
    t.equal(help.code, 0, command.join(' '));
    t.match(help.stdout, /^ {2}-o, --output <format> +output format: text/m, `${command.join(' ')} --help lists -o`);
  }
});

t.test('verify -o json (the spelling that was refused) prints the decision as JSON; table is still text', async (t) => {
  const json = await cli(['verify', 's3://acme-models/llama', '-o', 'json']);
  t.equal(json.code, 1, json.stderr);
  t.match(JSON.parse(json.stdout), { reference: 's3://acme-models/llama', outcome: 'deny', reasons: [{ code: 'UNVERIFIABLE_LOCATION' }] });
  const table = await cli(['verify', 's3://acme-models/llama', '--output', 'table']);
  t.equal(table.code, 1);
  t.match(table.stdout, /^VERDICT +deny$/m);
});

t.test('a usage error is one line on stderr, exit 2, without the help', async (t) => {
  const unknown = await cli(['verify', 's3://acme-models/llama', '--bogus']);
  t.same([unknown.code, unknown.stdout, unknown.stderr], [2, '', "error: unknown option '--bogus' (see --help)\n"]);
  const suggested = await cli(['verify', 's3://acme-models/llama', '--outptu', 'json']);
  t.same([suggested.code, suggested.stderr], [2, "error: unknown option '--outptu' (Did you mean --output?) (see --help)\n"]);
  const badFormat = await cli(['inspect', 'oci-layout://x', '-o', 'yaml']);
  t.same([badFormat.code, badFormat.stderr], [2, 'error: option \'-o, --output <format>\' argument \'yaml\' is invalid. expected text or json, got "yaml". (see --help)\n']);
  const missing = await cli(['verify']);
  t.same([missing.code, missing.stderr], [2, "error: missing required argument 'reference' (see --help)\n"]);
  const typo = await cli(['verfy', 'x']);
  t.same([typo.code, typo.stderr], [2, "error: unknown command 'verfy' (Did you mean verify?) (see --help)\n"]);
});

t.test('dataset verify: --json stays an alias of -o json', async (t) => {
  const root = t.testdir({ data: { 'a.txt': 'a' } });
  const dir = join(root, 'data');
  const manifest = join(root, 'manifest.json');
  t.equal((await cli(['dataset', 'manifest', dir, '--output-file', manifest])).code, 0);
  writeFileSync(join(dir, 'b.txt'), 'b');
  const viaJson = await cli(['dataset', 'verify', dir, manifest, '--json']);
  const viaOutput = await cli(['dataset', 'verify', dir, manifest, '-o', 'json']);
  t.equal(viaJson.code, 1);
  t.same(JSON.parse(viaJson.stdout), JSON.parse(viaOutput.stdout));
  t.match(JSON.parse(viaOutput.stdout), [{ kind: 'added', path: 'b.txt' }]);
  const text = await cli(['dataset', 'verify', dir, manifest]);
  t.notOk(text.stdout.trimStart().startsWith('['), 'text by default');
});

t.test('digest-printing commands: -o json gives an object', async (t) => {
  // A third-party OCI layout (read, never copied) for resolve.
  const vectors = join(REPO, '../shared/vectors/slsa-verifier/gha_generic_container/v2.1.0');
  const digest = readFileSync(join(vectors, 'container_workflow_dispatch.digest'), 'utf8').trim();
  const reference = `oci-layout://${join(vectors, 'container_workflow_dispatch')}@${digest}`;
  const resolved = await cli(['resolve', reference, '-o', 'json']);
  t.equal(resolved.code, 0, resolved.stderr);
  t.same(JSON.parse(resolved.stdout), { reference, digest });

  const root = t.testdir({ model: { 'weights.bin': 'w', 'config.json': '{}' } });
  writeFileSync(join(root, 'key.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const text = await cli(['sign-model', 'key', join(root, 'model'), '--private-key', join(root, 'key.pem'), '--signature', join(root, 'text.sig')]);
  t.equal(text.code, 0, text.stderr);
  const json = await cli(['sign-model', 'key', join(root, 'model'), '--private-key', join(root, 'key.pem'), '--signature', join(root, 'model.sig'), '-o', 'json']);
  t.equal(json.code, 0, json.stderr);
  t.same(JSON.parse(json.stdout), { rootDigest: text.stdout.trim(), signature: join(root, 'model.sig'), files: 2 });
});
