/**
 * Start-up stays cheap: `--version`, `--help` and a bare `modelgate` load no command module and none
 * of the heavy libraries (the top-level help comes from the table in src/cli/commands.ts), and that
 * table lists exactly what the command modules register, so the help is the same either way.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Help } from 'commander';
import { buildProgram } from '../../src/cli/main.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { REPO, runCli } from '../helpers/run-cli.ts';

const HEAVY = ['@sigstore/', '@kubernetes/client-node', '@open-policy-agent/opa-wasm', 'fastify', 'undici', 'pino', 'yaml', 'node-forge', 'ajv', 'tar', 'prom-client'];
const HOOK = pathToFileURL(join(REPO, 'test/helpers/record-module-loads.ts')).href;

t.test('the help table matches the command modules, and the top-level help is the same', async (t) => {
  const full = await buildProgram(['help']); // an unknown command name: every module registers
  const help = new Help();
  t.same(
    COMMANDS.map((c) => [c.name, `${c.name}${c.args}`, c.summary]),
    full.commands.map((c) => [c.name(), help.subcommandTerm(c), help.subcommandDescription(c)]),
  );
  const fromTable = await buildProgram(['--help']);
  t.equal(fromTable.helpInformation(), full.helpInformation());
});

/** Run the CLI under the module-recording hook; returns the package names and src/cli file names it loaded. */
async function loadedBy(t: Test, args: readonly string[]): Promise<{ packages: string[]; cliModules: string[] }> {
  const log = join(t.testdir({ data: { 'a.txt': 'a\n' } }), 'modules.txt');
  const result = await runCli(args.map((arg) => arg.replace('$DIR', join(t.testdirName, 'data'))), { env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: `--import=${HOOK}`, MODELGATE_TEST_MODULE_LOG: log } });
  t.equal(result.code, 0, result.stderr);
  const urls = readFileSync(log, 'utf8').split('\n');
  t.ok(urls.some((url) => url.endsWith('/src/cli/main.ts')), 'the hook saw the modules');
  return {
    packages: [...new Set(urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []))],
    cliModules: urls.filter((url) => url.includes('/src/cli/')).map((url) => url.slice(url.lastIndexOf('/') + 1)),
  };
}

const heavy = (packages: readonly string[]): string[] => packages.filter((name) => HEAVY.some((prefix) => name.startsWith(prefix)));

for (const args of [['--version'], ['--help']]) {
  t.test(`modelgate ${args.join(' ')} loads no command module and no heavy library`, async (t) => {
    const { packages, cliModules } = await loadedBy(t, args);
    t.same(heavy(packages), [], 'no heavy package');
    t.same(cliModules.filter((name) => name !== 'main.ts' && name !== 'commands.ts'), [], 'no command module');
  });
}

t.test('modelgate dataset manifest loads no signing, registry or schema library', async (t) => {
  const { packages } = await loadedBy(t, ['dataset', 'manifest', '$DIR']);
  t.same(heavy(packages), [], 'no heavy package');
});
