/**
 * The evaluation attestation `modelgate attest evaluate` emits (documented in
 * `docs/training-provenance.md`, "Evaluation attestations"): an in-toto Test Result v0.1 predicate
 * (`https://in-toto.io/attestation/test-result/v0.1`) whose tests are the metrics compared with a
 * reference evaluation, plus two additions: `metrics` (name → number, the shape of modelgate's own
 * `https://modelgate.dev/evaluation/v1` predicate, so the policy and `explain` read both alike) and
 * the `modelgateEvaluation` extension field (evaluator, reference, per-metric comparisons).
 *
 * Owns: parsing metrics (a flat JSON object name → finite number; NaN/Infinity written by Python's
 * `json.dump` are parsed so the offending metric can be named), parsing `--tolerance [NAME=]ABS|REL%`,
 * comparing metrics with a reference's (per-metric PASSED / WARNED / FAILED and the overall result),
 * and building the predicate. Pure: reading files, running the evaluator and signing are elsewhere
 * (`evaluation-run.ts`, `evaluation-reference.ts`).
 */
import JSON5 from 'json5';
import { EmitError } from './errors.ts';
import { isRecord } from '../evidence/json.ts';

export const TEST_RESULT_PREDICATE_TYPE = 'https://in-toto.io/attestation/test-result/v0.1';
/** Extension field of the predicate (in-toto parsing rules: unlikely to collide, no `.` or `$`). */
export const EVALUATION_EXTENSION = 'modelgateEvaluation';
export const MAX_METRICS = 10_000;
const MAX_METRIC_NAME = 256;

/** Metric name → value, names in code-point order. */
export type Metrics = Readonly<Record<string, number>>;

export type TestResult = 'PASSED' | 'WARNED' | 'FAILED';

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value); // NaN, Infinity, -Infinity
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}

/** Validate a parsed metrics value: a flat object of at most MAX_METRICS names, each a finite number. */
export function validateMetrics(value: unknown, what: string): Metrics {
  if (!isRecord(value)) throw new EmitError('METRICS', `${what} must be a JSON object of metric name → number, got ${describeValue(value)}`);
  const names = Object.keys(value);
  if (names.length === 0) throw new EmitError('METRICS', `${what} holds no metrics`);
  if (names.length > MAX_METRICS) throw new EmitError('METRICS', `${what} holds ${names.length} metrics, more than ${MAX_METRICS}`);
  const metrics: Record<string, number> = {};
  for (const name of names.sort(byCodePoint)) {
    if (name === '' || name.length > MAX_METRIC_NAME || /\p{Cc}/u.test(name) || !name.isWellFormed()) {
      throw new EmitError('METRICS', `${what}: metric name ${JSON.stringify(name.slice(0, 80))} must be 1–${MAX_METRIC_NAME} characters without control characters`);
    }
    const metric = value[name];
    if (typeof metric !== 'number') throw new EmitError('METRICS', `${what}: metric "${name}" must be a number, got ${describeValue(metric)}`);
    if (!Number.isFinite(metric)) throw new EmitError('METRICS', `${what}: metric "${name}" is ${describeValue(metric)}, not a finite number`);
    metrics[name] = metric;
  }
  return metrics;
}

/**
 * Parse a metrics file. JSON5 rather than JSON.parse so `NaN` and `Infinity` (what `json.dump`
 * writes for non-finite floats by default) parse and are then refused by name; numbers too large
 * for a double (1e999) parse to Infinity and are refused the same way.
 */
export function parseMetrics(text: string, what: string): Metrics {
  let value: unknown;
  try {
    value = JSON5.parse(text);
  } catch (err) {
    throw new EmitError('METRICS', `${what} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateMetrics(value, what);
}

export interface Tolerance {
  readonly kind: 'absolute' | 'relative';
  /** Absolute difference allowed, or the percentage of the reference value. */
  readonly value: number;
  /** As written: `0.01` or `1%`. */
  readonly spec: string;
}

export interface Tolerances {
  readonly default: Tolerance;
  readonly perMetric: ReadonlyMap<string, Tolerance>;
}

export const DEFAULT_TOLERANCE: Tolerance = { kind: 'relative', value: 1, spec: '1%' };

const AMOUNT = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseAmount(text: string, option: string): Tolerance {
  const relative = text.endsWith('%');
  const number = relative ? text.slice(0, -1) : text;
  const value = Number(number);
  if (!AMOUNT.test(number) || !Number.isFinite(value)) {
    throw new EmitError('TOLERANCE', `--tolerance ${JSON.stringify(option)}: "${text}" is neither an absolute amount (0.01) nor a percentage of the reference (1%)`);
  }
  return { kind: relative ? 'relative' : 'absolute', value, spec: text };
}

/**
 * `--tolerance` values: `[NAME=]ABS` or `[NAME=]REL%`, at most one without a name (the default,
 * otherwise 1%) and one per name. A name is split at the last `=`, so metric names may hold `=`.
 */
export function parseTolerances(specs: readonly string[]): Tolerances {
  let fallback: Tolerance | undefined;
  const perMetric = new Map<string, Tolerance>();
  for (const spec of specs) {
    const eq = spec.lastIndexOf('=');
    const tolerance = parseAmount(spec.slice(eq + 1), spec);
    if (eq < 0) {
      if (fallback !== undefined) throw new EmitError('TOLERANCE', `--tolerance without a metric name given twice (${fallback.spec}, ${spec}); name the metric: NAME=${spec}`);
      fallback = tolerance;
      continue;
    }
    const name = spec.slice(0, eq);
    if (name === '') throw new EmitError('TOLERANCE', `--tolerance ${JSON.stringify(spec)}: empty metric name before "="`);
    if (perMetric.has(name)) throw new EmitError('TOLERANCE', `--tolerance for metric "${name}" given twice`);
    perMetric.set(name, tolerance);
  }
  return { default: fallback ?? DEFAULT_TOLERANCE, perMetric };
}

export interface MetricComparison {
  readonly metric: string;
  readonly result: TestResult;
  /** `missing`: in the reference, not in this evaluation; `unreferenced`: new in this evaluation. */
  readonly reason: 'within-tolerance' | 'out-of-tolerance' | 'missing' | 'unreferenced';
  readonly value: number | null;
  readonly reference: number | null;
  /** |value − reference|, when both exist. */
  readonly difference: number | null;
  /** Largest difference allowed, when compared. */
  readonly allowed: number | null;
  readonly tolerance: string | null;
}

export interface MetricsComparison {
  readonly result: TestResult;
  readonly comparisons: readonly MetricComparison[];
}

/**
 * Compare `metrics` with `reference`: every reference metric must be present and within its
 * tolerance (|value − reference| ≤ ABS, or ≤ REL % of |reference|; the bound is inclusive and the
 * rounding error of the subtraction itself is forgiven). Metrics new in this evaluation are WARNED.
 * A per-metric tolerance naming a metric neither side has is refused (a typo would silently apply
 * the default).
 */
export function compareMetrics(metrics: Metrics, reference: Metrics, tolerances: Tolerances): MetricsComparison {
  for (const name of tolerances.perMetric.keys()) {
    if (!(name in metrics) && !(name in reference)) {
      throw new EmitError('TOLERANCE', `--tolerance names metric "${name}", which neither this evaluation nor the reference has (metrics: ${Object.keys(reference).slice(0, 20).join(', ')})`);
    }
  }
  const names = [...new Set([...Object.keys(reference), ...Object.keys(metrics)])].sort(byCodePoint);
  const comparisons = names.map((metric): MetricComparison => {
    const value = Object.hasOwn(metrics, metric) ? metrics[metric]! : null;
    const ref = Object.hasOwn(reference, metric) ? reference[metric]! : null;
    const tolerance = tolerances.perMetric.get(metric) ?? tolerances.default;
    if (ref === null) return { metric, result: 'WARNED', reason: 'unreferenced', value, reference: null, difference: null, allowed: null, tolerance: null };
    if (value === null) return { metric, result: 'FAILED', reason: 'missing', value: null, reference: ref, difference: null, allowed: null, tolerance: tolerance.spec };
    const difference = Math.abs(value - ref);
    const allowed = tolerance.kind === 'absolute' ? tolerance.value : (Math.abs(ref) * tolerance.value) / 100;
    const rounding = 4 * Number.EPSILON * Math.max(Math.abs(value), Math.abs(ref));
    const within = difference <= allowed + rounding;
    return { metric, result: within ? 'PASSED' : 'FAILED', reason: within ? 'within-tolerance' : 'out-of-tolerance', value, reference: ref, difference, allowed, tolerance: tolerance.spec };
  });
  const result: TestResult = comparisons.some((c) => c.result === 'FAILED') ? 'FAILED' : comparisons.some((c) => c.result === 'WARNED') ? 'WARNED' : 'PASSED';
  return { result, comparisons };
}

/** What the predicate records about the reference evaluation. */
export interface ReferenceRecord {
  /** ResourceDescriptor of the reference file (uri, digest, kind annotation). */
  readonly descriptor: Record<string, unknown>;
  /** Whether its signature was verified, and by what. */
  readonly verified: boolean;
  readonly signer?: string;
  /** Subjects of the reference statement (the earlier model), when it was one. */
  readonly subject?: readonly unknown[];
  readonly metrics: Metrics;
}

export interface EvaluatorRecord {
  readonly command: readonly string[];
  readonly workingDirectory: string;
  readonly exitCode: number;
  readonly startedOn: Date;
  readonly finishedOn: Date;
}

export interface EvaluationFacts {
  readonly metrics: Metrics;
  /** ResourceDescriptors of what configured the evaluation: source, datasets, the metrics file. */
  readonly configuration: readonly Record<string, unknown>[];
  readonly url?: string;
  readonly evaluator?: EvaluatorRecord;
  readonly reference?: ReferenceRecord;
  readonly comparison?: MetricsComparison;
}

const testsWith = (comparison: MetricsComparison | undefined, result: TestResult): string[] =>
  (comparison?.comparisons ?? []).filter((c) => c.result === result).map((c) => c.metric);

/**
 * The Test Result predicate. Without a reference nothing is compared: `result` is PASSED (the
 * evaluation ran and every metric is finite) and the test lists are empty.
 */
export function evaluationPredicate(facts: EvaluationFacts): Record<string, unknown> {
  const configuration = [...facts.configuration, ...(facts.reference === undefined ? [] : [facts.reference.descriptor])];
  return {
    result: facts.comparison?.result ?? 'PASSED',
    configuration,
    ...(facts.url === undefined ? {} : { url: facts.url }),
    passedTests: testsWith(facts.comparison, 'PASSED'),
    warnedTests: testsWith(facts.comparison, 'WARNED'),
    failedTests: testsWith(facts.comparison, 'FAILED'),
    metrics: { ...facts.metrics },
    [EVALUATION_EXTENSION]: {
      ...(facts.evaluator === undefined
        ? {}
        : {
            evaluator: {
              command: [...facts.evaluator.command],
              workingDirectory: facts.evaluator.workingDirectory,
              exitCode: facts.evaluator.exitCode,
              startedOn: facts.evaluator.startedOn.toISOString(),
              finishedOn: facts.evaluator.finishedOn.toISOString(),
            },
          }),
      ...(facts.reference === undefined
        ? {}
        : {
            reference: {
              ...facts.reference.descriptor,
              verified: facts.reference.verified,
              ...(facts.reference.signer === undefined ? {} : { signer: facts.reference.signer }),
              ...(facts.reference.subject === undefined ? {} : { subject: facts.reference.subject }),
              metrics: { ...facts.reference.metrics },
            },
          }),
      ...(facts.comparison === undefined ? {} : { comparisons: facts.comparison.comparisons.map((c) => ({ ...c })) }),
    },
  };
}

/** The metrics recorded in an evaluation predicate (from a reference statement). */
export function metricsOfPredicate(predicate: Readonly<Record<string, unknown>>, what: string): Metrics {
  if (!('metrics' in predicate)) {
    throw new EmitError('REFERENCE', `${what} is a test-result attestation without "metrics": not written by modelgate attest evaluate`);
  }
  try {
    return validateMetrics(predicate.metrics, `${what} (predicate.metrics)`);
  } catch (err) {
    throw new EmitError('REFERENCE', (err as Error).message, { cause: err });
  }
}
