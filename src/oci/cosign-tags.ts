/**
 * cosign's legacy tag-based discovery: the `sha256-<hex>.sig|.att|.sbom` manifests next to an image.
 *
 * Owns: reading those manifests from any store; a missing tag means "none", every other failure is
 * an error (fail closed). The manifest is verified against the digest the store announced for the tag;
 * what the signatures inside say is the verification core's business.
 */
import { hasCode, OciError } from '../errors.ts';
import type { Digest } from './digest.ts';
import type { FetchedManifest } from './manifest.ts';
import type { ArtifactStore, CallOptions } from './store.ts';
import { COSIGN_TAG_KINDS, cosignTag, type CosignTagKind } from './tag-schema.ts';

/** The cosign `.sig`/`.att`/`.sbom` manifest for `subject`, or undefined when the tag does not exist. */
export async function fetchCosignTag(
  store: Pick<ArtifactStore, 'fetchManifest'>,
  subject: Digest,
  kind: CosignTagKind,
  options: CallOptions = {},
): Promise<FetchedManifest | undefined> {
  try {
    return await store.fetchManifest(cosignTag(subject, kind), options);
  } catch (err) {
    if (hasCode(err, OciError, 'NOT_FOUND')) return undefined;
    throw err;
  }
}

/** All three legacy tags for `subject` (absent ones omitted). */
export async function fetchCosignTags(
  store: Pick<ArtifactStore, 'fetchManifest'>,
  subject: Digest,
  options: CallOptions = {},
): Promise<Partial<Record<CosignTagKind, FetchedManifest>>> {
  // All three at once: one round trip, not three.
  const manifests = await Promise.all(COSIGN_TAG_KINDS.map((kind) => fetchCosignTag(store, subject, kind, options)));
  const found: Partial<Record<CosignTagKind, FetchedManifest>> = {};
  for (const [i, kind] of COSIGN_TAG_KINDS.entries()) if (manifests[i] !== undefined) found[kind] = manifests[i];
  return found;
}
