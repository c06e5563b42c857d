/**
 * Content digests, the one thing every piece of evidence is bound to.
 *
 * Owns: the `Digest` type (`algorithm:hex`, branded: only `src/oci/digest.ts`'s `parseDigest` and
 * `digestOf` make one) and its algorithms.
 */

export type DigestAlgorithm = 'sha256' | 'sha512';
declare const digestBrand: unique symbol;
/** `algorithm:hex`, validated. Construct with `parseDigest` or `digestOf` (`src/oci/digest.ts`). */
export type Digest = string & { readonly [digestBrand]: true };
