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
import { KEYS_ONLY_TRUST } from '../pipeline/deps.ts';
import { loadTrustedRootTuf, PUBLIC_GOOD_TUF_MIRROR, STAGING_TUF_MIRROR, type TrustMaterial } from '../sigstore/trust.ts';
import { needsSigstoreRoot } from './pipeline-options.ts';
import { defaultTufCachePath, resolveTrust, type TrustCliOptions } from './trust-options.ts';

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

/** The trust material the options and the evidence need (`KEYS_ONLY_TRUST` when none is). */
export async function trustForEvidence(options: EvidenceTrustCliOptions, needs: EvidenceNeeds): Promise<TrustMaterial> {
  const keyTlogThreshold = options.insecureIgnoreTlog === true ? 0 : needs.keyTlogThreshold;
  const evidenceNeedsRoot = needs.evidenceHasTlog === true && options.insecureIgnoreTlog !== true;
  if (!needsSigstoreRoot(options, needs.identities, keyTlogThreshold) && (needs.tsaThreshold ?? 0) === 0 && !evidenceNeedsRoot) return KEYS_ONLY_TRUST;
  if (options.offline !== true || options.trustedRoot !== undefined) return resolveTrust(options);
  return loadTrustedRootTuf({
    mirrorURL: options.tufMirror ?? (options.staging === true ? STAGING_TUF_MIRROR : PUBLIC_GOOD_TUF_MIRROR),
    cachePath: options.tufCache ?? defaultTufCachePath(),
    ...(options.tufRoot === undefined ? {} : { rootPath: options.tufRoot }),
    forceCache: true,
  });
}
