// Every shell block of README.md, docs/ and the chart README runs as printed, or says why not. The
// convention (README "Set-up"), by the fence's info string:
//   ```sh runnable            run verbatim, with the user's PATH (system Node and npm), in a directory
//                             inside the checkout where `npm run demo` has just run; must exit 0.
//                             test/demo/demo.test.ts runs them after its own demo run (the demo runs
//                             once in the suite).
//   ```sh synopsis            a usage summary with placeholders: each `modelgate SUBCOMMAND` in it must
//                             exist (`--help` exits 0) and each `--flag` after it be in its --help.
//   ```sh covered-by=TEST     needs a registry, a cluster or a release: TEST (an existing test file)
//                             runs it.
// A `sh` block with none of these fails, so blocks added later are picked up.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { docBlocks, where } from './helpers/doc-blocks.ts';
import { REPO } from './helpers/run-cli.ts';

const blocks = docBlocks();

const NODE = join(REPO, 'node_modules/.bin/node');

function run(file: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

t.test('every shell block is marked runnable, synopsis or covered-by an existing test', async (t) => {
  t.ok(blocks.length >= 20, `${blocks.length} shell blocks found`);
  for (const b of blocks) {
    const covered = /^covered-by=(\S+)$/.exec(b.marker);
    if (covered) {
      for (const test of covered[1]!.split(',')) t.ok(existsSync(join(REPO, test)) && test.endsWith('.test.ts'), `${where(b)}: ${test} exists`);
    } else {
      t.ok(b.marker === 'runnable' || b.marker === 'synopsis', `${where(b)}: marked runnable, synopsis or covered-by=TEST (is "${b.marker}")`);
    }
  }
});

t.test('synopsis blocks: every command exists and every --flag is in its --help', async (t) => {
  const helpOf = new Map<string, Promise<{ code: number; stdout: string; stderr: string }>>();
  const help = (words: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const key = words.join(' ');
    let answer = helpOf.get(key);
    if (answer === undefined) helpOf.set(key, (answer = run(NODE, [join(REPO, 'dist/cli/main.js'), ...words, '--help'], REPO)));
    return answer;
  };
  const checks: Array<Promise<void>> = [];
  for (const b of blocks.filter((b) => b.marker === 'synopsis')) {
    // One command per line; continuation lines belong to the line above; after ` -- ` comes the
    // user's own command (attest run/evaluate), whose flags are not modelgate's.
    const commands = b.text.replace(/\\\n/g, ' ').split('\n').map((l) => l.replace(/#.*$/, '').replace(/\s\[?--\s.*$/, '').trim()).filter((l) => l !== '');
    for (const command of commands) {
      const words = command.split(/\s+/);
      const at = words.indexOf('modelgate');
      if (at < 0) {
        t.fail(`${where(b)}: a synopsis line that is no modelgate command: ${command}`);
        continue;
      }
      const sub: string[] = [];
      for (const w of words.slice(at + 1)) {
        if (!/^[a-z][a-z-]*$/.test(w) || sub.length === 2) break;
        sub.push(w);
      }
      checks.push(
        (async () => {
          // `dataset manifest DIR`: the second word is a subcommand only if the first has subcommands.
          let result = await help(sub);
          if (result.code !== 0 && sub.length === 2) result = await help((sub.pop(), sub));
          t.equal(result.code, 0, `${where(b)}: modelgate ${sub.join(' ')} exists`);
          const flags = [...command.matchAll(/(?:^|[\s[(|])(--[a-z][a-z0-9_-]*)/g)].map((m) => m[1]!);
          for (const flag of new Set(flags)) t.match(result.stdout, new RegExp(`${flag}(?![a-z0-9_-])`), `${where(b)}: modelgate ${sub.join(' ')} ${flag} is in --help`);
        })(),
      );
    }
  }
  await Promise.all(checks);
});

t.test('runnable blocks exist; test/demo/demo.test.ts runs them after its npm run demo', async (t) => {
  t.ok(blocks.some((b) => b.marker === 'runnable'), 'some blocks are runnable');
  t.match(readFileSync(join(REPO, 'test/demo/demo.test.ts'), 'utf8'), /docBlocks\(\)\.filter\(\(b\) => b\.marker === 'runnable'\)/, 'the demo test runs every runnable block');
});
