/**
 * Command-line access to Sigstore trust material, shared by every verifying command.
 *
 * Owns: the `--trusted-root`, `--staging` and `--tuf-*` options and turning them into a
 * `TrustMaterial`: a local `trusted_root.json` when given (air-gapped), otherwise the Sigstore
 * public-good (or staging) root through TUF with a local cache. Failing to obtain trust is an error
 * (TRUST_UNAVAILABLE, exit 2), never a silent pass.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { loadTrustedRootFile, loadTrustedRootTuf, PUBLIC_GOOD_TUF_MIRROR, STAGING_TUF_MIRROR, type TrustMaterial } from '../sigstore/trust.ts';

export interface TrustCliOptions {
  readonly trustedRoot?: string;
  readonly staging?: boolean;
  readonly tufMirror?: string;
  readonly tufRoot?: string;
  readonly tufCache?: string;
  readonly tufTimeout?: string;
}

/** Add the trust options to a command. */
export function addTrustOptions(command: Command): Command {
  return command
    .option('--staging', 'use the Sigstore staging instance (its TUF mirror) instead of public-good')
    .option('--trusted-root <file>', 'Sigstore trusted_root.json to verify against (no network); default: the public-good root via TUF')
    .option('--tuf-mirror <url>', `TUF repository to fetch trusted_root.json from (default ${PUBLIC_GOOD_TUF_MIRROR})`)
    .option('--tuf-root <file>', 'initial TUF root.json for the mirror (needed for any mirror but public-good)')
    .option('--tuf-cache <dir>', 'TUF cache directory (default $MODELGATE_TUF_CACHE, else ~/.cache/modelgate/tuf)')
    .option('--tuf-timeout <ms>', 'deadline for fetching TUF metadata', '20000');
}

export function defaultTufCachePath(): string {
  const fromEnv = process.env.MODELGATE_TUF_CACHE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const base = process.env.XDG_CACHE_HOME !== undefined && process.env.XDG_CACHE_HOME !== '' ? process.env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'modelgate', 'tuf');
}

/** Load trust material as the options say. */
export async function resolveTrust(options: TrustCliOptions): Promise<TrustMaterial> {
  if (options.trustedRoot !== undefined) {
    if (options.staging || options.tufMirror !== undefined || options.tufRoot !== undefined) {
      throw new UsageError('USAGE', '--trusted-root cannot be combined with --staging or --tuf-mirror/--tuf-root');
    }
    return loadTrustedRootFile(options.trustedRoot);
  }
  const timeoutMs = Number(options.tufTimeout ?? '20000');
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('USAGE', `--tuf-timeout must be a positive number of milliseconds, got ${options.tufTimeout}`);
  const mirrorURL = options.tufMirror ?? (options.staging ? STAGING_TUF_MIRROR : PUBLIC_GOOD_TUF_MIRROR);
  return loadTrustedRootTuf({
    mirrorURL,
    cachePath: options.tufCache ?? defaultTufCachePath(),
    ...(options.tufRoot === undefined ? {} : { rootPath: options.tufRoot }),
    timeoutMs,
  });
}
