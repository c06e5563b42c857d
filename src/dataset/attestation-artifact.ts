/**
 * A dataset manifest as an OCI artifact (`modelgate dataset push`), and the digest it will have.
 *
 * Owns: the artifact's shape — OCI image manifest, `artifactType`
 * `application/vnd.modelgate.dataset.manifest.v1+json`, the OCI empty config, exactly one layer
 * holding the dataset manifest bytes as given (media type = the dataset manifest type, so the layer
 * digest is the sha256 `attest run --dataset-manifest` records), and one annotation
 * `dev.modelgate.dataset.merkle-root`. No time stamps: the same manifest bytes always make the same
 * artifact digest, which is why `dataset attest` can name that digest as a second statement subject
 * before anything is pushed (so `verify-signatures oci://…@<digest>` finds its attestation).
 */
import { UsageError } from '../errors.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, type Descriptor } from '../oci/manifest.ts';
import type { ArtifactStore, CallOptions } from '../oci/store.ts';
import { DATASET_MANIFEST_MEDIA_TYPE, parseDatasetManifest } from './manifest.ts';

export const DATASET_ARTIFACT_TYPE = DATASET_MANIFEST_MEDIA_TYPE;
export const MERKLE_ROOT_ANNOTATION = 'dev.modelgate.dataset.merkle-root';

export interface DatasetArtifact {
  /** The OCI image manifest JSON. */
  readonly bytes: Buffer;
  readonly digest: Digest;
  /** The layer: the dataset manifest bytes. */
  readonly layer: Descriptor;
}

/** The OCI manifest `dataset push` writes for these dataset-manifest bytes (checked to be a valid manifest). */
export function datasetArtifact(manifestBytes: Uint8Array): DatasetArtifact {
  const manifest = parseDatasetManifest(manifestBytes);
  const layer: Descriptor = { mediaType: DATASET_MANIFEST_MEDIA_TYPE, digest: digestOf(manifestBytes), size: manifestBytes.byteLength };
  const oci = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: DATASET_ARTIFACT_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: [layer],
    annotations: { [MERKLE_ROOT_ANNOTATION]: manifest.merkleRoot },
  };
  const bytes = Buffer.from(JSON.stringify(oci));
  return { bytes, digest: digestOf(bytes), layer };
}

/** Push the dataset manifest (blob, empty config, OCI manifest tagged `tag`); returns the manifest descriptor. */
export async function pushDatasetArtifact(store: ArtifactStore, manifestBytes: Uint8Array, tag: string, call: CallOptions = {}): Promise<Descriptor> {
  const artifact = datasetArtifact(manifestBytes);
  await store.pushBlob({ kind: 'bytes', bytes: manifestBytes, mediaType: DATASET_MANIFEST_MEDIA_TYPE }, call);
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY }, call);
  const written = await store.pushManifest(artifact.bytes, MediaType.OCI_MANIFEST, { ...call, tag });
  if (written.digest !== artifact.digest) throw new UsageError('USAGE', `internal: pushed dataset artifact ${written.digest}, expected ${artifact.digest}`);
  return written;
}
