/**
 * Prometheus metrics of the admission webhook (served on the plain-HTTP metrics port).
 *
 * Owns: `AdmissionMetrics` — one prom-client registry (not the global one) with reviews by decision
 * and mode, review duration, location decisions by outcome, and decision-cache lookups by result
 * (hit / shared / miss), the configuration in effect (`modelgate_policy_info{bundle_digest,data_digest,keys_digest} 1`,
 * one series: the previous one is removed on a reload) with reloads applied and refused (by error
 * code), plus the default process metrics.
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
  // The labelled series a review touches, looked up once (labels are a few enum values): prom-client
  // otherwise hashes the label object on every increment.
  readonly #reviewsBy = new Map<string, Counter.Internal>();
  readonly #durationBy = new Map<string, Histogram.Internal<'decision'>>();
  readonly #locationsBy = new Map<string, Counter.Internal>();
  readonly #cacheBy = new Map<string, Counter.Internal>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'modelgate_' });
    this.#reviews = new Counter({ name: 'modelgate_admission_reviews_total', help: 'AdmissionReviews answered, by decision and mode', labelNames: ['decision', 'mode'], registers: [this.registry] });
    this.#duration = new Histogram({
      name: 'modelgate_admission_review_duration_seconds',
      help: 'Time to answer one AdmissionReview',
      labelNames: ['decision'],
      // Sub-millisecond buckets: a warm (cached) review takes well under 1 ms.
      buckets: [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 10],
      registers: [this.registry],
    });
    this.#locations = new Counter({ name: 'modelgate_admission_location_decisions_total', help: 'Model locations decided, by outcome', labelNames: ['outcome'], registers: [this.registry] });
    this.#cache = new Counter({ name: 'modelgate_admission_cache_lookups_total', help: 'Decision cache lookups: hit, shared (joined a running decision) or miss', labelNames: ['result'], registers: [this.registry] });
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
    childOf(this.#reviewsBy, `${decision} ${mode}`, () => this.#reviews.labels({ decision, mode })).inc();
    childOf(this.#durationBy, decision, () => this.#duration.labels({ decision })).observe(seconds);
    for (const { outcome } of result.summary.verdicts) childOf(this.#locationsBy, outcome, () => this.#locations.labels({ outcome })).inc();
  }

  cacheLookup(result: CacheResult): void {
    childOf(this.#cacheBy, result, () => this.#cache.labels({ result })).inc();
  }

  refused(code: string): void {
    this.#errors.inc({ code });
  }
}

function childOf<C>(children: Map<string, C>, key: string, create: () => C): C {
  let child = children.get(key);
  if (child === undefined) children.set(key, (child = create()));
  return child;
}
