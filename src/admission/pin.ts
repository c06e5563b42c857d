/**
 * Pinning tags to digests for the mutating endpoint (`POST /mutate`).
 *
 * Owns: `pinLocations` — for each OCI location of an admitted object that names a tag and no digest,
 * resolve the tag once and produce an RFC 6902 JSON Patch `replace` that appends `@sha256:…` to the
 * location as written (`oci://host/repo:v1` → `oci://host/repo:v1@sha256:…`), so every later reader
 * (the validating review, the storage-initializer) uses exactly that digest. Also owns
 * `fieldPathToPointer` (field paths are the extractor's, e.g. `spec.predictor.storageUris[0].uri` →
 * `/spec/predictor/storageUris/0/uri`). Pinning verifies nothing: validation still decides; a tag
 * that cannot be resolved in time is left alone and reported (the validating webhook then denies it).
 */
import { ModelgateError } from '../errors.ts';
import { parseReference, manifestSelector } from '../oci/reference.ts';
import { splitVariantSelector } from '../modelpack/variants.ts';
import type { StoreProvider } from '../pipeline/decide.ts';
import { locationScheme } from '../policy/input.ts';
import { extractLocations, type AdmittedKind } from './locations.ts';

export interface JsonPatchReplace {
  readonly op: 'replace';
  readonly path: string;
  readonly value: string;
}

export interface PinOutcome {
  readonly patch: readonly JsonPatchReplace[];
  readonly pinned: ReadonlyArray<{ readonly fieldPath: string; readonly from: string; readonly to: string }>;
  /** Tags that could not be resolved (left unchanged). */
  readonly problems: ReadonlyArray<{ readonly fieldPath: string; readonly code: string; readonly message: string }>;
}

/** `spec.a[0].b` → `/spec/a/0/b` (RFC 6901 escaping of `~` and `/`). */
export function fieldPathToPointer(fieldPath: string): string {
  const segments: string[] = [];
  for (const part of fieldPath.split('.')) {
    const match = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (match === null) throw new Error(`unexpected field path segment "${part}" in ${fieldPath}`);
    segments.push(match[1]!);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) segments.push(index[1]!);
  }
  return segments.map((s) => `/${s.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export async function pinLocations(kind: AdmittedKind, object: unknown, stores: StoreProvider, options: { timeoutMs: number; signal: AbortSignal }): Promise<PinOutcome> {
  const patch: JsonPatchReplace[] = [];
  const pinned: Array<{ fieldPath: string; from: string; to: string }> = [];
  const problems: Array<{ fieldPath: string; code: string; message: string }> = [];
  await Promise.all(
    extractLocations(kind, object).map(async (location) => {
      if (location.kind !== 'uri') return;
      const scheme = locationScheme(location.uri);
      if (scheme !== 'oci' && scheme !== 'oci-layout') return;
      let ref;
      let split;
      try {
        split = splitVariantSelector(location.uri.trim()); // a `#variant=NAME` selector stays after the pin
        ref = parseReference(split.location);
      } catch {
        return; // the validating review reports the bad reference
      }
      if (ref.digest !== undefined) return;
      try {
        const descriptor = await stores(ref).resolve(manifestSelector(ref), { timeoutMs: options.timeoutMs, signal: options.signal });
        const to = `${split.location}${ref.tag === undefined ? `:${manifestSelector(ref)}` : ''}@${descriptor.digest}${split.variant !== undefined ? `#variant=${split.variant}` : ''}`;
        patch.push({ op: 'replace', path: fieldPathToPointer(location.fieldPath), value: to });
        pinned.push({ fieldPath: location.fieldPath, from: location.uri, to });
      } catch (err) {
        problems.push({
          fieldPath: location.fieldPath,
          code: options.signal.aborted ? 'DEADLINE_EXCEEDED' : err instanceof ModelgateError ? err.code : 'INTERNAL',
          message: `${location.uri}: tag not pinned: ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    }),
  );
  return { patch, pinned, problems };
}
