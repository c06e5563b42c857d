/**
 * Signers: the ones configured (what evidence is verified against) and the one a piece of evidence
 * was verified to come from.
 *
 * Owns: `IdentityPattern` (compiled by `src/sigstore/identity-pattern.ts`), the configured signers
 * (`VerificationSigners`: keys, exact keyless identities, identity patterns), the verified signer
 * (`SignerIdentity`: key, certificate or keyless with its Fulcio OIDC extensions) and its one-line
 * description.
 */
import type { KeyObject } from 'node:crypto';

/** A certificate identity pattern, compiled once and matched against whole SANs / issuers. */
export interface IdentityPattern {
  /** The pattern as written (`^https://github\.com/acme/.+$`). */
  readonly source: string;
  readonly regex: RegExp;
}

/** A keyless signer: exact certificate SAN and OIDC issuer. */
export interface SignerIdentitySpec {
  readonly san: string;
  readonly issuer: string;
}

/** Keyless signers by anchored pattern (`--certificate-identity-regexp`): any SAN the pattern matches. */
export interface SignerIdentityPatternSpec {
  readonly san: IdentityPattern;
  readonly issuer: string | IdentityPattern;
}

/** The signers evidence is verified against. The policy data decides which of them are trusted. */
export interface VerificationSigners {
  readonly keys: readonly KeyObject[];
  readonly identities: readonly SignerIdentitySpec[];
  /** Verified like `identities`; the verified SAN is exact. */
  readonly identityPatterns?: readonly SignerIdentityPatternSpec[];
}

/** Who produced a verified signature. Keyless identities are exact SAN + OIDC issuer. */
export type SignerIdentity =
  | { readonly method: 'key'; /** `sha256:<hex of the SPKI DER>` */ readonly keyId: string }
  | {
      readonly method: 'certificate';
      /** `sha256:<hex of the leaf certificate DER>` */
      readonly keyId: string;
      readonly san?: string;
    }
  | {
      readonly method: 'keyless';
      readonly san: string;
      readonly issuer: string;
      /** Fulcio OIDC extensions by name (sourceRepositoryUri, sourceRepositoryRef, buildSignerUri, ...). */
      readonly oidcExtensions?: Readonly<Record<string, string>>;
    };

export function describeSigner(signer: SignerIdentity): string {
  switch (signer.method) {
    case 'key':
      return `key ${signer.keyId}`;
    case 'certificate':
      return `certificate ${signer.keyId}`;
    case 'keyless':
      return `${signer.san} (issuer ${signer.issuer})`;
  }
}
