/**
 * `npm run release`: modelgate's own supply chain, built with modelgate's own tools.
 *
 * Owns the release layout (default `release-out/`, `--out DIR`):
 *   modelgate-<version>.tgz                          npm tarball (built by scripts/release-pack.ts)
 *   modelgate-<version>.tgz.provenance.sigstore.json SLSA Provenance v1 (DSSE bundle) from `modelgate attest run`:
 *                                                    the tarball is its subject; resolvedDependencies hold the git
 *                                                    commit and the package-lock.json digest
 *   modelgate.cdx.json                               CycloneDX SBOM of the production dependencies (`npm sbom --omit dev`)
 *   modelgate-image-context.tar                      what the Dockerfile's build stage copies (+ the Dockerfile)
 *   *.sigstore.json                                  blob signatures (Sigstore bundle v0.3) of tarball, SBOM and context
 *   modelgate-release.pub                            the public key everything verifies with
 *   SHA256SUMS                                       sha256sum -c compatible
 *
 * Key: `MODELGATE_RELEASE_KEY` (a modelgate/cosign key file; its passphrase from MODELGATE_PASSWORD or a
 * prompt), else an ephemeral key pair made by `modelgate keygen` with a random passphrase that never
 * leaves this process and its children; the private key is deleted afterwards.
 * Builder id: `MODELGATE_BUILDER_ID`, else `https://modelgate.dev/builders/local-release@v1`.
 * `--dist DIR` packages a prebuilt dist/ instead of compiling (the release test uses the one `npm test`
 * built). The modelgate CLI used is this checkout's (`src/cli/main.ts`).
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { create as createTar } from 'tar';
import { loadPrivateKeyFile } from '../src/cli/signing-key-option.ts';
import { writeFileAtomic } from '../src/fs/atomic-write.ts';
import { signBlobBundle } from '../src/sign/blob-bundle.ts';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'src/cli/main.ts');
const DEFAULT_BUILDER = 'https://modelgate.dev/builders/local-release@v1';

const { values } = parseArgs({ options: { out: { type: 'string', default: join(REPO, 'release-out') }, dist: { type: 'string' } } });
const out = resolve(values.out!);
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };
const started = performance.now();

function step(message: string): void {
  process.stderr.write(`release: ${message}\n`);
}

function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { cwd: REPO, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Source paths the Dockerfile's build stage copies from the context (`COPY` without `--from`). */
function dockerfileSources(dockerfile: string): string[] {
  const sources = new Set<string>();
  for (const line of dockerfile.replace(/\\\n/g, ' ').split('\n')) {
    const match = /^\s*COPY\s+(.*)$/i.exec(line);
    if (match === null || /--from=/.test(match[1]!)) continue;
    const words = match[1]!.trim().startsWith('[') ? (JSON.parse(match[1]!) as string[]) : match[1]!.trim().split(/\s+/).filter((w) => !w.startsWith('--'));
    for (const source of words.slice(0, -1)) sources.add(source.replace(/^\.\//, ''));
  }
  return [...sources].sort();
}

/** Tracked files under `paths` (git ls-files), sorted: the context holds what the commit holds, not stray files. */
function trackedFiles(paths: readonly string[]): string[] {
  return run('git', ['ls-files', '-z', '--', ...paths])
    .split('\0')
    .filter((f) => f !== '')
    .sort();
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const keyDir = mkdtempSync(join(tmpdir(), 'modelgate-release-key-'));
try {
  // 1. The signing key.
  let keyPath = process.env.MODELGATE_RELEASE_KEY;
  const publicKeyPath = join(out, 'modelgate-release.pub');
  if (keyPath !== undefined && keyPath !== '') {
    const key = await loadPrivateKeyFile(keyPath);
    writeFileSync(publicKeyPath, createPublicKey(key).export({ type: 'spki', format: 'pem' }));
    step(`signing with MODELGATE_RELEASE_KEY ${keyPath}`);
  } else {
    process.env.MODELGATE_PASSWORD = randomBytes(24).toString('base64url'); // seen by this process and its children only
    run(process.execPath, [CLI, 'keygen', '--output-key-prefix', join(keyDir, 'release')]);
    keyPath = join(keyDir, 'release.key');
    copyFileSync(join(keyDir, 'release.pub'), publicKeyPath);
    step('signing with an ephemeral key (modelgate keygen); set MODELGATE_RELEASE_KEY to use your own');
  }
  if (run('git', ['status', '--porcelain', '--untracked-files=no']).trim() !== '') step('warning: the working tree has uncommitted changes; the provenance records only the HEAD commit');

  // 2. The npm tarball, built under `modelgate attest run` (subject: the tarball; dependencies: git commit, lockfile).
  const tarballName = `${pkg.name}-${pkg.version}.tgz`;
  const packDir = join(out, 'npm');
  const provenancePath = join(out, `${tarballName}.provenance.sigstore.json`);
  const builderId = process.env.MODELGATE_BUILDER_ID !== undefined && process.env.MODELGATE_BUILDER_ID !== '' ? process.env.MODELGATE_BUILDER_ID : DEFAULT_BUILDER;
  run(
    process.execPath,
    [CLI, 'attest', 'run', '--outputs', packDir, '--key', keyPath, '--builder-id', builderId, '--source', REPO, '--bundle', provenancePath, '--',
      process.execPath, join(REPO, 'scripts/release-pack.ts'), '--dest', packDir, ...(values.dist !== undefined ? ['--dist', resolve(values.dist)] : [])],
  );
  const packed = readdirSync(packDir);
  if (packed.length !== 1 || packed[0] !== tarballName) throw new Error(`expected ${tarballName} in ${packDir}, found ${packed.join(', ')}`);
  const tarballPath = join(out, tarballName);
  copyFileSync(join(packDir, tarballName), tarballPath);
  rmSync(packDir, { recursive: true });
  step(`built ${tarballName} under attest run → ${basename(provenancePath)}`);

  // 3. The SBOM. npm names the root component after the directory; the package name is the right one.
  const sbom = JSON.parse(run('npm', ['sbom', '--sbom-format', 'cyclonedx', '--omit', 'dev'])) as { metadata?: { component?: { name?: string } } };
  if (sbom.metadata?.component !== undefined) sbom.metadata.component.name = pkg.name;
  const sbomPath = join(out, 'modelgate.cdx.json');
  await writeFileAtomic(sbomPath, `${JSON.stringify(sbom, null, 2)}\n`, { overwrite: true });
  step('wrote the CycloneDX SBOM (npm sbom --omit dev)');

  // 4. The image context: the Dockerfile and the tracked files its build stage copies, in sorted order with fixed times.
  const contextFiles = ['Dockerfile', ...trackedFiles(dockerfileSources(readFileSync(join(REPO, 'Dockerfile'), 'utf8')))];
  const contextPath = join(out, 'modelgate-image-context.tar');
  await createTar({ file: contextPath, cwd: REPO, portable: true, noDirRecurse: true, mtime: new Date(0) }, contextFiles);
  step(`wrote the image context (${contextFiles.length} files)`);

  // 5. Blob signatures, with modelgate's own signer.
  const key = await loadPrivateKeyFile(keyPath);
  const signed = [tarballPath, sbomPath, contextPath];
  for (const path of signed) await writeFileAtomic(`${path}.sigstore.json`, `${JSON.stringify(signBlobBundle(readFileSync(path), key))}\n`, { overwrite: true });
  step(`signed ${signed.map((p) => basename(p)).join(', ')}`);

  // 6. Checksums of everything published.
  const files = readdirSync(out).filter((f) => f !== 'SHA256SUMS').sort();
  writeFileSync(join(out, 'SHA256SUMS'), files.map((f) => `${sha256(readFileSync(join(out, f)))}  ${f}\n`).join(''));
  const fromCwd = relative(process.cwd(), out);
  const rel = fromCwd === '' ? '.' : fromCwd.startsWith('..') ? out : fromCwd;
  process.stdout.write(
    `Release ${pkg.name} ${pkg.version} in ${rel}/ (${((performance.now() - started) / 1000).toFixed(1)} s):\n` +
      files.map((f) => `  ${f}\n`).join('') +
      `Verify (verify-bundle also loads a Sigstore root: offline, add --trusted-root FILE):\n` +
      `  modelgate verify-bundle --bundle ${rel}/${tarballName}.sigstore.json --key ${rel}/modelgate-release.pub --tlog-threshold 0 ${rel}/${tarballName}\n` +
      `  modelgate verify-bundle --bundle ${rel}/${tarballName}.provenance.sigstore.json --key ${rel}/modelgate-release.pub --tlog-threshold 0 sha256:${sha256(readFileSync(tarballPath))}\n` +
      `  modelgate verify-bundle --bundle ${rel}/modelgate.cdx.json.sigstore.json --key ${rel}/modelgate-release.pub --tlog-threshold 0 ${rel}/modelgate.cdx.json\n`,
  );
} finally {
  rmSync(keyDir, { recursive: true, force: true });
}
