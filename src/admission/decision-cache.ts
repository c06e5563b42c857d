/**
 * Admission decisions, cached and deduplicated.
 *
 * Owns: `DecisionCache` — a size-bounded LRU of `ArtifactDecision`s with a time-to-live, and
 * single-flight: concurrent lookups of one key share one running decision, so N reviews of the same
 * artifact at the same time cost one resolution and one verification. What is kept:
 *  - allow / deny decisions (made from verified evidence only) for `ttlMs`;
 *  - `unavailable` outcomes (registry errors, the review deadline) for the short `negativeTtlMs`, so a
 *    failing registry is not hammered by retries, and is asked again soon;
 *  - `invalid` outcomes are not kept (cheap to recompute).
 * The key is built by the caller (`decisionKey`) from everything a decision depends on — the location
 * as written, the usage site, the requesting user, the policy bundle and data digests, the trust
 * digest, the configured signers and the credentials scope — so a policy or trust change misses by key
 * (nothing needs flushing). Verified evidence below the decision is cached per digest by the
 * pipeline's own `EvidenceCache`.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { ArtifactDecision } from '../pipeline/decide.ts';

export interface DecisionCacheOptions {
  /** Entries kept (default 10 000). */
  readonly max?: number;
  /** Lifetime of allow/deny decisions (default 60 s). */
  readonly ttlMs?: number;
  /** Lifetime of `unavailable` outcomes (default 2 s; 0 keeps none). */
  readonly negativeTtlMs?: number;
}

/** How a lookup was answered: from the cache, by joining a running decision, or by deciding. */
export type CacheResult = 'hit' | 'shared' | 'miss';

export interface DecisionKeyParts {
  readonly location: string;
  readonly namespace: string;
  readonly resourceKind: string;
  readonly resourceName: string;
  readonly fieldPath: string;
  readonly operation: string;
  readonly username: string;
  readonly groups: readonly string[];
  readonly bundleDigest: string;
  readonly dataDigest: string;
  readonly trustDigest: string;
  readonly signers: string;
  readonly credentialsScope: string;
}

/** A fixed-size key over everything an admission decision depends on. */
export function decisionKey(parts: DecisionKeyParts): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export class DecisionCache {
  readonly #lru: LRUCache<string, ArtifactDecision>;
  readonly #inflight = new Map<string, Promise<ArtifactDecision>>();
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;

  constructor(options: DecisionCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 2_000;
    this.#lru = new LRUCache({ max: options.max ?? 10_000, ttl: this.#ttlMs, ttlAutopurge: false });
  }

  /** The cached decision for `key`, else the running one, else `decide()` (whose result is kept by its outcome). */
  async get(key: string, decide: () => Promise<ArtifactDecision>): Promise<{ decision: ArtifactDecision; result: CacheResult }> {
    const cached = this.#lru.get(key);
    if (cached !== undefined) return { decision: cached, result: 'hit' };
    const running = this.#inflight.get(key);
    if (running !== undefined) return { decision: await running, result: 'shared' };
    const promise = decide().then((decision) => {
      this.#keep(key, decision);
      return decision;
    });
    this.#inflight.set(key, promise);
    try {
      return { decision: await promise, result: 'miss' };
    } finally {
      this.#inflight.delete(key);
    }
  }

  #keep(key: string, decision: ArtifactDecision): void {
    switch (decision.outcome) {
      case 'allow':
      case 'deny':
        this.#lru.set(key, decision, { ttl: this.#ttlMs });
        return;
      case 'unavailable':
        if (this.#negativeTtlMs > 0) this.#lru.set(key, decision, { ttl: this.#negativeTtlMs });
        return;
      case 'invalid':
        return;
    }
  }

  get size(): number {
    return this.#lru.size;
  }

  clear(): void {
    this.#lru.clear();
  }
}
