/**
 * Which OCI image layouts on its own filesystem the webhook may read.
 *
 * Owns: `confineLayouts` — a `StoreProvider` wrapper that opens `oci-layout://` (and
 * `modelgate+oci-layout://`) locations only inside directories the operator named with
 * `modelgate webhook --layout-root DIR`, and refuses every other layout location with
 * LAYOUT_NOT_ALLOWED (the review denies it: fail closed). A location in an AdmissionReview is chosen
 * by whoever creates the resource; without this, anyone allowed to create an InferenceService could
 * make the webhook open any directory it can read. Layout locations exist for local demos and tests
 * (`npm run demo`); in a cluster, models live in a registry. Registry locations pass through.
 * Both the roots and the layout directory are compared after resolving symbolic links, so a link
 * inside a root cannot lead outside it.
 */
import { realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { StoreProvider } from '../pipeline/decide.ts';
import { AdmissionError } from './errors.ts';

/** The path with symbolic links resolved; as given (resolved) when it does not exist yet. */
function realPath(path: string): string {
  try {
    return realpathSync.native(resolve(path));
  } catch {
    return resolve(path);
  }
}

/** `stores`, but layout locations outside every root (all of them when `roots` is empty) are refused. */
export function confineLayouts(stores: StoreProvider, roots: readonly string[]): StoreProvider {
  const allowed = roots.map(realPath);
  const inside = (path: string): boolean => allowed.some((root) => path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`));
  return (ref) => {
    if (ref.kind === 'layout' && !inside(realPath(ref.path))) {
      throw new AdmissionError(
        'LAYOUT_NOT_ALLOWED',
        allowed.length === 0
          ? `${ref.path} is an OCI image layout on the webhook's filesystem; this webhook reads none (no --layout-root)`
          : `${ref.path} is an OCI image layout outside the webhook's --layout-root directories`,
      );
    }
    return stores(ref);
  };
}
