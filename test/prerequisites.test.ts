// `npm ci && npm test` does all the set-up: the pretest step checks (and, as root, installs) every
// system tool the tests start. Proved here: every executable the tests and the code they run start by
// name or path is in that list; a missing one fails at once with the exact command; `.ci/run` is
// nothing but the README command plus its summary.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { installCommand, SYSTEM_TOOLS } from '../scripts/test-prerequisites.ts';

const REPO = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(REPO, dir, f));
}

/** Executables started by name (`execFileSync('git'`, `spawn('openssl'`…) or by absolute path. */
function startedExecutables(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of [...sources('test'), ...sources('src')]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\b(?:execFileSync|execFile|spawnSync|spawn)\(\s*'([a-z0-9_.-]+)'/g)) found.set(m[1]!, file);
    for (const m of text.matchAll(/'(\/usr\/bin\/[a-z0-9_.-]+)'/g)) found.set(m[1]!, file);
  }
  return found;
}

// Started by the tests but shipped by npm (the pinned Node 24 and its npm, on PATH under `npm test`).
const FROM_NPM = new Set(['node', 'npm', 'npx']);

t.test('every system tool the tests start is checked by the pretest step', async (t) => {
  const listed = new Set(SYSTEM_TOOLS.flatMap((tool) => [tool.path, tool.path.split('/').at(-1)!]));
  const started = startedExecutables();
  t.ok(started.size > 3, 'the scan finds the executables the tests start');
  for (const [executable, file] of started) {
    if (FROM_NPM.has(executable)) continue;
    t.ok(listed.has(executable), `${executable} (started in ${file.slice(REPO.length + 1)}) is in scripts/test-prerequisites.ts`);
  }
  for (const name of ['docker-registry', 'chromium', 'bubblewrap']) {
    t.ok(SYSTEM_TOOLS.some((tool) => tool.debianPackage === name), `${name} is installed by the pretest step`);
  }
  t.notOk(SYSTEM_TOOLS.some((tool) => tool.debianPackage === 'apache2-utils'), 'htpasswd is not needed: bcryptjs writes the registry users');
});

t.test('npm test runs the check first', async (t) => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.match(pkg.scripts['pretest'], /^node scripts\/test-prerequisites\.ts && /);
});

t.test('a missing tool fails at once with the exact command to run', async (t) => {
  const script = [
    "import { ensurePrerequisites } from './scripts/test-prerequisites.ts';",
    "process.exitCode = ensurePrerequisites([{ path: '/nonexistent/frobnicate', debianPackage: 'frobnicate', why: 'a test' }], { MODELGATE_TEST_PREREQUISITES: 'check' });",
  ].join('\n');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  t.equal(run.status, 1);
  const root = process.getuid?.() === 0;
  const command = installCommand([{ path: '/nonexistent/frobnicate', debianPackage: 'frobnicate', why: '' }], root);
  t.equal(command, `${root ? '' : 'sudo '}apt-get update && ${root ? '' : 'sudo '}DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends frobnicate`);
  t.match(run.stderr, '/nonexistent/frobnicate (Debian package frobnicate): a test');
  t.match(run.stderr, `Install them with:\n  ${command}\n`);
});

t.test('.ci/run runs exactly the README test command', async (t) => {
  const ci = readFileSync(join(REPO, '.ci/run'), 'utf8');
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  t.match(readme, /```sh[^\n]*\nnpm ci && npm test\n```/);
  t.notMatch(ci, /apt-get/, 'no set-up of its own: the pretest step installs what is missing');
  t.match(ci, /npm ci/);
  t.match(ci, /npm test/);
});

t.test('no test passes by skipping: no skip/todo options, t.skip, or "not run" passes', async (t) => {
  const offenders: string[] = [];
  for (const file of sources('test')) {
    const text = readFileSync(file, 'utf8');
    const patterns = [/\{\s*skip\s*:/, /\bt\.skip\(/, /\btodo\s*:/, /t\.pass\(\s*['"`]not run/];
    for (const pattern of patterns) if (pattern.test(text.replace(/\/\/.*$/gm, ''))) offenders.push(`${file.slice(REPO.length + 1)} (${pattern.source})`);
  }
  t.same(offenders.filter((o) => !o.startsWith('test/prerequisites.test.ts')), [], 'every test asserts on every machine (missing tools are installed by the pretest step)');
});
