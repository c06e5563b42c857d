/**
 * Prometheus metrics of the admission webhook (served on the plain-HTTP metrics port).
 *
 * Owns: `AdmissionMetrics` — one prom-client registry (not the global one) with reviews by decision
 * and mode, review duration, location decisions by outcome, and decision-cache lookups by result
 * (hit / shared / miss), plus the default process metrics.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheResult } from './decision-cache.ts';
import type { ReviewResult } from './review.ts';

export class AdmissionMetrics {
  readonly registry = new Registry();
  readonly #reviews: Counter<'decision' | 'mode'>;
  readonly #duration: Histogram<'decision'>;
  readonly #locations: Counter<'outcome'>;
  readonly #cache: Counter<'result'>;
  readonly #errors: Counter<'code'>;

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
  }

  reviewed(result: ReviewResult, seconds: number): void {
    this.#reviews.inc({ decision: result.summary.decision, mode: result.summary.mode });
    this.#duration.observe({ decision: result.summary.decision }, seconds);
    for (const verdict of result.summary.verdicts) this.#locations.inc({ outcome: verdict.outcome });
  }

  cacheLookup(result: CacheResult): void {
    this.#cache.inc({ result });
  }

  refused(code: string): void {
    this.#errors.inc({ code });
  }
}
