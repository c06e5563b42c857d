/**
 * `openStore`: the one place that turns a parsed `ArtifactReference` into an `ArtifactStore`.
 *
 * Owns: the choice of implementation (`LayoutStore` for `oci-layout://` references, `RegistryStore`
 * for registry ones) and passing each its options. Callers then use the reference's tag or digest
 * (`manifestSelector(ref)`) as the selector for `resolve` / `fetchManifest`.
 */
import { LayoutStore, type LayoutStoreOptions } from './layout.ts';
import type { ArtifactReference } from './reference.ts';
import { RegistryStore, type RegistryOptions } from './registry.ts';
import type { ArtifactStore } from './store.ts';

export interface OpenStoreOptions {
  /** Options for registry references (credentials, plain-HTTP hosts, timeouts…). */
  readonly registry?: RegistryOptions;
  /** Options for OCI image layouts (`create` to start a new one). */
  readonly layout?: LayoutStoreOptions;
}

export function openStore(ref: ArtifactReference, options: OpenStoreOptions = {}): ArtifactStore {
  switch (ref.kind) {
    case 'layout':
      return new LayoutStore(ref.path, options.layout);
    case 'registry':
      return new RegistryStore({ registry: ref.registry, repository: ref.repository }, options.registry);
  }
}
