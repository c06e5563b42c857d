/**
 * Tag names derived from a subject digest: cosign's legacy `sha256-<hex>.sig|.att|.sbom` tags and the
 * OCI 1.1 referrers fallback tag `sha256-<hex>` (distribution spec "Referrers Tag Schema").
 */
import { digestAlgorithm, digestHex, type Digest } from './digest.ts';

export type CosignTagKind = 'sig' | 'att' | 'sbom';
export const COSIGN_TAG_KINDS: readonly CosignTagKind[] = ['sig', 'att', 'sbom'];

/** `<alg truncated to 32>-<hex truncated to 64>`, per the distribution spec. */
export function referrersFallbackTag(subject: Digest): string {
  return `${digestAlgorithm(subject).slice(0, 32)}-${digestHex(subject).slice(0, 64)}`;
}

/** cosign's `sha256-<hex>.<kind>` tag (full hex, cosign does not truncate). */
export function cosignTag(subject: Digest, kind: CosignTagKind): string {
  return `${digestAlgorithm(subject)}-${digestHex(subject)}.${kind}`;
}
