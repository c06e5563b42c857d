/**
 * Write cosign's legacy tag-based evidence: the `sha256-<hex>.sig` and `sha256-<hex>.att` manifests
 * next to an artifact (formats.md §1.5), in the shape `cosign sign --key` / `cosign attest --key` write
 * and `src/sigstore/cosign-evidence.ts` reads.
 *
 * Owns: the simple-signing payload (`critical.identity.docker-reference`, `critical.image.
 * docker-manifest-digest`, `critical.type`), its detached signature (`dev.cosignproject.cosign/signature`:
 * ECDSA over SHA-256 for every curve — cosign loads legacy signing keys with SHA-256, and the legacy
 * reader rebuilds the layer as a bundle with a SHA2_256 message digest; Ed25519 signs the payload
 * itself), the `.att` DSSE-envelope layer with its `predicateType` annotation, and the read-modify-write
 * of the tag: the existing manifest's layers are kept, a layer with the same digest is not added twice,
 * and the new manifest (with a matching OCI image config, `rootfs.diff_ids` = layer digests) replaces
 * the tag. Registries offer no compare-and-swap on tags, so two writers racing on one tag can lose a
 * layer — the same limitation cosign has.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { hasCode, OciError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { MediaType, type Descriptor } from '../oci/manifest.ts';
import type { ArtifactStore, CallOptions } from '../oci/store.ts';
import { cosignTag, type CosignTagKind } from '../oci/tag-schema.ts';
import { CosignAnnotation } from '../sigstore/cosign-legacy.ts';
import { SIMPLE_SIGNING_TYPE } from '../sigstore/cosign-payload.ts';
import { signatureHashFor } from '../sigstore/keys.ts';
import { SigningError } from './errors.ts';

/** The simple-signing payload cosign signs for an image (`optional` holds `-a key=value` annotations). */
export function simpleSigningPayload(subject: Digest, dockerReference: string, optional: Readonly<Record<string, string>> | null = null): Buffer {
  const payload = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': subject },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: optional === null || Object.keys(optional).length === 0 ? null : optional,
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

function signDetached(payload: Uint8Array, privateKey: KeyObject): string {
  if (privateKey.type !== 'private') throw new SigningError('KEY_FORMAT', `signing needs a private key, got a ${privateKey.type} key`);
  let hash;
  try {
    hash = signatureHashFor(createPublicKey(privateKey)) === null ? null : 'sha256';
  } catch (err) {
    throw new SigningError('KEY_FORMAT', `unsupported signing key: ${(err as Error).message}`, { cause: err });
  }
  return sign(hash, payload, privateKey).toString('base64'); // ECDSA: ASN.1 DER; Ed25519: pure EdDSA
}

interface LegacyLayer {
  readonly bytes: Buffer;
  readonly mediaType: string;
  readonly annotations: Readonly<Record<string, string>>;
}

async function existingLayers(store: ArtifactStore, subject: Digest, kind: CosignTagKind, call: CallOptions): Promise<Descriptor[]> {
  try {
    const fetched = await store.fetchManifest(cosignTag(subject, kind), call);
    if (fetched.manifest.kind !== 'manifest') throw new SigningError('SIGNING_IO', `${cosignTag(subject, kind)} in ${store.name} is an image index, not a cosign manifest; refusing to overwrite it`);
    return [...fetched.manifest.layers];
  } catch (err) {
    if (hasCode(err, OciError, 'NOT_FOUND')) return [];
    throw err;
  }
}

/** Add `layer` to the `kind` tag of `subject` (read-modify-write); returns the new tag manifest's descriptor. */
async function appendLegacyLayer(store: ArtifactStore, subject: Digest, kind: CosignTagKind, layer: LegacyLayer, call: CallOptions): Promise<Descriptor> {
  const pushed = await store.pushBlob({ kind: 'bytes', bytes: layer.bytes, mediaType: layer.mediaType }, call);
  const previous = await existingLayers(store, subject, kind, call);
  const added: Descriptor = { mediaType: layer.mediaType, digest: pushed.digest, size: pushed.size, annotations: { ...layer.annotations } };
  const sameSignature = (d: Descriptor): boolean => d.digest === added.digest && JSON.stringify(d.annotations ?? {}) === JSON.stringify(added.annotations);
  const layers = previous.some(sameSignature) ? previous : [...previous, added];
  const config = Buffer.from(
    JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }),
  );
  const configDescriptor = await store.pushBlob({ kind: 'bytes', bytes: config, mediaType: MediaType.OCI_CONFIG }, call);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: { mediaType: MediaType.OCI_CONFIG, digest: configDescriptor.digest, size: configDescriptor.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}) })),
  };
  return store.pushManifest(Buffer.from(JSON.stringify(manifest)), MediaType.OCI_MANIFEST, { ...call, tag: cosignTag(subject, kind) });
}

export interface LegacySignatureOptions extends CallOptions {
  /** `critical.identity.docker-reference` (cosign: the repository, `host/repo`). */
  readonly dockerReference: string;
  /** Claims recorded in the payload's `optional` section. */
  readonly annotations?: Readonly<Record<string, string>>;
}

function callOf(options: CallOptions): CallOptions {
  return { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
}

/** Sign `subject` with a simple-signing payload and add it to its `.sig` tag. */
export async function attachLegacySignature(store: ArtifactStore, subject: Digest, privateKey: KeyObject, options: LegacySignatureOptions): Promise<Descriptor> {
  const payload = simpleSigningPayload(subject, options.dockerReference, options.annotations ?? null);
  const signature = signDetached(payload, privateKey);
  return appendLegacyLayer(store, subject, 'sig', { bytes: payload, mediaType: MediaType.COSIGN_SIMPLESIGNING, annotations: { [CosignAnnotation.SIGNATURE]: signature } }, callOf(options));
}

/** A DSSE envelope (JSON shape of a bundle's `dsseEnvelope`) as cosign stores it in a `.att` layer. */
export interface DsseEnvelopeJson {
  readonly payloadType: string;
  readonly payload: string;
  readonly signatures: ReadonlyArray<{ readonly sig: string; readonly keyid?: string }>;
}

/** Add a signed DSSE envelope about `subject` to its `.att` tag, annotated with `predicateType`. */
export async function attachLegacyAttestation(store: ArtifactStore, subject: Digest, envelope: DsseEnvelopeJson, predicateType: string, options: CallOptions = {}): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify({ payloadType: envelope.payloadType, payload: envelope.payload, signatures: envelope.signatures.map((s) => ({ keyid: s.keyid ?? '', sig: s.sig })) }));
  return appendLegacyLayer(store, subject, 'att', { bytes, mediaType: MediaType.DSSE_ENVELOPE, annotations: { [CosignAnnotation.PREDICATE_TYPE]: predicateType } }, callOf(options));
}
