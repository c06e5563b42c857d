/**
 * Attach a Sigstore bundle to an artifact as an OCI 1.1 referrer, in the shape cosign v3 writes
 * (`specs/BUNDLE_SPEC.md`; see `/work/shared/reference/formats.md` §1.6) and `collectEvidence` reads.
 *
 * Owns: the referrer manifest — artifactType `application/vnd.dev.sigstore.bundle.v0.3+json`, the OCI
 * empty config, exactly one layer holding the bundle JSON, `subject` = the artifact's manifest
 * descriptor, and the annotations `dev.sigstore.bundle.content` (`dsse-envelope` or
 * `message-signature`), `dev.sigstore.bundle.predicateType` and `org.opencontainers.image.created`
 * (RFC 3339 UTC, seconds). Pushing through `ArtifactStore.pushManifest` keeps the referrers
 * tag-schema index up to date on registries without the referrers API.
 */
import { UsageError } from '../errors.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, type Descriptor } from '../oci/manifest.ts';
import type { ArtifactStore, CallOptions } from '../oci/store.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../evidence/vocabulary.ts';
import { isRecord } from '../evidence/json.ts';

export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
export const CREATED_ANNOTATION = 'org.opencontainers.image.created';
/** What cosign writes as predicateType annotation of a message-signature bundle (no statement inside). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

export interface AttachBundleOptions extends CallOptions {
  /** Creation time recorded in the manifest (default: now). */
  readonly created?: Date;
}

type Json = Record<string, unknown>;

/** `dsse-envelope` + the statement's predicateType, or `message-signature` + cosign's sign type. */
function bundleAnnotations(bundle: Json): { content: 'dsse-envelope' | 'message-signature'; predicateType: string } {
  if (isRecord(bundle.dsseEnvelope)) {
    const { payload, payloadType } = bundle.dsseEnvelope;
    if (typeof payload !== 'string') throw new UsageError('USAGE', 'bundle dsseEnvelope.payload must be a base64 string');
    let predicateType: unknown;
    if (payloadType === IN_TOTO_PAYLOAD_TYPE) {
      try {
        predicateType = (JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as Json).predicateType;
      } catch {
        predicateType = undefined;
      }
    }
    if (typeof predicateType !== 'string' || predicateType === '') throw new UsageError('USAGE', 'bundle DSSE payload is not an in-toto statement with a predicateType');
    return { content: 'dsse-envelope', predicateType };
  }
  if (isRecord(bundle.messageSignature)) return { content: 'message-signature', predicateType: COSIGN_SIGN_PREDICATE_TYPE };
  throw new UsageError('USAGE', 'bundle has neither dsseEnvelope nor messageSignature');
}

/**
 * Push `bundleJson` (a Sigstore bundle v0.3: object, JSON text or bytes) as a referrer of `subject`
 * into `store`; returns the referrer manifest's descriptor. The bundle is stored byte-for-byte as given
 * (objects are serialised once with `JSON.stringify`).
 */
export async function attachBundle(store: ArtifactStore, subject: Descriptor, bundleJson: unknown, options: AttachBundleOptions = {}): Promise<Descriptor> {
  const bytes = typeof bundleJson === 'string' || bundleJson instanceof Uint8Array ? Buffer.from(bundleJson) : Buffer.from(JSON.stringify(bundleJson));
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new UsageError('USAGE', `bundle is not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(parsed)) throw new UsageError('USAGE', 'bundle must be a JSON object');
  if (parsed.mediaType !== MediaType.SIGSTORE_BUNDLE_V03) {
    throw new UsageError('USAGE', `only ${MediaType.SIGSTORE_BUNDLE_V03} bundles are attached as referrers, got ${JSON.stringify(parsed.mediaType)}`);
  }
  const { content, predicateType } = bundleAnnotations(parsed);
  const call: CallOptions = { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
  const layer = await store.pushBlob({ kind: 'bytes', bytes, mediaType: MediaType.SIGSTORE_BUNDLE_V03 }, call);
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY }, call);
  const created = (options.created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: MediaType.SIGSTORE_BUNDLE_V03,
    config: { ...EMPTY_DESCRIPTOR, artifactType: MediaType.SIGSTORE_BUNDLE_V03 },
    layers: [{ mediaType: MediaType.SIGSTORE_BUNDLE_V03, digest: layer.digest, size: layer.size }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      [CREATED_ANNOTATION]: created,
      [BUNDLE_CONTENT_ANNOTATION]: content,
      [BUNDLE_PREDICATE_TYPE_ANNOTATION]: predicateType,
    },
  };
  return store.pushManifest(Buffer.from(JSON.stringify(manifest)), MediaType.OCI_MANIFEST, call);
}
