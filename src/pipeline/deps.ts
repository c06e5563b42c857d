/**
 * Building the pipeline's long-lived dependencies once: stores per repository, and trust material for
 * verification with keys only.
 *
 * Owns: `storeProvider` (one `ArtifactStore` per repository, kept in a bounded LRU, registry stores of
 * one host sharing one authenticator so tokens and Basic state are reused across repositories and
 * requests) and `KEYS_ONLY_TRUST` (empty trust material for verifying key-signed evidence without a
 * transparency log, where no Sigstore root is needed and none should be fetched).
 */
import { LRUCache } from 'lru-cache';
import type { RegistryAuthenticator } from '../oci/auth.ts';
import { digestOf } from '../oci/digest.ts';
import { openStore, type OpenStoreOptions } from '../oci/open.ts';
import { repositoryName, type ArtifactReference } from '../oci/reference.ts';
import { RegistryStore } from '../oci/registry.ts';
import type { ArtifactStore } from '../oci/store.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import type { StoreProvider } from './decide.ts';

/** A store per repository (at most `maxStores`, least recently used dropped), authenticators shared per registry host. */
export function storeProvider(options: OpenStoreOptions = {}, maxStores = 256): StoreProvider {
  const stores = new LRUCache<string, ArtifactStore>({ max: maxStores });
  const authenticators = new LRUCache<string, RegistryAuthenticator>({ max: maxStores });
  return (ref: ArtifactReference): ArtifactStore => {
    const name = repositoryName(ref);
    const cached = stores.get(name);
    if (cached !== undefined) return cached;
    let store: ArtifactStore;
    if (ref.kind === 'registry') {
      const authenticator = authenticators.get(ref.registry);
      store = openStore(ref, { ...options, registry: { ...options.registry, ...(authenticator ? { authenticator } : {}) } });
      if (authenticator === undefined && store instanceof RegistryStore) authenticators.set(ref.registry, store.authenticator);
    } else {
      store = openStore(ref, options);
    }
    stores.set(name, store);
    return store;
  };
}

/**
 * Trust material with no authorities: only key-signed evidence without log entries can verify under
 * it (keyless evidence, and key-signed evidence carrying Rekor entries, fail closed).
 */
export const KEYS_ONLY_TRUST: TrustMaterial = {
  trustDigest: digestOf('modelgate: no Sigstore trust root (keys only)'),
  source: 'none (keys only, no transparency log)',
  authorities: { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
  tlogUrls: new Map(),
  warnings: [],
};
