/**
 * Part of `npm test`'s pretest: builds tap's plugin set when the one installed is not the one
 * package.json's `tap.plugin` asks for (always so right after `npm ci`).
 *
 * Owns: only that. Why it exists: tap notices a changed plugin list and rebuilds, but only for the
 * *next* run. The run that notices still starts every test file with the loaders of the installed
 * set, the TypeScript plugin's among them, which this project turns off (Node 24 strips the types):
 * on a fresh checkout that cost the whole suite about 95 s of its 10 minutes.
 */
import { execFileSync } from 'node:child_process';

// @tapjs/test imports @tapjs/core, which imports @tapjs/test back: loading core first settles the cycle.
await import('@tapjs/core');
const { signature: installed } = await import('@tapjs/test');
const { TapConfig } = await import('@tapjs/config');
const wanted = (await TapConfig.load()).pluginSignature;

if (installed !== wanted) {
  try {
    execFileSync('tap', ['build'], { stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    process.stderr.write(`${stdout ?? ''}${stderr ?? ''}tap-plugins: \`tap build\` failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
