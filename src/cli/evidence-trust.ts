/**
 * Trust material for the single-evidence verify commands (`verify-bundle`, `verify-signatures`,
 * `verify-image`, `verify-artifact`), with cosign's `--offline` and `--insecure-ignore-tlog`.
 *
 * Owns: `addEvidenceTrustOptions` (the two cosign flags) and `trustForEvidence`: a Sigstore trusted
 * root is loaded only when the evidence or the thresholds need one — the rule of `verify`
 * (`needsSigstoreRoot`): a certificate identity, a transparency-log or TSA threshold, or explicit
 * trust options. Key-only evidence otherwise verifies with no root at all (no network). `--offline`
 * never touches the network: a root comes from `--trusted-root` or the local TUF cache, never a
 * mirror (cosign `--offline`); `--insecure-ignore-tlog` leaves log entries out (see `verifyBundle`).
 */
import type { Command } from 'commander';
import type { TrustMaterial } from '../sigstore/trust.ts';
import type { TrustCliOptions } from './trust-options.ts';

export interface EvidenceTrustCliOptions extends TrustCliOptions {
  readonly offline?: boolean;
  readonly insecureIgnoreTlog?: boolean;
}

export function addEvidenceTrustOptions(command: Command): Command {
  return command
    .option('--offline', 'never use the network for trust: --trusted-root or the cached TUF root only (cosign --offline)')
    .option('--insecure-ignore-tlog', 'ignore transparency-log entries: neither verified nor required (cosign --insecure-ignore-tlog)');
}

export interface EvidenceNeeds {
  /** Certificate identities the evidence must match (any: keyless evidence needs Fulcio and logs). */
  readonly identities: readonly unknown[];
  /** Verified log entries required of key-signed evidence (0 with `--insecure-ignore-tlog`). */
  readonly keyTlogThreshold: number;
  /** Verified RFC 3161 timestamps required (needs the TSAs of a root). */
  readonly tsaThreshold?: number;
  /** The evidence (known before verifying, e.g. one bundle) carries log entries, which are always verified. */
  readonly evidenceHasTlog?: boolean;
}

/** The trust material the options and the evidence need (keys only, nothing read, when none is): through the one settings loader. */
export async function trustForEvidence(options: EvidenceTrustCliOptions, needs: EvidenceNeeds): Promise<TrustMaterial> {
  const [{ readTrustSettings }, { loadTrust }] = await Promise.all([import('../config/read.ts'), import('../config/load.ts')]);
  const keyTlogThreshold = options.insecureIgnoreTlog === true ? 0 : needs.keyTlogThreshold;
  const evidenceNeedsRoot = needs.evidenceHasTlog === true && options.insecureIgnoreTlog !== true;
  const needed = needs.identities.length > 0 || keyTlogThreshold > 0 || (needs.tsaThreshold ?? 0) > 0 || evidenceNeedsRoot;
  return loadTrust(readTrustSettings(options, process.env, needed), { offline: options.offline === true });
}
