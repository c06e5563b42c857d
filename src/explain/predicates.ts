/**
 * How `modelgate explain` reads a verified attestation: one view per predicate type.
 *
 * Owns: `attestationView`. SLSA provenance (v1 and v0.2, through the one SLSA normaliser
 * `src/attest/provenance.ts`) becomes a build view — builder, source commit, datasets, containers,
 * lockfiles, other dependencies, parameters; in-toto test-result (and modelgate's evaluation
 * predicate) becomes an evaluation view — result, passed / warned / failed tests, numeric metrics;
 * modelgate's dataset attestation (`https://modelgate.dev/dataset/v1`) a dataset view — manifest,
 * sources, curation steps, licence; a CycloneDX or SPDX SBOM an SBOM view (`sbom-view.ts`); anything else is shown generically (its predicate as JSON, bounded). A predicate the normaliser
 * refuses is shown generically with the reason, never dropped.
 */
import { normalizeProvenancePredicate, isProvenancePredicateType, type ResolvedDependency } from '../attest/provenance.ts';
import { DATASET_PREDICATE_TYPE } from '../dataset/attestation.ts';
import { EVALUATION_EXTENSION } from '../emit/evaluation.ts';
import { EVALUATION_PREDICATE_V1 } from '../evidence/vocabulary.ts';
import { dependencyKind, type DependencyKind } from '../policy/input.ts';
import { sbomView, type SbomView } from './sbom-view.ts';
import { isRecord } from '../evidence/json.ts';

export const TEST_RESULT_PREDICATE_V01 = 'https://in-toto.io/attestation/test-result/v0.1';

/** Longest predicate JSON shown for an unknown predicate type (the JSON report is cut there too). */
export const MAX_GENERIC_PREDICATE_CHARS = 64 * 1024;

export interface DependencyView {
  readonly kind: DependencyKind;
  /** `lockfile` for lockfiles (`modelgate.dev/role`), else null. */
  readonly role: string | null;
  readonly uri: string | null;
  readonly name: string | null;
  /** `algorithm:hex` entries of the digest set. */
  readonly digests: readonly string[];
  readonly annotations: Readonly<Record<string, unknown>>;
}

export interface BuildView {
  readonly kind: 'build';
  readonly slsaVersion: string;
  readonly builderId: string;
  readonly buildType: string;
  readonly invocationId: string | null;
  readonly startedOn: string | null;
  readonly finishedOn: string | null;
  readonly source: { readonly uri: string; readonly repository: string; readonly ref: string | null; readonly commit: string | null } | null;
  readonly datasets: readonly DependencyView[];
  readonly containers: readonly DependencyView[];
  readonly lockfiles: readonly DependencyView[];
  /** Sources, models and other dependencies. */
  readonly otherDependencies: readonly DependencyView[];
  /** What the caller chose (v1 externalParameters: command, hyperparameters, seeds, …). */
  readonly externalParameters: Readonly<Record<string, unknown>>;
  /** What the platform provided (v1 internalParameters: determinism settings, hardware, runtimes, …). */
  readonly internalParameters: Readonly<Record<string, unknown>>;
}

export interface EvaluationView {
  readonly kind: 'evaluation';
  /** PASSED / WARNED / FAILED (test-result), or null. */
  readonly result: string | null;
  readonly passedTests: readonly string[];
  readonly warnedTests: readonly string[];
  readonly failedTests: readonly string[];
  /** Numeric metrics found in `metrics` (name → number). */
  readonly metrics: Readonly<Record<string, number>>;
  readonly configuration: readonly DependencyView[];
  readonly url: string | null;
  /** Per-metric comparison with a reference evaluation (`modelgateEvaluation.comparisons`, `attest evaluate --reference`). */
  readonly comparisons: readonly {
    readonly metric: string;
    readonly result: string | null;
    readonly value: number | null;
    readonly reference: number | null;
    readonly difference: number | null;
    readonly allowed: number | null;
    readonly tolerance: string | null;
  }[];
  /** Fields not rendered above, as they were signed. */
  readonly other: Readonly<Record<string, unknown>>;
}

export interface GenericView {
  readonly kind: 'generic';
  /** The predicate as JSON (cut at MAX_GENERIC_PREDICATE_CHARS). */
  readonly json: string;
  readonly truncated: boolean;
  /** Why a known predicate type could not be read in its specific form. */
  readonly note: string | null;
}

export interface DatasetView {
  readonly kind: 'dataset';
  readonly manifestDigest: string | null;
  readonly merkleRoot: string | null;
  readonly fileCount: number | null;
  readonly totalSize: number | null;
  readonly uri: string | null;
  /** Where the data came from: URI and `algorithm:hex` digests. */
  readonly sources: readonly { readonly uri: string; readonly digests: readonly string[] }[];
  readonly curation: readonly { readonly kind: string; readonly description: string | null; readonly tool: string | null; readonly parameters: Readonly<Record<string, unknown>> }[];
  readonly license: string | null;
}

export type AttestationView = BuildView | EvaluationView | DatasetView | SbomView | GenericView;

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

function dependencyView(dep: ResolvedDependency): DependencyView {
  const annotations = dep.annotations ?? {};
  return {
    kind: dependencyKind(dep.uri ?? dep.name ?? '', annotations),
    role: text(annotations['modelgate.dev/role']),
    uri: dep.uri ?? null,
    name: dep.name ?? null,
    digests: Object.entries(dep.digest).map(([algorithm, hex]) => `${algorithm}:${hex}`),
    annotations,
  };
}

function genericView(predicate: unknown, note: string | null): GenericView {
  const json = JSON.stringify(predicate, null, 2) ?? 'null';
  const truncated = json.length > MAX_GENERIC_PREDICATE_CHARS;
  return { kind: 'generic', json: truncated ? json.slice(0, MAX_GENERIC_PREDICATE_CHARS) : json, truncated, note };
}

function buildView(predicateType: string, predicate: Record<string, unknown>): BuildView {
  const slsa = normalizeProvenancePredicate(predicateType, predicate);
  const deps = slsa.resolvedDependencies.map(dependencyView);
  return {
    kind: 'build',
    slsaVersion: slsa.slsaVersion,
    builderId: slsa.builderId,
    buildType: slsa.buildType,
    invocationId: slsa.invocationId ?? null,
    startedOn: slsa.startedOn ?? null,
    finishedOn: slsa.finishedOn ?? null,
    source: slsa.source ? { uri: slsa.source.uri, repository: slsa.source.repository, ref: slsa.source.ref ?? null, commit: slsa.source.commit ?? null } : null,
    datasets: deps.filter((d) => d.kind === 'dataset'),
    containers: deps.filter((d) => d.kind === 'container'),
    lockfiles: deps.filter((d) => d.role === 'lockfile'),
    otherDependencies: deps.filter((d) => d.kind !== 'dataset' && d.kind !== 'container' && d.role !== 'lockfile'),
    externalParameters: slsa.externalParameters,
    internalParameters: slsa.internalParameters,
  };
}

const EVALUATION_FIELDS = new Set(['result', 'passedTests', 'warnedTests', 'failedTests', 'metrics', 'configuration', 'url']);

function evaluationView(predicate: Record<string, unknown>): EvaluationView {
  const metrics: Record<string, number> = {};
  if (isRecord(predicate.metrics)) {
    for (const [name, value] of Object.entries(predicate.metrics)) if (typeof value === 'number' && Number.isFinite(value)) metrics[name] = value;
  }
  const configuration = Array.isArray(predicate.configuration)
    ? predicate.configuration.filter(isRecord).map((entry) =>
        dependencyView({
          uri: text(entry.uri) ?? undefined,
          name: text(entry.name) ?? undefined,
          digest: isRecord(entry.digest) ? Object.fromEntries(Object.entries(entry.digest).filter((e): e is [string, string] => typeof e[1] === 'string')) : {},
          ...(isRecord(entry.annotations) ? { annotations: entry.annotations } : {}),
        }),
      )
    : [];
  const extension = isRecord(predicate[EVALUATION_EXTENSION]) ? predicate[EVALUATION_EXTENSION] : {};
  const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
  const comparisons = (Array.isArray(extension.comparisons) ? extension.comparisons.filter(isRecord) : []).map((c) => ({
    metric: text(c.metric) ?? '?',
    result: text(c.result),
    value: num(c.value),
    reference: num(c.reference),
    difference: num(c.difference),
    allowed: num(c.allowed),
    tolerance: text(c.tolerance),
  }));
  const { comparisons: _shown, ...restOfExtension } = extension;
  const other = Object.fromEntries(Object.entries(predicate).filter(([k]) => !EVALUATION_FIELDS.has(k)));
  if (Object.keys(restOfExtension).length > 0) other[EVALUATION_EXTENSION] = restOfExtension;
  else delete other[EVALUATION_EXTENSION];
  return {
    kind: 'evaluation',
    result: text(predicate.result),
    passedTests: strings(predicate.passedTests),
    warnedTests: strings(predicate.warnedTests),
    failedTests: strings(predicate.failedTests),
    metrics,
    configuration,
    url: text(predicate.url),
    comparisons,
    other,
  };
}

const count = (value: unknown): number | null => (typeof value === 'number' && Number.isSafeInteger(value) ? value : null);

function datasetView(predicate: Record<string, unknown>): DatasetView {
  const manifest = isRecord(predicate.manifest) ? predicate.manifest : {};
  const records = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? value.filter(isRecord) : []);
  return {
    kind: 'dataset',
    manifestDigest: text(manifest.digest),
    merkleRoot: text(manifest.merkleRoot),
    fileCount: count(manifest.fileCount),
    totalSize: count(manifest.totalSize),
    uri: text(manifest.uri),
    sources: records(predicate.sources).map((source) => ({
      uri: text(source.uri) ?? '?',
      digests: isRecord(source.digest) ? Object.entries(source.digest).map(([algorithm, hex]) => `${algorithm}:${String(hex)}`) : [],
    })),
    curation: records(predicate.curation).map((step) => ({
      kind: text(step.kind) ?? '?',
      description: text(step.description),
      tool: text(step.tool),
      parameters: isRecord(step.parameters) ? step.parameters : {},
    })),
    license: text(predicate.license),
  };
}

/** The view of one verified attestation's predicate. */
export function attestationView(predicateType: string, predicate: unknown): AttestationView {
  if (!isRecord(predicate)) return genericView(predicate, 'the predicate is not a JSON object');
  if (isProvenancePredicateType(predicateType)) {
    try {
      return buildView(predicateType, predicate);
    } catch (err) {
      return genericView(predicate, `not readable as SLSA provenance: ${(err as Error).message}`);
    }
  }
  if (predicateType === TEST_RESULT_PREDICATE_V01 || predicateType === EVALUATION_PREDICATE_V1) return evaluationView(predicate);
  if (predicateType === DATASET_PREDICATE_TYPE) return datasetView(predicate);
  return sbomView(predicateType, predicate) ?? genericView(predicate, null);
}
