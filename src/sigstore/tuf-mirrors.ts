/**
 * The Sigstore TUF repositories modelgate knows by name (public-good and staging).
 *
 * Owns: their mirror URLs only, in a module of its own so the settings reader can name the defaults
 * without loading the trust-root code (`trust.ts` and `@sigstore/core`) at every CLI start.
 */
export const PUBLIC_GOOD_TUF_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';
export const STAGING_TUF_MIRROR = 'https://tuf-repo-cdn.sigstage.dev';
