/**
 * cosign's legacy OCI signature format (`sha256-<hex>.sig` / `.att` manifests) turned into Sigstore bundles.
 *
 * Owns: the cosign layer annotation keys, parsing of their values (the Rekor "RekorBundle" with its SET,
 * the RFC 3161 timestamp, the certificate and chain PEM) and `legacyLayerToBundle`, which rebuilds a
 * v0.1 Sigstore bundle (JSON) from one layer so that one verifier (`@sigstore/verify` via
 * `verifyBundle`) checks legacy and new-format evidence alike. v0.1 because legacy annotations carry a
 * SET but never an inclusion proof, which v0.2+ require (formats.md §1.2, §5.2).
 * Written by hand: no JavaScript library reads cosign's legacy annotations (cosign itself is Go).
 * Every value here is untrusted input: each malformed field is a BUNDLE_FORMAT error naming it.
 */
import { createHash } from 'node:crypto';
import { pem } from '@sigstore/core';
import { BUNDLE_V01_MEDIA_TYPE, type SerializedBundle, type SerializedEnvelope } from '@sigstore/bundle';
import type { Descriptor } from '../oci/manifest.ts';
import { MediaType } from '../oci/manifest.ts';
import { parseDsseEnvelope, decodeBase64Strict, type DsseSignature } from './dsse.ts';
import { VerificationError } from './errors.ts';
import { isRecord } from '../evidence/json.ts';

export const CosignAnnotation = {
  SIGNATURE: 'dev.cosignproject.cosign/signature',
  CERTIFICATE: 'dev.sigstore.cosign/certificate',
  CHAIN: 'dev.sigstore.cosign/chain',
  BUNDLE: 'dev.sigstore.cosign/bundle',
  RFC3161_TIMESTAMP: 'dev.sigstore.cosign/rfc3161timestamp',
  PREDICATE_TYPE: 'predicateType',
} as const;

/** Upper bound on any single annotation value we parse (a certificate chain is a few KiB). */
const MAX_ANNOTATION_CHARS = 256 * 1024;

export type LegacyLayerKind = 'signature' | 'attestation';

/** The transparency-log entry a legacy layer carries (cosign `RekorBundle`). */
export interface RekorSetEntry {
  /** Base64 of the canonicalized Rekor entry body. */
  readonly body: string;
  readonly integratedTime: number;
  readonly logIndex: number;
  /** Hex SHA-256 of the log's public key. */
  readonly logId: string;
  /** Base64 DER signature of the log over the canonical JSON of the four fields above. */
  readonly signedEntryTimestamp: string;
  /** `kind`/`apiVersion` read from the decoded body. */
  readonly kind: string;
  readonly version: string;
}

function bad(what: string, why: string): VerificationError {
  return new VerificationError('BUNDLE_FORMAT', `${what}: ${why}`);
}

/** Strictly decoded, non-empty, re-encoded as standard base64 (what the bundle JSON parser expects). */
function base64Field(value: unknown, what: string): string {
  const bytes = decodeBase64Strict(value, what);
  if (bytes.byteLength === 0) throw bad(what, 'is empty');
  return bytes.toString('base64');
}

function annotation(layer: Descriptor, key: string): string | undefined {
  const value = layer.annotations?.[key];
  if (value !== undefined && value.length > MAX_ANNOTATION_CHARS) throw bad(`annotation ${key}`, `longer than ${MAX_ANNOTATION_CHARS} characters`);
  return value;
}

function parseJsonAnnotation(text: string, key: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad(`annotation ${key}`, `not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(doc)) throw bad(`annotation ${key}`, 'must be a JSON object');
  return doc;
}

function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(what, 'must be a non-negative integer');
  return value;
}

/** Parse the `dev.sigstore.cosign/bundle` annotation value (cosign `RekorBundle`). */
export function parseRekorBundleAnnotation(text: string): RekorSetEntry {
  const key = CosignAnnotation.BUNDLE;
  const doc = parseJsonAnnotation(text, key);
  const payload = doc.Payload;
  if (!isRecord(payload)) throw bad(`${key} Payload`, 'must be an object');
  const signedEntryTimestamp = base64Field(doc.SignedEntryTimestamp, `${key} SignedEntryTimestamp`);
  const body = base64Field(payload.body, `${key} Payload.body`);
  const integratedTime = nonNegativeInteger(payload.integratedTime, `${key} Payload.integratedTime`);
  const logIndex = nonNegativeInteger(payload.logIndex, `${key} Payload.logIndex`);
  const logId = payload.logID;
  if (typeof logId !== 'string' || !/^[0-9a-f]{64}$/.test(logId)) throw bad(`${key} Payload.logID`, 'must be 64 lowercase hex characters');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
  } catch (err) {
    throw bad(`${key} Payload.body`, `does not decode to JSON (${(err as Error).message})`);
  }
  if (!isRecord(decoded) || typeof decoded.kind !== 'string' || typeof decoded.apiVersion !== 'string') {
    throw bad(`${key} Payload.body`, 'decoded Rekor entry lacks string "kind" and "apiVersion"');
  }
  return { body, integratedTime, logIndex, logId, signedEntryTimestamp, kind: decoded.kind, version: decoded.apiVersion };
}

/** Parse the `dev.sigstore.cosign/rfc3161timestamp` annotation: base64 DER TimeStampResp. */
export function parseTimestampAnnotation(text: string): string {
  const key = CosignAnnotation.RFC3161_TIMESTAMP;
  const doc = parseJsonAnnotation(text, key);
  return base64Field(doc.SignedRFC3161Timestamp, `${key} SignedRFC3161Timestamp`);
}

/** Split PEM text into DER certificates (base64), in order. Empty text → []. */
export function pemCertificates(text: string, what: string): string[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const rest = text.replace(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g, '').trim();
  if (rest.length > 0) throw bad(what, 'contains text outside PEM CERTIFICATE blocks');
  if (blocks.length > 10) throw bad(what, 'more than 10 certificates');
  return blocks.map((block) => {
    const der = pem.toDER(block);
    if (der.length === 0) throw bad(what, 'empty PEM certificate');
    return der.toString('base64');
  });
}

export interface LegacyLayerBundle {
  /** A v0.1 Sigstore bundle (JSON shape accepted by `bundleFromJSON`). */
  readonly bundle: SerializedBundle;
  /** For signatures: the signed bytes (the layer blob). Undefined for DSSE attestations. */
  readonly artifact: Buffer | undefined;
  /** True when the layer carries a Rekor SET (a tlog entry). */
  readonly hasTlogEntry: boolean;
  /** True when the layer carries a certificate (keyless or `--cert`), false for a bare key signature. */
  readonly hasCertificate: boolean;
}

/** Parse the blob of a `.att` layer: a DSSE envelope with exactly one signature (as bundles require). */
export function parseLegacyEnvelope(blob: Buffer): SerializedEnvelope {
  let doc: unknown;
  try {
    doc = JSON.parse(blob.toString('utf8'));
  } catch (err) {
    throw bad('DSSE envelope', `not valid JSON (${(err as Error).message})`);
  }
  const envelope = parseDsseEnvelope(doc);
  if (envelope.signatures.length !== 1) throw bad('DSSE envelope signatures', `must hold exactly one signature, got ${envelope.signatures.length}`);
  const [signature] = envelope.signatures as [DsseSignature];
  return {
    payloadType: envelope.payloadType,
    payload: envelope.payload.toString('base64'),
    signatures: [{ sig: signature.sig.toString('base64'), keyid: signature.keyid ?? '' }],
  };
}

/**
 * Rebuild a v0.1 Sigstore bundle from one legacy cosign layer and its (digest-verified) blob.
 * `kind` says which manifest it came from: `.sig` layers must be simple-signing payloads with a detached
 * signature annotation; `.att` layers DSSE envelopes. `keyHint` fills `publicKey.hint` for key-signed layers.
 */
export function legacyLayerToBundle(layer: Descriptor, blob: Buffer, kind: LegacyLayerKind, keyHint = ''): LegacyLayerBundle {
  const expectedMediaType = kind === 'signature' ? MediaType.COSIGN_SIMPLESIGNING : MediaType.DSSE_ENVELOPE;
  if (layer.mediaType !== expectedMediaType) {
    throw bad(`layer ${layer.digest}`, `media type "${layer.mediaType}" is not ${expectedMediaType}`);
  }
  const certificate = annotation(layer, CosignAnnotation.CERTIFICATE) ?? '';
  const chain = annotation(layer, CosignAnnotation.CHAIN) ?? '';
  const leaf = pemCertificates(certificate, `annotation ${CosignAnnotation.CERTIFICATE}`);
  if (leaf.length > 1) throw bad(`annotation ${CosignAnnotation.CERTIFICATE}`, 'must hold exactly one certificate');
  const intermediates = pemCertificates(chain, `annotation ${CosignAnnotation.CHAIN}`);
  if (leaf.length === 0 && intermediates.length > 0) throw bad(`annotation ${CosignAnnotation.CHAIN}`, 'present without a leaf certificate');

  const rekorText = annotation(layer, CosignAnnotation.BUNDLE);
  const rekor = rekorText === undefined || rekorText === '' ? undefined : parseRekorBundleAnnotation(rekorText);
  const timestampText = annotation(layer, CosignAnnotation.RFC3161_TIMESTAMP);
  const timestamp = timestampText === undefined || timestampText === '' ? undefined : parseTimestampAnnotation(timestampText);

  const tlogEntries: SerializedBundle['verificationMaterial']['tlogEntries'] = rekor
    ? [
        {
          logIndex: String(rekor.logIndex),
          logId: { keyId: Buffer.from(rekor.logId, 'hex').toString('base64') },
          kindVersion: { kind: rekor.kind, version: rekor.version },
          integratedTime: String(rekor.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rekor.signedEntryTimestamp },
          inclusionProof: undefined,
          canonicalizedBody: rekor.body,
        },
      ]
    : [];
  const timestampVerificationData = { rfc3161Timestamps: timestamp === undefined ? [] : [{ signedTimestamp: timestamp }] };
  const material =
    leaf.length > 0
      ? { x509CertificateChain: { certificates: [...leaf, ...intermediates].map((rawBytes) => ({ rawBytes })) } }
      : { publicKey: { hint: keyHint } };
  const verificationMaterial = { ...material, tlogEntries, timestampVerificationData } as SerializedBundle['verificationMaterial'];

  if (kind === 'signature') {
    const signatureText = annotation(layer, CosignAnnotation.SIGNATURE);
    if (signatureText === undefined) throw bad(`layer ${layer.digest}`, `missing annotation ${CosignAnnotation.SIGNATURE}`);
    const signature = base64Field(signatureText, `annotation ${CosignAnnotation.SIGNATURE}`);
    const bundle = {
      mediaType: BUNDLE_V01_MEDIA_TYPE,
      verificationMaterial,
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(blob).digest('base64') },
        signature,
      },
    } as SerializedBundle;
    return { bundle, artifact: blob, hasTlogEntry: rekor !== undefined, hasCertificate: leaf.length > 0 };
  }
  const dsseEnvelope = parseLegacyEnvelope(blob);
  const bundle = { mediaType: BUNDLE_V01_MEDIA_TYPE, verificationMaterial, dsseEnvelope } as SerializedBundle;
  return { bundle, artifact: undefined, hasTlogEntry: rekor !== undefined, hasCertificate: leaf.length > 0 };
}
