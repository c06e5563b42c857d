/**
 * Terminal behaviour, under a real pseudo-terminal (util-linux `script`): the passphrase prompt reads
 * with echo off and asks twice when creating a key; the dataset progress line appears on a terminal
 * (and, per manifest.test.ts, never on a pipe).
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSigningKey } from '../../src/sign/keys.ts';

const ROOT = join(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const MAIN = join(ROOT, 'src/cli/main.ts');

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * Run the CLI on a pty; each time the output so far matches `answers[i].when`, type `answers[i].type`.
 * Resolves with everything the terminal showed and the exit status (`script -e` passes it through).
 */
function runOnTerminal(args: string[], answers: { when: RegExp; type: string }[]): Promise<{ code: number; screen: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'dumb' };
  delete env.MODELGATE_PASSWORD;
  const child = spawn('script', ['-q', '-e', '-c', [NODE, MAIN, ...args].map(quote).join(' '), '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let next = 0;
  const onOutput = (chunk: Buffer): void => {
    screen += chunk.toString('utf8');
    const answer = answers[next];
    if (answer !== undefined && answer.when.test(screen.slice(screen.lastIndexOf('\n', screen.length - 2) + 1))) {
      next++;
      child.stdin.write(answer.type);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, screen })));
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-tty-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('keygen prompts twice with echo off (even for type-ahead) and the key opens with that passphrase', async (t) => {
  const dir = tempDir(t);
  const prefix = join(dir, 'typed');
  const secret = 'typed-secret-42';
  const run = await runOnTerminal(['keygen', '--output-key-prefix', prefix], [
    // Both answers typed ahead at once: the second must not be echoed either.
    { when: /Enter passphrase for .*typed\.key: $/, type: `${secret}\r${secret}\r` },
  ]);
  t.equal(run.code, 0, run.screen);
  t.notOk(run.screen.includes(secret), 'the passphrase is never echoed');
  t.match(run.screen, /Private key written to/);
  const key = await loadSigningKey(`${prefix}.key`, secret);
  t.equal(key.asymmetricKeyType, 'ec');
});

t.test('a mistyped confirmation fails closed; backspace edits the passphrase', async (t) => {
  const dir = tempDir(t);
  const mismatch = await runOnTerminal(['keygen', '--output-key-prefix', join(dir, 'm')], [
    { when: /Enter passphrase for .*: $/, type: 'one\r' },
    { when: /Enter passphrase again: $/, type: 'two\r' },
  ]);
  t.equal(mismatch.code, 2);
  t.match(mismatch.screen, /modelgate: PASSPHRASE: the two passphrases do not match/);

  const edited = await runOnTerminal(['keygen', '--output-key-prefix', join(dir, 'e')], [
    { when: /Enter passphrase for .*: $/, type: 'abX\u007fc\r' },
    { when: /Enter passphrase again: $/, type: 'abc\r' },
  ]);
  t.equal(edited.code, 0, edited.screen);
  await loadSigningKey(join(dir, 'e.key'), 'abc');
});

t.test('dataset manifest shows progress on a terminal', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data/x.bin'), Buffer.alloc(4096, 7));
  const run = await runOnTerminal(['dataset', 'manifest', join(dir, 'data'), '--output-file', join(dir, 'm.json')], []);
  t.equal(run.code, 0, run.screen);
  t.match(run.screen, /hashing: 0\.0 \/ 0\.0 MiB \(100%\)/);
  t.match(run.screen, /1 files, 4096 bytes, root sha256:/);
});
