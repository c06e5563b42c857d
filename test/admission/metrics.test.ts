// The webhook's review metrics are recorded as plain numbers and handed to prom-client when read: what
// /metrics shows must be exactly what updating prom-client on every review shows.
import t from 'tap';
import { Counter, Histogram, Registry } from 'prom-client';
import { AdmissionMetrics } from '../../src/admission/metrics.ts';
import type { CacheResult } from '../../src/admission/decision-cache.ts';
import type { ReviewResult } from '../../src/admission/review.ts';

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 10];

/** The metrics as they were kept before: prom-client updated on every review. */
function liveReference(): { registry: Registry; reviewed: (r: ReviewResult, s: number) => void; cacheLookup: (c: CacheResult) => void } {
  const registry = new Registry();
  const reviews = new Counter({ name: 'modelgate_admission_reviews_total', help: 'AdmissionReviews answered, by decision and mode', labelNames: ['decision', 'mode'], registers: [registry] });
  const duration = new Histogram({ name: 'modelgate_admission_review_duration_seconds', help: 'Time to answer one AdmissionReview', labelNames: ['decision'], buckets: BUCKETS, registers: [registry] });
  const locations = new Counter({ name: 'modelgate_admission_location_decisions_total', help: 'Model locations decided, by outcome', labelNames: ['outcome'], registers: [registry] });
  const cache = new Counter({ name: 'modelgate_admission_cache_lookups_total', help: 'Decision cache lookups: hit, shared (joined a running decision) or miss', labelNames: ['result'], registers: [registry] });
  new Counter({ name: 'modelgate_admission_request_errors_total', help: 'Requests refused before review, by error code', labelNames: ['code'], registers: [registry] });
  return {
    registry,
    reviewed: (r, s) => {
      reviews.inc({ decision: r.summary.decision, mode: r.summary.mode });
      duration.observe({ decision: r.summary.decision }, s);
      for (const v of r.summary.verdicts) locations.inc({ outcome: v.outcome });
    },
    cacheLookup: (c) => cache.inc({ result: c }),
  };
}

const result = (decision: ReviewResult['summary']['decision'], mode: ReviewResult['summary']['mode'], outcomes: string[]): ReviewResult =>
  ({ review: {} as ReviewResult['review'], summary: { uid: 'u', resource: 'r', operation: 'CREATE', dryRun: false, mode, decision, verdicts: outcomes.map((outcome) => ({ outcome })) } }) as unknown as ReviewResult;

/** The admission series of a metrics page (the process metrics differ between registries). */
const admissionLines = (text: string): string => text.split('\n').filter((l) => l.includes('modelgate_admission_')).join('\n');

t.test('review metrics read from prom-client equal live updates, at every read and past the pending bound', async (t) => {
  const metrics = new AdmissionMetrics();
  const reference = liveReference();
  const kinds = [result('allow', 'enforce', ['allow']), result('deny', 'enforce', ['deny', 'allow']), result('warn', 'warn', ['unavailable']), result('allow', 'audit', [])];
  const lookups: CacheResult[] = ['hit', 'miss', 'hit', 'shared'];
  let reads = 0;
  for (let i = 0; i < 2_500; i++) {
    const r = kinds[(i * 7) % kinds.length]!;
    const seconds = ((i * 37) % 1000) / 1e5; // 0–10 ms, every bucket boundary region
    metrics.reviewed(r, seconds);
    reference.reviewed(r, seconds);
    metrics.cacheLookup(lookups[i % lookups.length]!);
    reference.cacheLookup(lookups[i % lookups.length]!);
    if (i === 0 || i === 700 || i === 2_499) {
      t.equal(admissionLines(await metrics.registry.metrics()), admissionLines(await reference.registry.metrics()), `read after ${i + 1} reviews`);
      reads++;
    }
  }
  t.equal(reads, 3);
  t.match(admissionLines(await metrics.registry.metrics()), /modelgate_admission_reviews_total\{decision="deny",mode="enforce"\} 625/);
});
