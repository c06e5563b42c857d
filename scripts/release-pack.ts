/**
 * The build step of `npm run release`, run by `scripts/release.ts` under `modelgate attest run` so that
 * the npm tarball it writes is the subject of signed SLSA provenance.
 *
 * Owns: staging the package in a fresh temporary directory (compiled `dist/` — or a prebuilt one given
 * with `--dist`, which the release test uses — plus `policies/`, the compiled policy bundle
 * `build/policy/`, `package.json`, `README.md`) and
 * running `npm pack --ignore-scripts` there, so the tarball holds exactly the package's `files` and
 * never picks up anything else in the checkout. npm pack fixes entry times and order, so the same
 * inputs give the same tarball bytes.
 *
 * Usage: node scripts/release-pack.ts --dest DIR [--dist DIR]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const REPO = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { dest: { type: 'string' }, dist: { type: 'string' } } });
if (values.dest === undefined) throw new Error('usage: release-pack.ts --dest DIR [--dist DIR]');
const dest = resolve(values.dest);

const stage = mkdtempSync(join(tmpdir(), 'modelgate-release-stage-'));
try {
  if (values.dist !== undefined) {
    cpSync(resolve(values.dist), join(stage, 'dist'), { recursive: true });
  } else {
    execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { stdio: 'inherit' });
  }
  for (const entry of ['package.json', 'README.md', 'LICENSE', 'policies']) {
    if (existsSync(join(REPO, entry))) cpSync(join(REPO, entry), join(stage, entry), { recursive: true });
  }
  // The compiled policy bundle ships in the package, so `modelgate verify` works without --policy: built
  // here with the pinned opa (check, test, build), or the one `npm test` already built when --dist is given.
  if (values.dist !== undefined && existsSync(join(REPO, 'build/policy/manifest.json'))) {
    cpSync(join(REPO, 'build/policy'), join(stage, 'build/policy'), { recursive: true });
  } else {
    execFileSync(process.execPath, [join(REPO, 'src/cli/main.ts'), 'policy', 'build', '--out', join(stage, 'build/policy')], { stdio: ['ignore', process.stderr, 'inherit'] });
  }
  mkdirSync(dest, { recursive: true });
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dest], { cwd: stage, stdio: ['ignore', process.stderr, 'inherit'] });
} finally {
  rmSync(stage, { recursive: true, force: true });
}
