/**
 * The training datasets named on the command line (`--dataset`, `--dataset-manifest`).
 *
 * Owns: turning those options into the `DatasetInput`s of training provenance and evaluations.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { parseDatasetManifest } from '../dataset/manifest.ts';
import type { DatasetInput } from '../emit/training-provenance.ts';
import { parseReference, repositoryName } from '../oci/reference.ts';

/** `--dataset oci://host/repo@sha256:…`: the dataset artifact, pinned. */
export function datasetFromReference(text: string): DatasetInput {
  const ref = parseReference(text);
  if (ref.digest === undefined) throw new UsageError('USAGE', `--dataset ${text} must be pinned by digest (…@sha256:<hex>)`);
  return { uri: ref.kind === 'registry' ? `oci://${repositoryName(ref)}` : repositoryName(ref), digest: ref.digest };
}

/** `--dataset-manifest [URI=]FILE`: a modelgate dataset manifest; digest = sha256 of the file (what `dataset sign` signs). */
export async function datasetFromManifest(spec: string): Promise<DatasetInput> {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^=]+)=(.+)$/.exec(spec);
  const path = match === null ? spec : match[2]!;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new UsageError('USAGE', `cannot read dataset manifest ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const manifest = parseDatasetManifest(bytes);
  return { uri: match === null ? `file://${resolve(path)}` : match[1]!, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, merkleRoot: manifest.merkleRoot };
}
