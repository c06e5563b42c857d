/**
 * The lineage annotations `modelgate push` records on a model manifest: which dataset, training code,
 * training container and hyperparameters produced the model.
 *
 * Owns: the annotation keys and the validation of their values (a dataset digest must be a digest, a
 * dataset reference must be pinned by digest, the hyperparameters must be a JSON object, stored
 * compactly), so that what is pushed is what the policy can read back.
 */
import { UsageError } from '../errors.ts';
import { parseDigest } from '../oci/digest.ts';
import { parseReference } from '../oci/reference.ts';

export const LineageAnnotation = {
  DATASET_DIGEST: 'org.ml.dataset.digest',
  DATASET_OCI_REF: 'org.ml.dataset.oci-ref',
  TRAINING_CODE: 'org.ml.training.code',
  TRAINING_CONTAINER: 'org.ml.training.container',
  HYPERPARAMS: 'org.ml.hyperparams',
} as const;

export interface Lineage {
  /** Digest of the dataset manifest (`sha256:<hex>`). */
  readonly datasetDigest?: string;
  /** Where the dataset lives, pinned: `oci://host/repo@sha256:…`. */
  readonly datasetOciRef?: string;
  /** Training code location (e.g. `git+https://host/repo@<commit>`). */
  readonly trainingCode?: string;
  /** Training container image, pinned by digest. */
  readonly trainingContainer?: string;
  /** Hyperparameters: JSON text of an object. */
  readonly hyperparams?: string;
}

function pinned(value: string, what: string): void {
  const ref = parseReference(value);
  if (ref.digest === undefined) throw new UsageError('USAGE', `${what} ${value} must be pinned by digest (…@sha256:<hex>)`);
}

/** Validate `lineage` and return the manifest annotations it stands for (absent fields omitted). */
export function lineageAnnotations(lineage: Lineage): Record<string, string> {
  const out: Record<string, string> = {};
  if (lineage.datasetDigest !== undefined) {
    parseDigest(lineage.datasetDigest);
    out[LineageAnnotation.DATASET_DIGEST] = lineage.datasetDigest;
  }
  if (lineage.datasetOciRef !== undefined) {
    pinned(lineage.datasetOciRef, 'dataset reference');
    out[LineageAnnotation.DATASET_OCI_REF] = lineage.datasetOciRef;
  }
  if (lineage.trainingCode !== undefined) {
    if (lineage.trainingCode.trim() === '') throw new UsageError('USAGE', 'training code location is empty');
    out[LineageAnnotation.TRAINING_CODE] = lineage.trainingCode;
  }
  if (lineage.trainingContainer !== undefined) {
    pinned(lineage.trainingContainer, 'training container');
    out[LineageAnnotation.TRAINING_CONTAINER] = lineage.trainingContainer;
  }
  if (lineage.hyperparams !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(lineage.hyperparams);
    } catch (err) {
      throw new UsageError('USAGE', `hyperparameters are not valid JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('USAGE', 'hyperparameters must be a JSON object');
    out[LineageAnnotation.HYPERPARAMS] = JSON.stringify(parsed);
  }
  return out;
}
