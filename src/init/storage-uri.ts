/**
 * The storage URI KServe hands the storage initializer: `modelgate+oci://host/repo@sha256:…`
 * (also `oci://…`, `modelgate+oci-layout://…`, optionally `#variant=NAME`).
 *
 * Owns: `locationOfUri`, kept apart from the pull so `init` can read its URIs (and ask the registry
 * for their manifests) before the verification code has loaded.
 */
import { parseReference, type ArtifactReference } from '../oci/reference.ts';
import { splitVariantSelector } from '../modelpack/variants.ts';
import { InitError } from './errors.ts';

/** The URI scheme prefix of the ClusterStorageContainer: `modelgate+oci://host/repo@sha256:…`. */
export const MODELGATE_SCHEME_PREFIX = 'modelgate+';

/**
 * `modelgate+oci://…` / `oci://…` / `modelgate+oci-layout://…` (optionally `#variant=NAME`) → the
 * pipeline location (without the selector), the parsed reference and the variant the URI names.
 */
export function locationOfUri(uri: string): { location: string; ref: ArtifactReference; variant: string | undefined } {
  const bare = uri.trim().startsWith(MODELGATE_SCHEME_PREFIX) ? uri.trim().slice(MODELGATE_SCHEME_PREFIX.length) : uri.trim();
  if (!/^(oci|oci-layout):\/\//.test(bare)) throw new InitError('BAD_URI', `"${uri}" is not a modelgate storage URI (modelgate+oci://host/repo@sha256:…)`);
  let ref: ArtifactReference;
  let split: ReturnType<typeof splitVariantSelector>;
  try {
    split = splitVariantSelector(bare);
    ref = parseReference(split.location);
  } catch (err) {
    throw new InitError('BAD_URI', `"${uri}": ${(err as Error).message}`, { cause: err });
  }
  if (ref.digest === undefined) throw new InitError('NOT_PINNED', `"${uri}" is not pinned by digest: use …@sha256:<hex>`);
  return { location: split.location, ref, variant: split.variant };
}

