/**
 * The consistent CLI surface: every command that prints a result takes `-o/--output text|json`
 * (older `table`/`tree` and `--json` spellings keep working), and a usage error is one line on
 * stderr, never the help. Real subprocesses of the CLI; `verify` runs on a location that needs no
 * registry (an s3:// URI, which the shipped policy denies as unverifiable).
 */
import t from 'tap';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
  ['push'],
  ['dataset', 'manifest'],
  ['dataset', 'prove'],
  ['dataset', 'sign'],
  ['dataset', 'attest'],
  ['dataset', 'push'],
  ['attest', 'run'],
  ['attest', 'evaluate'],
];

/** The commands whose `-o FILE` became `--output-file FILE`. */
const FILE_WRITING_COMMANDS = [['dataset', 'manifest'], ['dataset', 'attest'], ['attest', 'evaluate']];

t.test('every command that prints a result documents -o, --output <format> (text or json)', async (t) => {
  for (const command of RESULT_COMMANDS) {
    const help = await cli([...command, '--help']);
    t.equal(help.code, 0, command.join(' '));
    t.match(help.stdout, /^ {2}-o, --output <format> +output format: text/m, `${command.join(' ')} --help lists -o`);
  }
  for (const command of FILE_WRITING_COMMANDS) {
    t.match((await cli([...command, '--help'])).stdout, /^ {2}--output-file <file> +/m, `${command.join(' ')} --help lists --output-file`);
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

t.test('-o FILE on a file-writing command is a usage error naming --output-file, and writes nothing', async (t) => {
  const root = t.testdir({ data: { 'a.txt': 'a' }, model: { 'w.bin': 'w' }, 'metrics.json': '{"accuracy": 0.9}' });
  const out = join(root, 'out.json');
  const runs = await Promise.all([
    cli(['dataset', 'manifest', join(root, 'data'), '-o', out]),
    cli(['dataset', 'attest', join(root, 'data'), '--key', join(root, 'none.pem'), '-o', out]),
    cli(['attest', 'evaluate', '--model', join(root, 'model'), '--metrics', join(root, 'metrics.json'), '--key', join(root, 'none.pem'), '-o', out]),
  ]);
  for (const run of runs) {
    t.same([run.code, run.stdout], [2, '']);
    t.equal(run.stderr, `error: option '-o, --output <format>' argument '${out}' is invalid. expected text or json, got ${JSON.stringify(out)}; to write to a file, use --output-file ${out}. (see --help)\n`);
  }
  t.notOk(existsSync(out), 'not taken as a file');
});

t.test('the emitter commands: -o json prints one JSON object with the facts of the text output', async (t) => {
  const root = t.testdir({ data: { 'a.txt': 'a', 'b.txt': 'bb' }, model: { 'weights.bin': 'w', 'config.json': '{}' }, 'metrics.json': '{"accuracy": 0.9, "loss": 0.25}' });
  const key = join(root, 'key.pem');
  writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  /** Run with `-o json` (before a `--` command) and parse stdout, which must be one JSON document on one line. */
  const json = async (args: string[]): Promise<Record<string, unknown>> => {
    const end = args.includes('--') ? args.indexOf('--') : args.length;
    const run = await cli([...args.slice(0, end), '-o', 'json', ...args.slice(end)]);
    t.equal(run.code, 0, `${args.slice(0, 2).join(' ')}: ${run.stderr}`);
    t.notOk(run.stdout.trimEnd().includes('\n'), `${args.slice(0, 2).join(' ')}: one line`);
    return JSON.parse(run.stdout) as Record<string, unknown>;
  };

  const manifest = join(root, 'dataset.json');
  const made = await json(['dataset', 'manifest', join(root, 'data'), '--output-file', manifest]);
  const manifestDigest = `sha256:${createHash('sha256').update(readFileSync(manifest)).digest('hex')}`;
  const { merkleRoot } = JSON.parse(readFileSync(manifest, 'utf8')) as { merkleRoot: string };
  t.same(made, { outputFile: manifest, fileCount: 2, totalSize: 3, merkleRoot, digest: manifestDigest });
  t.same(await json(['dataset', 'manifest', join(root, 'data')]), JSON.parse(readFileSync(manifest, 'utf8')), 'to stdout: the manifest itself');

  const proofText = await cli(['dataset', 'prove', manifest, 'a.txt']);
  t.same(await json(['dataset', 'prove', manifest, 'a.txt']), JSON.parse(proofText.stdout), 'prove: the same proof');

  t.same(await json(['dataset', 'sign', manifest, '--key', key]), { bundle: `${manifest}.sigstore.json`, manifest, digest: manifestDigest });
  const attestation = join(root, 'dataset.att.json');
  const attested = await json(['dataset', 'attest', '--manifest', manifest, '--key', key, '--output-file', attestation]);
  t.match(attested, { bundle: attestation, subjects: [{ name: 'dataset.json', digest: manifestDigest }, { name: 'dataset.json#oci-artifact', digest: /^sha256:[0-9a-f]{64}$/ }] });
  t.ok(existsSync(attestation));

  const layout = join(root, 'layout');
  const pushedDataset = await json(['dataset', 'push', manifest, `oci-layout://${layout}:dataset`, '--bundle', attestation]);
  const artifactDigest = (attested.subjects as { digest: string }[])[1]!.digest;
  t.match(pushedDataset, { reference: `oci-layout://${layout}:dataset@${artifactDigest}`, digest: artifactDigest, referrers: [{ bundle: attestation, digest: /^sha256:[0-9a-f]{64}$/ }] });

  const pushed = await json(['push', join(root, 'model'), `oci-layout://${layout}:model`]);
  t.match(pushed, { reference: `oci-layout://${layout}:model@${pushed.digest as string}`, digest: /^sha256:[0-9a-f]{64}$/, files: 2 });

  const outputs = join(root, 'run-out');
  const write = `require('fs').mkdirSync(${JSON.stringify(outputs)},{recursive:true});require('fs').writeFileSync(${JSON.stringify(join(outputs, 'w.bin'))},'w')`;
  const ran = await json(['attest', 'run', '--outputs', outputs, '--key', key, '--builder-id', 'https://ci.example.com/builder', '--source', root, '--', process.execPath, '-e', write]);
  t.same(ran, { bundle: `${outputs}.provenance.sigstore.json`, outputFiles: 1 });

  const evaluated = await json(['attest', 'evaluate', '--model', join(root, 'model'), '--metrics', join(root, 'metrics.json'), '--key', key, '--source', root, '--output-file', join(root, 'eval.json')]);
  t.same(evaluated, { bundle: join(root, 'eval.json'), metrics: { accuracy: 0.9, loss: 0.25 }, result: 'PASSED' });
});
