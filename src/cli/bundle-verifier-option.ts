/**
 * Options naming whose signature a Sigstore bundle read from a file must carry: a public key
 * (`--PREFIX-key FILE`) or a keyless identity (`--PREFIX-certificate-identity SAN` with
 * `--PREFIX-certificate-oidc-issuer URL`, checked against the trust options' Sigstore root).
 *
 * Owns: turning those option values into a signer policy, trust material and transparency-log threshold —
 * a key without `--trusted-root` verifies offline with no log required (as `verify-bundle --key
 * --tlog-threshold 0`); a key with `--trusted-root`, or an identity, requires one log entry. Used by
 * `attest evaluate --reference-*` and `attest attach --predicate-*`.
 */
import type { KeyObject } from 'node:crypto';
import { UsageError } from '../errors.ts';
import type { SignerPolicy } from '../sigstore/bundle.ts';
import { parsePublicKey } from '../sigstore/keys.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { readText } from './option-values.ts';
import { resolveTrust, type TrustCliOptions } from './trust-options.ts';

export interface BundleVerifierFlags {
  readonly key?: string;
  readonly identity?: string;
  readonly issuer?: string;
}

export interface BundleVerifier {
  readonly signer: SignerPolicy;
  readonly trust: TrustMaterial;
  readonly tlogThreshold: number;
}

/** Verify with `key`: offline unless a trusted root is given. */
export async function keyVerifier(key: KeyObject, trustOptions: TrustCliOptions): Promise<BundleVerifier> {
  if (trustOptions.trustedRoot === undefined) {
    // A key-signed bundle without a transparency log needs no Sigstore root (as verify-bundle --key --tlog-threshold 0).
    const { KEYS_ONLY_TRUST } = await import('../pipeline/deps.ts');
    return { signer: { kind: 'key', keys: [key] }, trust: KEYS_ONLY_TRUST, tlogThreshold: 0 };
  }
  return { signer: { kind: 'key', keys: [key] }, trust: await resolveTrust(trustOptions), tlogThreshold: 1 };
}

/**
 * The verifier the `--PREFIX-*` flags ask for (`prefix` names them in errors), or undefined when none
 * was given. Key and identity together, or half an identity, are usage errors.
 */
export async function bundleVerifierFromFlags(flags: BundleVerifierFlags, prefix: string, trustOptions: TrustCliOptions): Promise<BundleVerifier | undefined> {
  const identity = flags.identity !== undefined || flags.issuer !== undefined;
  if (identity && flags.key !== undefined) throw new UsageError('USAGE', `give either --${prefix}-key or --${prefix}-certificate-identity/--${prefix}-certificate-oidc-issuer, not both`);
  if (flags.key !== undefined) return keyVerifier(parsePublicKey(await readText(flags.key, `${prefix} public key`)), trustOptions);
  if (!identity) return undefined;
  if (flags.identity === undefined || flags.issuer === undefined) {
    throw new UsageError('USAGE', `--${prefix}-certificate-identity and --${prefix}-certificate-oidc-issuer go together`);
  }
  return { signer: { kind: 'identity', san: flags.identity, issuer: flags.issuer }, trust: await resolveTrust(trustOptions), tlogThreshold: 1 };
}
