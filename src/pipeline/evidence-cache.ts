/**
 * A bounded cache of verified evidence, for long-running shells (the admission webhook).
 *
 * Owns: the cache key — (repository, manifest digest, trust root digest, configured signers, key tlog
 * threshold): the same digest in another repository may carry other evidence, and other trust or
 * signers verify differently — and an LRU with a time-to-live, so new evidence (a signature or a
 * revocation-relevant attestation pushed later) is seen within `ttlMs`. Only complete discoveries are
 * stored (the pipeline never caches an `unavailable` outcome). Decisions themselves are not cached:
 * they depend on the location as written, the usage site and the time, and cost microseconds; callers
 * that do cache decisions key them additionally by `Decision.bundleDigest` and `dataDigest`.
 */
import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.ts';
import type { VerifiedEvidenceSet } from '../evidence/verified.ts';

export interface EvidenceCacheOptions {
  /** Entries kept (default 1000). */
  readonly max?: number;
  /** How long an entry is reused (default 60 s). */
  readonly ttlMs?: number;
}

export class EvidenceCache {
  readonly #lru: LRUCache<string, VerifiedEvidenceSet>;

  constructor(options: EvidenceCacheOptions = {}) {
    this.#lru = new LRUCache({ max: options.max ?? 1000, ttl: options.ttlMs ?? 60_000 });
  }

  keyOf(repository: string, digest: Digest, trustDigest: Digest, signers: string, keyTlogThreshold: number): string {
    return JSON.stringify([repository, digest, trustDigest, signers, keyTlogThreshold]);
  }

  get(key: string): VerifiedEvidenceSet | undefined {
    return this.#lru.get(key);
  }

  set(key: string, value: VerifiedEvidenceSet): void {
    this.#lru.set(key, value);
  }

  get size(): number {
    return this.#lru.size;
  }
}
