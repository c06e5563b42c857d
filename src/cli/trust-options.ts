/**
 * Command-line access to Sigstore trust material for the verify commands that are not the pipeline
 * (`verify-signatures`, `verify-image`, `verify-artifact`, `verify-bundle`, `verify-model`,
 * `attest evaluate`).
 *
 * Owns: declaring the trust settings on such a command and `resolveTrust`. Both go through the one
 * settings table and loader (`src/config/`): flags, then `MODELGATE_*` environment, then defaults.
 * Failing to obtain trust is an error (TRUST_UNAVAILABLE, exit 2), never a silent pass.
 */
import type { Command } from 'commander';
import { declareSettings } from '../config/settings.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';

export interface TrustCliOptions {
  readonly trustedRoot?: string;
  readonly staging?: boolean;
  readonly tufMirror?: string;
  readonly tufRoot?: string;
  readonly tufCache?: string;
  readonly tufTimeout?: string;
}

/** Add the trust settings to a command. */
export function addTrustOptions(command: Command): Command {
  return declareSettings(command, ['trust']);
}

/** Load trust material as the options (then the environment, then the defaults) say: a trust root is always obtained. */
export async function resolveTrust(options: TrustCliOptions): Promise<TrustMaterial> {
  const [{ readTrustSettings }, { loadTrust }] = await Promise.all([import('../config/read.ts'), import('../config/load.ts')]);
  return loadTrust(readTrustSettings(options));
}
