/**
 * Where KServe resources name model artifacts.
 *
 * Owns: `extractLocations`, the list of (storage URI, field path) pairs of an admitted object, for the
 * kinds the webhook reviews: InferenceService (`serving.kserve.io/v1beta1`), TrainedModel
 * (`v1alpha1`) and LLMInferenceService (`v1alpha1`/`v1alpha2`). Field shapes follow
 * `/work/shared/reference/models-kserve-oms.md` §2.1. The extractor is deliberately broad (fail
 * closed): any component child object carrying a string `storageUri` (model, the framework specs,
 * `art`), `storageUris[].uri`, and the `STORAGE_URI` env of every container (custom predictors,
 * transformers, explainers, `workerSpec`) of the predictor, transformer, explainer and each
 * `canary[]` entry. Values that are present but not strings are reported too (as `malformed`), so
 * a review can refuse them instead of silently skipping them.
 */

export const ADMITTED_KINDS = ['InferenceService', 'TrainedModel', 'LLMInferenceService'] as const;
export type AdmittedKind = (typeof ADMITTED_KINDS)[number];

export function isAdmittedKind(kind: string): kind is AdmittedKind {
  return (ADMITTED_KINDS as readonly string[]).includes(kind);
}

export type ModelLocation =
  | { readonly kind: 'uri'; readonly uri: string; /** e.g. `spec.predictor.storageUris[0].uri` */ readonly fieldPath: string }
  /** A field that should hold a URI but holds something else (number, object, empty string). */
  | { readonly kind: 'malformed'; readonly fieldPath: string }
  /**
   * A model named only indirectly — KServe's `storage: {key, path}` spec, whose URI lives in a storage
   * Secret that is resolved at injection time. Admission cannot see what will load, so it is reported
   * (and denied: fail closed) instead of being skipped.
   */
  | { readonly kind: 'indirect'; readonly fieldPath: string };

/** The environment variable KServe custom containers read their model location from. */
export const STORAGE_URI_ENV = 'STORAGE_URI';

const COMPONENTS = ['predictor', 'transformer', 'explainer'] as const;

type Json = Record<string, unknown>;

function record(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

class Collector {
  readonly found: ModelLocation[] = [];

  uri(value: unknown, fieldPath: string): void {
    if (value === undefined || value === null) return;
    if (typeof value === 'string' && value.trim() !== '') this.found.push({ kind: 'uri', uri: value, fieldPath });
    else this.found.push({ kind: 'malformed', fieldPath });
  }

  /** `STORAGE_URI` env entries of a list of containers. */
  containers(value: unknown, path: string): void {
    for (const [i, container] of list(value).entries()) {
      for (const [j, env] of list(record(container)?.['env']).entries()) {
        const entry = record(env);
        if (entry?.['name'] === STORAGE_URI_ENV) this.uri(entry['value'] ?? '', `${path}[${i}].env[${j}].value`);
      }
    }
  }

  /** One InferenceService component (predictor, transformer, explainer). */
  component(value: unknown, path: string): void {
    const spec = record(value);
    if (spec === undefined) return;
    for (const [key, child] of Object.entries(spec)) {
      const childRecord = record(child);
      if (childRecord !== undefined && 'storageUri' in childRecord) this.uri(childRecord['storageUri'], `${path}.${key}.storageUri`);
      else if (childRecord !== undefined && record(childRecord['storage']) !== undefined) this.found.push({ kind: 'indirect', fieldPath: `${path}.${key}.storage` });
    }
    for (const [i, entry] of list(spec['storageUris']).entries()) this.uri(record(entry)?.['uri'], `${path}.storageUris[${i}].uri`);
    this.containers(spec['containers'], `${path}.containers`);
    this.containers(spec['initContainers'], `${path}.initContainers`);
    const worker = record(spec['workerSpec']);
    if (worker !== undefined) this.containers(worker['containers'], `${path}.workerSpec.containers`);
  }
}

/**
 * Every model location of `object` (the admitted resource, as in the AdmissionReview) with its
 * field path. An object without `spec` has none.
 */
export function extractLocations(kind: AdmittedKind, object: unknown): ModelLocation[] {
  const collector = new Collector();
  const spec = record(record(object)?.['spec']);
  if (spec === undefined) return collector.found;
  switch (kind) {
    case 'InferenceService': {
      for (const component of COMPONENTS) collector.component(spec[component], `spec.${component}`);
      for (const [i, canary] of list(spec['canary']).entries()) {
        for (const component of COMPONENTS) collector.component(record(canary)?.[component], `spec.canary[${i}].${component}`);
      }
      break;
    }
    case 'TrainedModel':
      collector.uri(record(spec['model'])?.['storageUri'], 'spec.model.storageUri');
      break;
    case 'LLMInferenceService': {
      const model = record(spec['model']);
      collector.uri(model?.['uri'], 'spec.model.uri');
      for (const [i, adapter] of list(record(model?.['lora'])?.['adapters']).entries()) collector.uri(record(adapter)?.['uri'], `spec.model.lora.adapters[${i}].uri`);
      break;
    }
  }
  return collector.found;
}
