/**
 * OCI / Docker manifest and index shapes, media types, and strict parsing of raw manifest bytes.
 *
 * Owns: the `Descriptor`, `ImageManifest`, `ImageIndex` types and `parseManifest`, which validates
 * untrusted JSON into one of them (or throws BAD_MANIFEST naming the bad field). Digest checking of the
 * raw bytes happens in the stores before parsing; nothing here re-serialises JSON.
 */
import { OciError } from '../errors.ts';
import { parseDigest, type Digest } from './digest.ts';
import { SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../evidence/vocabulary.ts';
import { isRecord } from '../evidence/json.ts';

export const MediaType = {
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER_TAR: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_TAR_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_TAR_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  COSIGN_SIMPLESIGNING: 'application/vnd.dev.cosign.simplesigning.v1+json',
  DSSE_ENVELOPE: 'application/vnd.dsse.envelope.v1+json',
  SIGSTORE_BUNDLE_V03: SIGSTORE_BUNDLE_V03_MEDIA_TYPE,
} as const;

/** Every manifest media type this client sends in `Accept` and knows how to parse. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OCI_MANIFEST,
  MediaType.OCI_INDEX,
  MediaType.DOCKER_MANIFEST,
  MediaType.DOCKER_LIST,
];

/** The OCI empty descriptor (`{}`), used as config of artifacts that have none. */
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MediaType.OCI_EMPTY,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' as Digest,
  size: 2,
};

/** Manifests larger than this are refused (the distribution spec asks clients to handle 4 MB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly artifactType?: string;
  readonly platform?: Platform;
  readonly urls?: readonly string[];
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Manifest = ImageManifest | ImageIndex;

/** A manifest as fetched: its verified raw bytes, its descriptor (digest of those bytes) and the parse. */
export interface FetchedManifest {
  readonly descriptor: Descriptor;
  readonly bytes: Buffer;
  readonly manifest: Manifest;
}

type Json = Record<string, unknown>;

function fail(where: string, why: string): never {
  throw new OciError('BAD_MANIFEST', `${where}: ${why}`);
}

function parseAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) fail(where, 'annotations must be an object of strings');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(where, `annotation "${k}" must be a string`);
  }
  return value as Record<string, string>;
}

export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) fail(where, 'descriptor must be an object');
  const { mediaType, digest, size, annotations, artifactType, platform, urls } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) fail(where, 'mediaType must be a non-empty string');
  if (typeof digest !== 'string') fail(where, 'digest must be a string');
  let parsedDigest: Digest;
  try {
    parsedDigest = parseDigest(digest);
  } catch (err) {
    fail(where, (err as Error).message);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail(where, 'size must be a non-negative integer');
  if (artifactType !== undefined && typeof artifactType !== 'string') fail(where, 'artifactType must be a string');
  const descriptor: { -readonly [K in keyof Descriptor]: Descriptor[K] } = { mediaType, digest: parsedDigest, size };
  const parsedAnnotations = parseAnnotations(annotations, where);
  if (parsedAnnotations) descriptor.annotations = parsedAnnotations;
  if (typeof artifactType === 'string') descriptor.artifactType = artifactType;
  if (isRecord(platform) && typeof platform.architecture === 'string' && typeof platform.os === 'string') {
    descriptor.platform = {
      architecture: platform.architecture,
      os: platform.os,
      ...(typeof platform.variant === 'string' ? { variant: platform.variant } : {}),
    };
  }
  if (Array.isArray(urls) && urls.every((u) => typeof u === 'string')) descriptor.urls = urls as string[];
  return descriptor;
}

/**
 * Parse raw manifest bytes. `headerMediaType` is the Content-Type (or the descriptor's media type) used
 * when the document itself has no `mediaType` field, as OCI allows.
 */
export function parseManifest(bytes: Uint8Array, headerMediaType?: string): Manifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new OciError('TOO_LARGE', `manifest is ${bytes.byteLength} bytes, limit ${MAX_MANIFEST_BYTES}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    fail('manifest', `not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(doc)) fail('manifest', 'must be a JSON object');
  if (doc.schemaVersion !== 2) fail('manifest', `schemaVersion must be 2, got ${JSON.stringify(doc.schemaVersion)}`);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const header = headerMediaType?.split(';')[0]?.trim();
  const mediaType = declared ?? (header && MANIFEST_MEDIA_TYPES.includes(header) ? header : undefined) ?? (Array.isArray(doc.manifests) ? MediaType.OCI_INDEX : MediaType.OCI_MANIFEST);
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
  const annotations = parseAnnotations(doc.annotations, 'manifest');
  const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'manifest.subject');
  const common = {
    schemaVersion: 2 as const,
    mediaType,
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
    ...(subject !== undefined ? { subject } : {}),
  };
  if (mediaType === MediaType.OCI_INDEX || mediaType === MediaType.DOCKER_LIST) {
    if (!Array.isArray(doc.manifests)) fail('index', 'manifests must be an array');
    return { kind: 'index', ...common, manifests: doc.manifests.map((d, i) => parseDescriptor(d, `index.manifests[${i}]`)) };
  }
  if (mediaType === MediaType.OCI_MANIFEST || mediaType === MediaType.DOCKER_MANIFEST) {
    if (!Array.isArray(doc.layers)) fail('manifest', 'layers must be an array');
    return {
      kind: 'manifest',
      ...common,
      config: parseDescriptor(doc.config, 'manifest.config'),
      layers: doc.layers.map((d, i) => parseDescriptor(d, `manifest.layers[${i}]`)),
    };
  }
  throw new OciError('UNSUPPORTED', `unsupported manifest media type "${mediaType}"`);
}

/** The artifact type of a manifest as the referrers API reports it: artifactType, else config media type. */
export function effectiveArtifactType(manifest: Manifest): string | undefined {
  if (manifest.artifactType !== undefined) return manifest.artifactType;
  return manifest.kind === 'manifest' ? manifest.config.mediaType : undefined;
}
