/**
 * Prometheus metrics of the admission webhook (served on the plain-HTTP metrics port).
 *
 * Owns: `AdmissionMetrics` — one prom-client registry (not the global one) with reviews by decision
 * and mode, review duration, location decisions by outcome, and decision-cache lookups by result
 * (hit / shared / miss), the configuration in effect (`modelgate_policy_info{bundle_digest,data_digest,keys_digest} 1`,
 * one series: the previous one is removed on a reload) with reloads applied and refused (by error
 * code), plus the default process metrics. A review's updates are recorded as plain numbers and handed
 * to prom-client when the metrics are read (or every `PENDING_MAX` reviews): prom-client validates and
 * hashes the labels on every update, which cost more than the rest of a warm review's bookkeeping.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheResult } from './decision-cache.ts';
import type { ReviewResult } from './review.ts';

export class AdmissionMetrics {
  readonly registry = new Registry();
  readonly #reviews: Counter<'decision' | 'mode'>;
  readonly #duration: Histogram<'decision'>;
  readonly #locations: Counter<'outcome'>;
  readonly #cache: Counter<'result'>;
  readonly #errors: Counter<'code'>;
  readonly #policyInfo: Gauge<'bundle_digest' | 'data_digest' | 'keys_digest'>;
  readonly #reloads: Counter;
  readonly #reloadsRefused: Counter<'code'>;
  // What reviews recorded since prom-client was last updated (label values → count; decision → durations).
  readonly #pendingReviews = new Map<string, { readonly labels: { decision: string; mode: string }; n: number }>();
  readonly #pendingDurations = new Map<string, number[]>();
  readonly #pendingLocations = new Map<string, number>();
  readonly #pendingCache = new Map<string, number>();
  #pending = 0;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'modelgate_' });
    // Read by prom-client before it answers /metrics: the pending updates go in first.
    const collect = (): void => this.#flush();
    this.#reviews = new Counter({ name: 'modelgate_admission_reviews_total', help: 'AdmissionReviews answered, by decision and mode', labelNames: ['decision', 'mode'], registers: [this.registry], collect });
    this.#duration = new Histogram({
      name: 'modelgate_admission_review_duration_seconds',
      help: 'Time to answer one AdmissionReview',
      labelNames: ['decision'],
      // Sub-millisecond buckets: a warm (cached) review takes well under 1 ms.
      buckets: [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 10],
      registers: [this.registry],
      collect,
    });
    this.#locations = new Counter({ name: 'modelgate_admission_location_decisions_total', help: 'Model locations decided, by outcome', labelNames: ['outcome'], registers: [this.registry], collect });
    this.#cache = new Counter({ name: 'modelgate_admission_cache_lookups_total', help: 'Decision cache lookups: hit, shared (joined a running decision) or miss', labelNames: ['result'], registers: [this.registry], collect });
    this.#errors = new Counter({ name: 'modelgate_admission_request_errors_total', help: 'Requests refused before review, by error code', labelNames: ['code'], registers: [this.registry] });
    this.#policyInfo = new Gauge({
      name: 'modelgate_policy_info',
      help: 'The configuration deciding reviews (always 1): policy bundle digest, policy data digest, digest of the signer keys',
      labelNames: ['bundle_digest', 'data_digest', 'keys_digest'],
      registers: [this.registry],
    });
    this.#reloads = new Counter({ name: 'modelgate_config_reloads_total', help: 'Configuration reloads applied (policy bundle, data or signer keys changed)', registers: [this.registry] });
    this.#reloadsRefused = new Counter({ name: 'modelgate_config_reloads_refused_total', help: 'Configuration changes refused (the last good configuration keeps serving), by error code', labelNames: ['code'], registers: [this.registry] });
  }

  /** The configuration now in effect (`initial`: the first load, not counted as a reload). */
  configLoaded(config: { readonly bundleDigest: string; readonly dataDigest: string; readonly keysDigest: string }, initial = false): void {
    this.#policyInfo.reset();
    this.#policyInfo.set({ bundle_digest: config.bundleDigest, data_digest: config.dataDigest, keys_digest: config.keysDigest }, 1);
    if (!initial) this.#reloads.inc();
  }

  configRefused(code: string): void {
    this.#reloadsRefused.inc({ code });
  }

  reviewed(result: ReviewResult, seconds: number): void {
    const { decision, mode } = result.summary;
    const key = `${decision} ${mode}`;
    const reviews = this.#pendingReviews.get(key);
    if (reviews === undefined) this.#pendingReviews.set(key, { labels: { decision, mode }, n: 1 });
    else reviews.n++;
    const durations = this.#pendingDurations.get(decision);
    if (durations === undefined) this.#pendingDurations.set(decision, [seconds]);
    else durations.push(seconds);
    for (const { outcome } of result.summary.verdicts) this.#pendingLocations.set(outcome, (this.#pendingLocations.get(outcome) ?? 0) + 1);
    if (++this.#pending >= PENDING_MAX) this.#flush();
  }

  cacheLookup(result: CacheResult): void {
    this.#pendingCache.set(result, (this.#pendingCache.get(result) ?? 0) + 1);
  }

  refused(code: string): void {
    this.#errors.inc({ code });
  }

  /** Hand what reviews recorded to prom-client (in the order it happened per series: the same sums as live updates). */
  #flush(): void {
    for (const entry of this.#pendingReviews.values()) {
      if (entry.n > 0) this.#reviews.inc(entry.labels, entry.n);
      entry.n = 0;
    }
    for (const [decision, durations] of this.#pendingDurations) {
      if (durations.length === 0) continue;
      const child = this.#duration.labels({ decision });
      for (const seconds of durations) child.observe(seconds);
      durations.length = 0;
    }
    for (const [outcome, n] of this.#pendingLocations) if (n > 0) this.#locations.inc({ outcome }, n);
    this.#pendingLocations.clear();
    for (const [result, n] of this.#pendingCache) if (n > 0) this.#cache.inc({ result }, n);
    this.#pendingCache.clear();
    this.#pending = 0;
  }
}

/** Reviews recorded before prom-client is updated even when nobody reads the metrics (bounds the memory held). */
const PENDING_MAX = 1_024;
