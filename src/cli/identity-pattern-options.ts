/**
 * `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp` (cosign's names) of the
 * verifying commands: keyless signers matched by anchored pattern instead of an exact SAN.
 *
 * Owns: turning the two repeatable flags into `SignerIdentityPatternSpec`s (verify, explain, webhook),
 * and the single-signer form of `verify-bundle` / `verify-signatures` (`singleIdentityPolicy`). Patterns pair with issuer
 * patterns like exact identities pair with issuers (one issuer pattern for all, or one each, in
 * order); each is checked and compiled once here (src/sigstore/identity-pattern.ts), so a bad one is a
 * USAGE error before anything is fetched.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { SignerIdentityPatternSpec } from '../evidence/signers.ts';
import type { SignerPolicy } from '../sigstore/bundle.ts';
import { compileIdentityPattern, type IdentityPattern } from '../sigstore/identity-pattern.ts';

export interface IdentityPatternCliOptions {
  readonly certificateIdentityRegexp?: readonly string[];
  readonly certificateOidcIssuerRegexp?: readonly string[];
}

function compile(source: string, flag: string): IdentityPattern {
  return compileIdentityPattern(source, (why) => {
    throw new UsageError('USAGE', `${flag}: ${why}`);
  });
}

/** The keyless signer patterns the flags name (none when neither flag is given). */
export function identityPatternsOf(options: IdentityPatternCliOptions): SignerIdentityPatternSpec[] {
  const sans = options.certificateIdentityRegexp ?? [];
  const issuers = options.certificateOidcIssuerRegexp ?? [];
  if (sans.length === 0 && issuers.length === 0) return [];
  if (sans.length === 0 || issuers.length === 0) throw new UsageError('USAGE', '--certificate-identity-regexp and --certificate-oidc-issuer-regexp go together');
  if (issuers.length !== 1 && issuers.length !== sans.length) {
    throw new UsageError('USAGE', `give one --certificate-oidc-issuer-regexp for all identity patterns or one per --certificate-identity-regexp (got ${issuers.length} for ${sans.length})`);
  }
  const issuerPatterns = issuers.map((i) => compile(i, '--certificate-oidc-issuer-regexp'));
  return sans.map((san, i) => ({ san: compile(san, '--certificate-identity-regexp'), issuer: issuerPatterns.length === 1 ? issuerPatterns[0]! : issuerPatterns[i]! }));
}

/** The single-signer flags of `verify-bundle` / `verify-signatures` (cosign's: each of SAN and issuer exact or by pattern). */
export interface SingleIdentityCliOptions {
  readonly certificateIdentity?: string;
  readonly certificateOidcIssuer?: string;
  readonly certificateIdentityRegexp?: string;
  readonly certificateOidcIssuerRegexp?: string;
}

/** `--certificate-identity-regexp` and `--certificate-oidc-issuer-regexp` for the single-signer commands. */
export function addSingleIdentityPatternOptions(command: Command): Command {
  return command
    .option('--certificate-identity-regexp <re>', 'anchored pattern (^…$) the certificate SAN must match, instead of --certificate-identity')
    .option('--certificate-oidc-issuer-regexp <re>', 'anchored pattern the OIDC issuer must match, instead of --certificate-oidc-issuer');
}

/** Whether any keyless identity flag was given. */
export function givesIdentity(options: SingleIdentityCliOptions): boolean {
  return [options.certificateIdentity, options.certificateOidcIssuer, options.certificateIdentityRegexp, options.certificateOidcIssuerRegexp].some((v) => v !== undefined);
}

/** The keyless signer policy: SAN exact or by pattern (not both), issuer exact or by pattern (not both). */
export function singleIdentityPolicy(options: SingleIdentityCliOptions): Extract<SignerPolicy, { kind: 'identity' }> {
  const pick = (exact: string | undefined, pattern: string | undefined, flag: string): string | IdentityPattern => {
    if (exact !== undefined && pattern !== undefined) throw new UsageError('USAGE', `give either ${flag} or ${flag}-regexp, not both`);
    if (pattern !== undefined) return compile(pattern, `${flag}-regexp`);
    if (exact === undefined) throw new UsageError('USAGE', 'give --key FILE, or a certificate identity (--certificate-identity or --certificate-identity-regexp) and its OIDC issuer (--certificate-oidc-issuer or --certificate-oidc-issuer-regexp)');
    return exact;
  };
  return {
    kind: 'identity',
    san: pick(options.certificateIdentity, options.certificateIdentityRegexp, '--certificate-identity'),
    issuer: pick(options.certificateOidcIssuer, options.certificateOidcIssuerRegexp, '--certificate-oidc-issuer'),
  };
}
