/**
 * Start-up stays cheap: `--version`, `--help` and a bare `modelgate` load no command module and none
 * of the heavy libraries (the top-level help comes from the table in src/cli/commands.ts), and that
 * table lists exactly what the command modules register, so the help is the same either way.
 */
import t from 'tap';
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

for (const args of [['--version'], ['--help']]) {
  t.test(`modelgate ${args.join(' ')} loads no command module and no heavy library`, async (t) => {
    const log = join(t.testdir({}), 'modules.txt');
    const result = await runCli(args, { env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: `--import=${HOOK}`, MODELGATE_TEST_MODULE_LOG: log } });
    t.equal(result.code, 0, result.stderr);
    const urls = readFileSync(log, 'utf8').split('\n');
    t.ok(urls.some((url) => url.endsWith('/src/cli/main.ts')), 'the hook saw the modules');
    const packages = new Set(urls.flatMap((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));
    t.same([...packages].filter((name) => HEAVY.some((heavy) => name.startsWith(heavy))), [], 'no heavy package');
    const cliModules = urls.filter((url) => url.includes('/src/cli/')).map((url) => url.slice(url.lastIndexOf('/') + 1));
    t.same(cliModules.filter((name) => name !== 'main.ts' && name !== 'commands.ts'), [], 'no command module');
  });
}
