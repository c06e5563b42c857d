/**
 * Admission decisions, cached and deduplicated.
 *
 * Owns: `DecisionCache` — a size-bounded LRU of `ArtifactDecision`s with a time-to-live, and
 * single-flight: concurrent lookups of one key share one running decision, so N reviews of the same
 * artifact at the same time cost one resolution and one verification. What is kept:
 *  - allow / deny decisions (made from verified evidence only) for `ttlMs`;
 *  - `unavailable` outcomes (registry errors, the review deadline) — and denies that rest on a
 *    transient dataset failure — for the short `negativeTtlMs`, so a
 *    failing registry is not hammered by retries, and is asked again soon;
 *  - `invalid` outcomes are not kept (cheap to recompute).
 * The key is built by the caller (`decisionKey`) from everything in the policy input except the
 * evidence and the time — the location as written, the usage site, the operation, the requesting user
 * (name, uid, groups), the policy bundle and data digests, the verification settings (the pipeline's
 * `verificationScope`: trust digest, configured signers, key tlog threshold) and the credentials scope — so a policy or trust change misses by key (nothing needs flushing), and a
 * hit is the decision a fresh evaluation would give, as long as:
 *  - the evidence is unchanged: it is re-read after `ttlMs` (as the pipeline's `EvidenceCache`);
 *  - the time the policy sees makes no difference: the default policy reads the time only to compare
 *    it with the `expires` of policy exceptions, so an entry is never kept past the next exception
 *    expiry after its decision (`nextTimeBoundary`). A custom policy that reads the time otherwise
 *    needs a short `ttlMs`;
 *  - for a location given by tag, the tag still names the same digest: tags are re-resolved after
 *    `ttlMs` (the default policy denies unpinned locations anyway).
 */
import { LRUCache } from 'lru-cache';
import type { ArtifactDecision } from '../pipeline/decide.ts';
import { systemClock, type Clock } from '../time/clock.ts';

export interface DecisionCacheOptions {
  /** Entries kept (default 10 000). */
  readonly max?: number;
  /** Lifetime of allow/deny decisions (default 60 s). */
  readonly ttlMs?: number;
  /** Lifetime of `unavailable` outcomes (default 2 s; 0 keeps none). */
  readonly negativeTtlMs?: number;
  /** The clock entries expire by (default the wall clock; tests inject a `ManualClock`). */
  readonly clock?: Clock;
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
  readonly userUid: string | null;
  readonly groups: readonly string[];
  readonly bundleDigest: string;
  readonly dataDigest: string;
  /** `verificationScope` of the pipeline: trust digest, configured signers, key tlog threshold. */
  readonly verification: string;
  readonly credentialsScope: string;
}

/**
 * The key over everything an admission decision depends on: the parts themselves, serialised (exact:
 * no hash to compute on the warm path, and no collisions to reason about; a few hundred bytes each).
 */
export function decisionKey(parts: DecisionKeyParts): string {
  return JSON.stringify([
    parts.location,
    parts.namespace,
    parts.resourceKind,
    parts.resourceName,
    parts.fieldPath,
    parts.operation,
    parts.username,
    parts.userUid,
    parts.groups,
    parts.bundleDigest,
    parts.dataDigest,
    parts.verification,
    parts.credentialsScope,
  ]);
}

/**
 * When a decision made at `time` (in ms) under policy `data` may change by the passage of time alone:
 * the earliest `expires` of a policy exception (`modelgate_config.exceptions.*.expires`, compared as
 * the policy compares them: whole-second UTC strings) that is later than `time`, in ms; undefined when
 * there is none.
 */
export function nextTimeBoundary(data: unknown, time: number): number | undefined {
  const exceptions = (data as { modelgate_config?: { exceptions?: unknown } } | null)?.modelgate_config?.exceptions;
  if (typeof exceptions !== 'object' || exceptions === null) return undefined;
  const now = new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
  let next: string | undefined;
  for (const exception of Object.values(exceptions)) {
    const expires = (exception as { expires?: unknown } | null)?.expires;
    if (typeof expires === 'string' && expires > now && (next === undefined || expires < next)) next = expires;
  }
  if (next === undefined) return undefined;
  const at = Date.parse(next);
  // An expiry the policy compares as a string but that is no date: keep nothing past now.
  return Number.isNaN(at) ? time : at;
}

/** A decision and, when it can change by the passage of time alone, from when (ms since the epoch). */
export interface TimedDecision {
  readonly decision: ArtifactDecision;
  readonly changesAt?: number | undefined;
}
export class DecisionCache {
  readonly #lru: LRUCache<string, ArtifactDecision>;
  readonly #inflight = new Map<string, Promise<ArtifactDecision>>();
  readonly #ttlMs: number;
  readonly #negativeTtlMs: number;
  readonly #clock: Clock;

  constructor(options: DecisionCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 2_000;
    this.#clock = options.clock ?? systemClock;
    // The LRU reads the same clock for its TTLs; with an injected clock it reads it on every lookup
    // (lru-cache otherwise reuses one reading for `ttlResolution` ms of real time).
    this.#lru = new LRUCache({
      max: options.max ?? 10_000,
      ttl: this.#ttlMs,
      ttlAutopurge: false,
      perf: this.#clock,
      ...(this.#clock === systemClock ? {} : { ttlResolution: 0 }),
    });
  }

  /**
   * The cached decision for `key`, else the running one, else `decide()` (whose result is kept by its
   * outcome, never past its `changesAt`).
   */
  async get(key: string, decide: () => Promise<TimedDecision>): Promise<{ decision: ArtifactDecision; result: CacheResult }> {
    const cached = this.#lru.get(key);
    if (cached !== undefined) return { decision: cached, result: 'hit' };
    const running = this.#inflight.get(key);
    if (running !== undefined) return { decision: await running, result: 'shared' };
    const promise = decide().then(({ decision, changesAt }) => {
      this.#keep(key, decision, changesAt);
      return decision;
    });
    this.#inflight.set(key, promise);
    try {
      return { decision: await promise, result: 'miss' };
    } finally {
      this.#inflight.delete(key);
    }
  }

  #keep(key: string, decision: ArtifactDecision, changesAt: number | undefined): void {
    // lru-cache treats an entry as stale once `now - start > ttl`: a TTL of `changesAt - now - 1` makes
    // it stale from `changesAt` itself, the instant the policy already decides differently.
    const until = (ttl: number): number => (changesAt === undefined ? ttl : Math.min(ttl, Math.floor(changesAt - this.#clock.now()) - 1));
    switch (decision.outcome) {
      case 'allow':
      case 'deny': {
        // A deny that rests on a transient failure (a training dataset's registry timed out) is kept
        // like an `unavailable` outcome, so the next review asks again.
        const ttl = until(decision.outcome === 'deny' && decision.transient === true ? this.#negativeTtlMs : this.#ttlMs);
        if (ttl > 0) this.#lru.set(key, decision, { ttl });
        return;
      }
      case 'unavailable': {
        const ttl = until(this.#negativeTtlMs);
        if (ttl > 0) this.#lru.set(key, decision, { ttl });
        return;
      }
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
