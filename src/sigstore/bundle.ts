/**
 * Sigstore bundle verification: the one code path the webhook, the init container and the CLI use.
 *
 * Owns: `verifyBundle` and its input/result types. It parses a bundle (v0.1, v0.2, v0.3 in both
 * media-type spellings; `messageSignature` or `dsseEnvelope`; `publicKey`, `x509CertificateChain` or
 * `certificate`), lets `@sigstore/verify` check what it does correctly (Fulcio chain and SCTs, Rekor v1
 * SETs, inclusion proofs and checkpoints, Rekor v2 bodies, RFC 3161 timestamps) and adds what it gets
 * wrong or leaves out:
 *  - signature checks with the hash chosen by the key (P-384/P-521) and prehashed verification when
 *    only the artifact digest is known (`keys.ts`);
 *  - exact SAN and issuer comparison (the library's SAN policy is an unanchored regex);
 *  - a certificate is only accepted when checked at ≥ 1 verified time (the library skips the chain
 *    entirely when there is no timestamp), a Rekor v2 entry never supplies a time;
 *  - a DSSE bundle logged as hashedrekord (Rekor v2 "hashedrekord over DSSE") bound by its PAE digest;
 *  - thresholds counted on verified, de-duplicated evidence (tlog entries, TSA timestamps);
 *  - the unauthenticated `messageDigest` must equal the artifact digest; in-toto subject matching;
 *  - size caps and malformed input mapped to BUNDLE_FORMAT instead of crashes.
 */
import { createHash, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle, type TransparencyLogEntry } from '@sigstore/bundle';
import type { TransparencyLogEntry as ProtoTlogEntry } from '@sigstore/protobuf-specs';
import { RFC3161Timestamp, X509Certificate as SigstoreX509Certificate } from '@sigstore/core';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { Verifier, type SignedEntity, type TrustMaterial as SigstoreTrustMaterial } from '@sigstore/verify';
import { verifyCheckpoint } from '@sigstore/verify/dist/tlog/checkpoint.js';
import { verifyTLogSET } from '@sigstore/verify/dist/tlog/set.js';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import { echo, VerificationError, type VerificationErrorCode } from './errors.ts';
import { preAuthEncoding } from './dsse.ts';
import { keyId, keyProfile, verifyPrehashedSignature, verifyRawSignature, verifyWithHash, type SignatureHash } from './keys.ts';
import { describeExpected, identityMatches, type IdentityPattern } from './identity-pattern.ts';
import type { TrustMaterial } from './trust.ts';
import { isRecord } from '../evidence/json.ts';
import { IN_TOTO_PAYLOAD_TYPE, SIGSTORE_BUNDLE_MEDIA_TYPES } from '../evidence/vocabulary.ts';

/** Largest bundle accepted (bytes of JSON). Real bundles are a few KiB. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

/** Fulcio certificate extension OIDs (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md). */
export const FULCIO_OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  issuer: '1.3.6.1.4.1.57264.1.8',
  buildSignerURI: '1.3.6.1.4.1.57264.1.9',
  buildSignerDigest: '1.3.6.1.4.1.57264.1.10',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryURI: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  buildConfigURI: '1.3.6.1.4.1.57264.1.18',
  buildTrigger: '1.3.6.1.4.1.57264.1.20',
  runInvocationURI: '1.3.6.1.4.1.57264.1.21',
} as const;

export type ArtifactInput = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'digest'; digest: Digest };

/** A keyless signer: exact SAN and OIDC issuer, or anchored patterns (identity-pattern.ts). */
export interface IdentityPolicy {
  readonly san: string | IdentityPattern;
  readonly issuer: string | IdentityPattern;
}

export type SignerPolicy =
  | { kind: 'key'; keys: readonly KeyObject[] } // any of these keys (bundle must carry `publicKey`)
  | ({ kind: 'identity' } & IdentityPolicy) // keyless / Fulcio
  /**
   * Every configured signer at once: a key-signed bundle must verify under one of `keys`, a
   * certificate's verified identity must match one of `identities` (the first that matches).
   */
  | { kind: 'any'; keys: readonly KeyObject[]; identities: readonly IdentityPolicy[] };

export interface BundleVerifyOptions {
  trust: TrustMaterial;
  signer: SignerPolicy;
  /** Required for `messageSignature`; for an in-toto DSSE bundle it must be a statement subject. */
  artifact?: ArtifactInput;
  /** Verified, distinct transparency-log entries required (default 1). */
  tlogThreshold?: number;
  /** Verified SCTs required in a Fulcio certificate (default 1; ignored for key-signed bundles). */
  ctlogThreshold?: number;
  /** Verified RFC 3161 timestamps required (default 0). */
  tsaThreshold?: number;
  /**
   * cosign `--insecure-ignore-tlog`: leave the bundle's transparency-log entries out entirely (not
   * verified, not counted, no integrated time from them); the tlog threshold is then 0. A keyless
   * bundle then needs a trusted RFC 3161 timestamp to check its certificate at.
   */
  ignoreTlog?: boolean;
}

export interface InTotoStatement {
  _type: string;
  subject: { name?: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate?: unknown;
}

export type VerifiedSigner =
  | { kind: 'key'; keyId: string }
  | {
      kind: 'certificate';
      san: string;
      issuer: string;
      /** Fulcio extensions by dotted OID (see FULCIO_OID), decoded to strings. */
      extensions: Record<string, string>;
      certificate: NodeX509Certificate;
    };

export type VerifiedContent =
  | { kind: 'message'; digest: Digest }
  | { kind: 'dsse'; payloadType: string; payload: Buffer; statement?: InTotoStatement };

export interface VerifiedTlogEntry {
  logIndex: string;
  /** Hex log ID (sha256 of the log key). */
  logId: string;
  /** Base URL of the log in the trusted root, when known. */
  logUrl?: string;
  kind: string;
  version: string;
  /** Present only when the time was vouched for by a verified SET. */
  integratedTime?: Date;
}

export interface VerifiedBundle {
  signer: VerifiedSigner;
  content: VerifiedContent;
  verifiedTimes: { source: 'tlog' | 'tsa'; time: Date }[];
  tlogEntries: VerifiedTlogEntry[];
  mediaType: string;
}

function fail(code: VerificationErrorCode, message: string, cause?: unknown): never {
  throw new VerificationError(code, message, cause === undefined ? undefined : { cause });
}

/** Parse bundle JSON (bytes, text or an already-parsed value) into the `@sigstore/bundle` model. */
export function parseBundle(input: unknown): Bundle {
  let json: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
    if (size > MAX_BUNDLE_BYTES) fail('BUNDLE_FORMAT', `bundle is ${size} bytes, more than the ${MAX_BUNDLE_BYTES}-byte limit`);
    try {
      json = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
    } catch (err) {
      fail('BUNDLE_FORMAT', `bundle is not valid JSON: ${(err as Error).message}`, err);
    }
  }
  if (!isRecord(json)) fail('BUNDLE_FORMAT', 'bundle must be a JSON object');
  if (typeof json.mediaType !== 'string' || !(SIGSTORE_BUNDLE_MEDIA_TYPES as readonly string[]).includes(json.mediaType)) {
    fail('BUNDLE_FORMAT', `unsupported bundle mediaType ${echo(json.mediaType)} (supported: ${SIGSTORE_BUNDLE_MEDIA_TYPES.join(', ')})`);
  }
  if (!isRecord(json.verificationMaterial)) fail('BUNDLE_FORMAT', 'bundle has no verificationMaterial object');
  // The bundle's content is a oneof: exactly one of the two (sigstore-go refuses both, the protobuf
  // JSON decoder would silently keep one and verify the bundle on half of what it carries).
  if (json.messageSignature !== undefined && json.dsseEnvelope !== undefined) {
    fail('BUNDLE_FORMAT', 'bundle carries both messageSignature and dsseEnvelope; exactly one is allowed');
  }
  const entries = json.verificationMaterial.tlogEntries;
  if (entries !== undefined && !Array.isArray(entries)) fail('BUNDLE_FORMAT', 'verificationMaterial.tlogEntries must be an array');
  if ((entries?.length ?? 0) > MAX_EVIDENCE_ITEMS) fail('BUNDLE_FORMAT', `bundle has more than ${MAX_EVIDENCE_ITEMS} transparency-log entries`);
  const tsd = json.verificationMaterial.timestampVerificationData;
  const timestampsJson = isRecord(tsd) ? tsd.rfc3161Timestamps : undefined;
  if (Array.isArray(timestampsJson) && timestampsJson.length > MAX_EVIDENCE_ITEMS) fail('BUNDLE_FORMAT', `bundle has more than ${MAX_EVIDENCE_ITEMS} RFC 3161 timestamps`);
  for (const [i, entry] of (entries ?? []).entries()) checkTlogEntryShape(entry, i);
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    const fields = isRecord(err) && Array.isArray(err.fields) ? ` (${err.fields.join(', ')})` : '';
    fail('BUNDLE_FORMAT', `invalid bundle: ${(err as Error).message}${fields}`, err);
  }
  return bundle;
}

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
/** Real bundles carry one or two log entries / timestamps; more is a resource-exhaustion attempt. */
const MAX_EVIDENCE_ITEMS = 16;
/** A Merkle inclusion proof for a tree of up to 2^64 leaves has at most 64 hashes. */
const MAX_PROOF_HASHES = 64;
const CHECKPOINT_NAME = /^[A-Za-z0-9._:/-]+$/;

/** Reject shapes `@sigstore/verify` 3.1.1 would crash on or feed to RegExp/BigInt (fixed upstream in 4.1.2). */
function checkTlogEntryShape(entry: unknown, i: number): void {
  const where = `verificationMaterial.tlogEntries[${i}]`;
  if (!isRecord(entry)) fail('BUNDLE_FORMAT', `${where} must be an object`);
  for (const field of ['logIndex', 'integratedTime'] as const) {
    const value = entry[field];
    if (value !== undefined && !(typeof value === 'string' && DECIMAL.test(value)) && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
      fail('BUNDLE_FORMAT', `${where}.${field} must be a non-negative decimal integer`);
    }
  }
  if (typeof entry.canonicalizedBody !== 'string') fail('BUNDLE_FORMAT', `${where}.canonicalizedBody must be a base64 string`);
  const proof = entry.inclusionProof;
  if (proof === undefined) return;
  if (!isRecord(proof)) fail('BUNDLE_FORMAT', `${where}.inclusionProof must be an object`);
  for (const field of ['logIndex', 'treeSize'] as const) {
    const value = proof[field];
    if (!(typeof value === 'string' && DECIMAL.test(value)) && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
      fail('BUNDLE_FORMAT', `${where}.inclusionProof.${field} must be a non-negative decimal integer`);
    }
  }
  if (Array.isArray(proof.hashes) && proof.hashes.length > MAX_PROOF_HASHES) fail('TLOG', `${where}.inclusionProof has more than ${MAX_PROOF_HASHES} hashes`);
  const envelope = isRecord(proof.checkpoint) ? proof.checkpoint.envelope : undefined;
  if (typeof envelope !== 'string') fail('BUNDLE_FORMAT', `${where}.inclusionProof.checkpoint.envelope must be a string`);
  const separator = envelope.indexOf('\n\n');
  if (separator < 0) fail('TLOG', `${where} checkpoint has no signature block`);
  const header = envelope.slice(0, separator).split('\n');
  if (header.length < 3 || !DECIMAL.test(header[1] ?? '')) fail('TLOG', `${where} checkpoint header is malformed`);
  // The library checks the proof against the signed checkpoint only; the proof's own treeSize and
  // rootHash must agree with it too (as sigstore-go requires), or the bundle is inconsistent.
  if (String(proof.treeSize) !== header[1]) fail('TLOG', `${where} inclusion proof treeSize ${String(proof.treeSize)} differs from the checkpoint's ${header[1]}`);
  if (typeof proof.rootHash !== 'string' || !Buffer.from(proof.rootHash, 'base64').equals(Buffer.from(header[2] ?? '', 'base64'))) {
    fail('TLOG', `${where} inclusion proof rootHash differs from the checkpoint's root hash`);
  }
  for (const match of envelope.slice(separator + 2).matchAll(/\u2014 (\S+) (\S+)\n/g)) {
    if (!CHECKPOINT_NAME.test(match[1]!)) fail('TLOG', `${where} checkpoint signer name ${echo(match[1])} has unexpected characters`);
  }
}

const HASHES: Partial<Record<HashAlgorithm, SignatureHash>> = {
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
};

type Content = SignedEntity['signature'];

/** Message-signature content whose digest is the *artifact's* (not the bundle's unauthenticated hint). */
function messageContent(signature: Buffer, hash: SignatureHash, artifact: ArtifactInput, artifactDigest: Buffer): Content {
  return {
    signature,
    compareSignature: (other) => other.equals(signature),
    compareDigest: (other) => other.equals(artifactDigest),
    verifySignature: (key) => {
      if (artifact.kind === 'bytes') {
        return keyProfile(key).kind === 'ed25519' ? verifyWithHash(key, null, artifact.bytes, signature) : verifyWithHash(key, hash, artifact.bytes, signature);
      }
      return verifyPrehashedSignature(key, hash, artifactDigest, signature);
    },
  };
}

/**
 * DSSE content. A dsse/intoto log entry records the payload's digest; a hashedrekord entry over DSSE
 * (Rekor v2 spec §6.1.4, also on Rekor v1) records sha256(PAE(payloadType, payload)) — the bytes the
 * signature covers, which bind this envelope's type and payload. `hashedrekordEntries` says which the
 * bundle's entries are (all hashedrekord): exactly one digest is then accepted, never either.
 */
function dsseContent(payloadType: string, payload: Buffer, signature: Buffer, hashedrekordEntries: boolean): Content {
  const pae = preAuthEncoding(payloadType, payload);
  const boundDigest = createHash('sha256').update(hashedrekordEntries ? pae : payload).digest();
  return {
    signature,
    compareSignature: (other) => other.equals(signature),
    compareDigest: (other) => other.equals(boundDigest),
    verifySignature: (key) => verifyRawSignature(key, pae, signature),
  };
}

const LIBRARY_CODES: Record<string, VerificationErrorCode> = {
  TLOG_ERROR: 'TLOG',
  TLOG_INCLUSION_PROOF_ERROR: 'TLOG',
  TLOG_INCLUSION_PROMISE_ERROR: 'TLOG',
  TLOG_MISSING_INCLUSION_ERROR: 'TLOG',
  TLOG_BODY_ERROR: 'TLOG',
  CERTIFICATE_ERROR: 'CERTIFICATE',
  PUBLIC_KEY_ERROR: 'KEY',
  SIGNATURE_ERROR: 'SIGNATURE',
  TIMESTAMP_ERROR: 'TIMESTAMP',
  NOT_IMPLEMENTED_ERROR: 'BUNDLE_FORMAT',
  UNTRUSTED_SIGNER_ERROR: 'IDENTITY',
};

function mapLibraryError(err: unknown): VerificationError {
  if (err instanceof VerificationError) return err;
  const libraryCode = isRecord(err) && typeof err.code === 'string' ? err.code : undefined;
  const code = libraryCode === undefined ? undefined : LIBRARY_CODES[libraryCode];
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  if (code !== undefined) return new VerificationError(code, `${message}${cause}`, { cause: err });
  // Anything else (TypeError, RangeError, ASN.1 parse errors) comes from malformed bundle content.
  return new VerificationError('BUNDLE_FORMAT', `malformed bundle content: ${message}`, { cause: err });
}

function decodeDerUtf8String(value: Buffer): string | undefined {
  if (value[0] !== 0x0c && value[0] !== 0x16 && value[0] !== 0x13) return undefined; // UTF8String, IA5String, PrintableString
  let length = value[1] ?? 0;
  let offset = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 2) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | (value[offset + i] ?? 0);
    offset += count;
  }
  if (offset + length !== value.byteLength) return undefined;
  return value.subarray(offset).toString('utf8');
}

const FULCIO_PREFIX = '1.3.6.1.4.1.57264.1.';
const RAW_STRING_OIDS = new Set(['1', '2', '3', '4', '5', '6'].map((n) => FULCIO_PREFIX + n));

function fulcioExtensions(cert: SigstoreX509Certificate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ext of cert.extensions) {
    const oid = ext.subs[0]?.toOID();
    const valueObj = ext.subs[ext.subs.length - 1];
    if (oid === undefined || valueObj === undefined || !oid.startsWith(FULCIO_PREFIX)) continue;
    const value = RAW_STRING_OIDS.has(oid) ? valueObj.value.toString('utf8') : decodeDerUtf8String(valueObj.value);
    if (value !== undefined) out[oid] = value;
  }
  return out;
}

/**
 * The SAN and OIDC issuer a bundle's leaf certificate *claims*, read before verification. Only for
 * callers that must learn who signed before they can name the identity to verify against (slsa-verifier
 * style builder checks, issuer-only evidence policies): pass the result to `verifyBundle` as the exact
 * identity, which then proves it. Nothing read here is trusted on its own.
 */
export function claimedIdentity(bundleInput: unknown): { san: string; issuer: string } {
  const leaf = leafCertificate(parseBundle(bundleInput));
  if (leaf === undefined) fail('POLICY', 'the bundle is signed with a public key, but a certificate identity is required');
  const san = leaf.sigstore.subjectAltName ?? '';
  if (san === '') fail('CERTIFICATE', 'the signing certificate has no subject alternative name');
  const extensions = fulcioExtensions(leaf.sigstore);
  return { san, issuer: extensions[FULCIO_OID.issuer] ?? extensions[FULCIO_OID.issuerV1] ?? '' };
}

const CODE_SIGNING_EKU = '1.3.6.1.5.5.7.3.3';

function leafCertificate(bundle: Bundle): { sigstore: SigstoreX509Certificate; node: NodeX509Certificate } | undefined {
  const content = bundle.verificationMaterial.content;
  const der =
    content.$case === 'certificate'
      ? content.certificate.rawBytes
      : content.$case === 'x509CertificateChain'
        ? content.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  if (content.$case === 'publicKey') return undefined;
  if (der === undefined || der.byteLength === 0) fail('BUNDLE_FORMAT', 'bundle certificate material is empty');
  try {
    return { sigstore: SigstoreX509Certificate.parse(Buffer.from(der)), node: new NodeX509Certificate(der) };
  } catch (err) {
    fail('BUNDLE_FORMAT', `bundle signing certificate is not valid DER X.509: ${(err as Error).message}`, err);
  }
}

function artifactDigestFor(artifact: ArtifactInput, hash: SignatureHash): Buffer {
  if (artifact.kind === 'bytes') return createHash(hash).update(artifact.bytes).digest();
  if (digestAlgorithm(artifact.digest) !== hash) {
    fail('DIGEST', `the bundle signs a ${hash} digest but the artifact was given as ${digestAlgorithm(artifact.digest)}`);
  }
  return Buffer.from(digestHex(artifact.digest), 'hex');
}

function parseStatement(payload: Buffer): InTotoStatement | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(json) || typeof json._type !== 'string' || !json._type.startsWith('https://in-toto.io/Statement/')) return undefined;
  if (!Array.isArray(json.subject) || typeof json.predicateType !== 'string') return undefined;
  const subject: InTotoStatement['subject'] = [];
  for (const s of json.subject) {
    if (!isRecord(s) || !isRecord(s.digest)) return undefined;
    const digest: Record<string, string> = {};
    for (const [alg, value] of Object.entries(s.digest)) if (typeof value === 'string') digest[alg] = value.toLowerCase();
    subject.push(typeof s.name === 'string' ? { name: s.name, digest } : { digest });
  }
  return { _type: json._type, subject, predicateType: json.predicateType, predicate: json.predicate };
}

type TLogAuthority = TrustMaterial['authorities']['tlogs'][number];

/** What a verified log entry is, from the evidence that verified it (never from its unsigned fields). */
interface EntryIdentity {
  /** sha256 of the log key that verified the SET or checkpoint, and of the canonicalised body. */
  key: string;
  logId: string;
  logIndex: string;
}

function authorityVerifying(check: (authority: TLogAuthority) => void, tlogs: readonly TLogAuthority[]): TLogAuthority | undefined {
  return tlogs.find((authority) => {
    try {
      check(authority);
      return true;
    } catch {
      return false;
    }
  });
}

const spkiHex = (key: KeyObject): string => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');

/**
 * Tell a (library-verified) log entry apart by what was verified: the log key that verified its SET
 * or checkpoint and the leaf it proves (its canonicalised body). `logId` and `logIndex` are only
 * hints the library does not check for a checkpoint-only (Rekor v2) entry: they must agree with the
 * verified values, or the entry is refused, so a copy of one entry with another index or log ID
 * never counts twice towards a threshold and never reports a value nothing verified.
 */
function entryIdentity(entry: ProtoTlogEntry, tlogs: readonly TLogAuthority[], where: string): EntryIdentity {
  const setAuthority = entry.inclusionPromise === undefined ? undefined : authorityVerifying((a) => verifyTLogSET(entry as Parameters<typeof verifyTLogSET>[0], [a]), tlogs);
  const checkpointAuthority = entry.inclusionProof === undefined ? undefined : authorityVerifying((a) => verifyCheckpoint(entry as Parameters<typeof verifyCheckpoint>[0], [a]), tlogs);
  const authority = setAuthority ?? checkpointAuthority;
  if (authority === undefined) fail('TLOG', `${where}: no trusted log key verifies its inclusion`);
  const logKey = spkiHex(authority.publicKey);
  if (setAuthority !== undefined && checkpointAuthority !== undefined && spkiHex(checkpointAuthority.publicKey) !== logKey) {
    fail('TLOG', `${where}: its signed entry timestamp and its checkpoint are signed by different logs`);
  }
  const claimedLogId = entry.logId?.keyId.toString('hex') ?? '';
  const logIds = new Set(tlogs.filter((a) => spkiHex(a.publicKey) === logKey).map((a) => a.logID.toString('hex')));
  if (!logIds.has(claimedLogId)) fail('TLOG', `${where}: logId ${echo(claimedLogId)} is not the ID of the log whose key verified the entry`);
  // A SET signs logIndex; without one, the inclusion proof's index is what was proven.
  if (setAuthority === undefined && entry.inclusionProof !== undefined && String(entry.inclusionProof.logIndex) !== String(entry.logIndex)) {
    fail('TLOG', `${where}: logIndex ${echo(entry.logIndex)} differs from the index ${echo(entry.inclusionProof.logIndex)} its inclusion proof proves`);
  }
  const body = createHash('sha256').update(entry.canonicalizedBody).digest('hex');
  return { key: `${logKey}:${body}`, logId: claimedLogId, logIndex: String(entry.logIndex) };
}

const othersNote = (configured: number): string => (configured > 1 ? ` (nor any of the other ${configured - 1} configured identities)` : '');

/**
 * Verify a Sigstore bundle against trust material and a signer policy. Resolves with what was
 * verified; rejects with a VerificationError (stable `code`) for every failure, including malformed
 * input. Never resolves for a bundle that did not fully verify.
 *
 * The order is sigstore-js's (`@sigstore/verify` `Verifier.verify`): content bound to the artifact,
 * timestamps, signing key or certificate chain, transparency log, signature, and the policy last —
 * the verified certificate identity matched against the configured identities. Each bundle is
 * verified once, whatever the number of configured signers (`{ kind: 'any' }`).
 */
export async function verifyBundle(bundleInput: unknown, options: BundleVerifyOptions): Promise<VerifiedBundle> {
  return verifyBundleSync(bundleInput, options);
}

/** Synchronous form of `verifyBundle` (all inputs are in memory; used by benchmarks). */
export function verifyBundleSync(bundleInput: unknown, options: BundleVerifyOptions): VerifiedBundle {
  const tlogThreshold = options.ignoreTlog === true ? 0 : (options.tlogThreshold ?? 1);
  const ctlogThreshold = options.ctlogThreshold ?? 1;
  const tsaThreshold = options.tsaThreshold ?? 0;
  for (const [name, value] of [['tlogThreshold', tlogThreshold], ['ctlogThreshold', ctlogThreshold], ['tsaThreshold', tsaThreshold]] as const) {
    if (!Number.isInteger(value) || value < 0) fail('POLICY', `${name} must be a non-negative integer, got ${value}`);
  }
  const bundle = parseBundle(bundleInput);
  const material = options.ignoreTlog === true ? { ...bundle.verificationMaterial, tlogEntries: [] } : bundle.verificationMaterial;
  const { signer } = options;
  const keys = signer.kind === 'identity' ? [] : signer.keys;
  const configuredIdentities: readonly IdentityPolicy[] = signer.kind === 'key' ? [] : signer.kind === 'identity' ? [signer] : signer.identities;

  // No signer of the bundle's kind is configured: nothing below could make it verify.
  const leaf = leafCertificate(bundle);
  if (leaf === undefined && keys.length === 0 && configuredIdentities.length > 0) {
    fail('POLICY', 'bundle is signed with a public key, but a certificate identity was required');
  }
  if (leaf !== undefined && configuredIdentities.length === 0) {
    fail('POLICY', 'bundle is signed with a certificate, but a public key was required');
  }
  if (leaf === undefined && keys.length === 0) fail('KEY', 'no public key was given to verify a key-signed bundle');

  // Content, bound to the artifact we were given.
  let content: Content;
  let verifiedContent: VerifiedContent;
  if (bundle.content.$case === 'messageSignature') {
    const { messageSignature } = bundle.content;
    const algorithm = messageSignature.messageDigest?.algorithm ?? HashAlgorithm.SHA2_256;
    const hash = HASHES[algorithm];
    if (hash === undefined) fail('BUNDLE_FORMAT', `unsupported messageDigest algorithm ${HashAlgorithm[algorithm] ?? algorithm}`);
    if (options.artifact === undefined) fail('DIGEST', 'a message-signature bundle can only be verified against an artifact (bytes or digest)');
    const digest = artifactDigestFor(options.artifact, hash);
    const hint = messageSignature.messageDigest?.digest;
    if (hint !== undefined && hint.byteLength > 0 && !Buffer.from(hint).equals(digest)) {
      fail('DIGEST', `the bundle's messageDigest ${Buffer.from(hint).toString('hex')} does not match the artifact's ${hash} ${digest.toString('hex')}`);
    }
    if (messageSignature.signature.byteLength === 0) fail('BUNDLE_FORMAT', 'messageSignature.signature is empty');
    content = messageContent(Buffer.from(messageSignature.signature), hash, options.artifact, digest);
    verifiedContent = { kind: 'message', digest: `${hash}:${digest.toString('hex')}` as Digest };
  } else {
    const env = bundle.content.dsseEnvelope;
    const sig = env.signatures[0]?.sig;
    if (env.signatures.length !== 1 || sig === undefined || sig.byteLength === 0) fail('BUNDLE_FORMAT', 'a bundle DSSE envelope must carry exactly one non-empty signature');
    const payload = Buffer.from(env.payload);
    const hashedrekord = material.tlogEntries.length > 0 && material.tlogEntries.every((e) => e.kindVersion?.kind === 'hashedrekord');
    content = dsseContent(env.payloadType, payload, Buffer.from(sig), hashedrekord);
    const statement = env.payloadType === IN_TOTO_PAYLOAD_TYPE ? parseStatement(payload) : undefined;
    verifiedContent = statement === undefined ? { kind: 'dsse', payloadType: env.payloadType, payload } : { kind: 'dsse', payloadType: env.payloadType, payload, statement };
  }

  // Keys: try each configured key against the signature first; the hint is unauthenticated.
  let signingKey: KeyObject | undefined;
  if (leaf === undefined) {
    signingKey = keys.find((key) => content.verifySignature(key));
    if (signingKey === undefined) {
      fail('SIGNATURE', `the bundle signature does not verify under ${keys.length === 1 ? 'the given public key' : `any of the ${keys.length} given public keys`}`);
    }
  }
  const chosenKey = signingKey;

  // Timestamps: SET-backed integrated times, and RFC 3161 timestamps from TSAs we trust. A timestamp
  // from a TSA that is not a usable authority proves nothing and is ignored (as sigstore-go does); one
  // from a trusted TSA that fails to verify fails the bundle.
  const timestamps: SignedEntity['timestamps'] = [];
  for (const entry of material.tlogEntries) {
    if (entry.integratedTime && entry.integratedTime !== '0' && entry.inclusionPromise !== undefined) {
      timestamps.push({ $case: 'transparency-log', tlogEntry: entry });
    }
  }
  let tsaCount = 0;
  for (const [i, ts] of (material.timestampVerificationData?.rfc3161Timestamps ?? []).entries()) {
    let parsed: RFC3161Timestamp;
    try {
      parsed = RFC3161Timestamp.parse(Buffer.from(ts.signedTimestamp));
      void parsed.signingTime; // force parsing of the lazily decoded fields
      void parsed.signerSerialNumber;
      void parsed.signerIssuer;
    } catch (err) {
      fail('BUNDLE_FORMAT', `rfc3161Timestamps[${i}] is not a valid RFC 3161 timestamp: ${(err as Error).message}`, err);
    }
    const known = options.trust.authorities.timestampAuthorities.some(
      (ca) => ca.certChain[0] !== undefined && ca.certChain[0].serialNumber.equals(parsed.signerSerialNumber) && ca.certChain[0].issuer.equals(parsed.signerIssuer),
    );
    if (!known) continue;
    timestamps.push({ $case: 'timestamp-authority', timestamp: parsed });
    tsaCount++;
  }

  if (leaf !== undefined && timestamps.length === 0) {
    fail('TIMESTAMP', 'no verified signing time (no SET-backed log entry and no RFC 3161 timestamp from a trusted TSA): the certificate cannot be checked');
  }
  const trustMaterial: SigstoreTrustMaterial = {
    ...options.trust.authorities,
    publicKey: () => {
      if (chosenKey === undefined) fail('KEY', 'no public key configured');
      return { publicKey: chosenKey, validFor: () => true };
    },
  };
  const entity: SignedEntity = {
    signature: content,
    key: leaf === undefined ? { $case: 'public-key', hint: '' } : { $case: 'certificate', certificate: leaf.sigstore },
    tlogEntries: material.tlogEntries,
    timestamps,
  };
  try {
    new Verifier(trustMaterial, { tlogThreshold: 0, ctlogThreshold: leaf === undefined ? 0 : ctlogThreshold, timestampThreshold: 0 }).verify(entity);
  } catch (err) {
    throw mapLibraryError(err);
  }

  // Thresholds on verified, distinct evidence.
  const identities = material.tlogEntries.map((e, i) => entryIdentity(e, options.trust.authorities.tlogs, `verificationMaterial.tlogEntries[${i}]`));
  const distinctEntries = new Set(identities.map((id) => id.key));
  if (distinctEntries.size < tlogThreshold) {
    fail('TLOG', `expected at least ${tlogThreshold} transparency-log entr${tlogThreshold === 1 ? 'y' : 'ies'}, the bundle has ${distinctEntries.size} verified`);
  }
  if (tsaCount < tsaThreshold) fail('TIMESTAMP', `expected at least ${tsaThreshold} RFC 3161 timestamp(s) from a trusted TSA, got ${tsaCount}`);
  const verifiedTimes = timestamps.map((t) =>
    t.$case === 'transparency-log'
      ? { source: 'tlog' as const, time: new Date(Number(t.tlogEntry.integratedTime) * 1000) }
      : { source: 'tsa' as const, time: t.timestamp.signingTime },
  );
  if (leaf !== undefined && verifiedTimes.length === 0) {
    fail('TIMESTAMP', 'no verified signing time (no SET-backed log entry and no trusted RFC 3161 timestamp): the certificate cannot be checked');
  }

  // Signer identity: exact comparisons or our anchored, pre-checked patterns, never the library's regex policy.
  let verifiedSigner: VerifiedSigner;
  if (leaf === undefined) {
    verifiedSigner = { kind: 'key', keyId: keyId(chosenKey!) };
  } else {
    if (leaf.sigstore.isCA) fail('CERTIFICATE', 'the signing certificate is a CA certificate');
    const eku = leaf.node.keyUsage;
    if (eku !== undefined && !eku.includes(CODE_SIGNING_EKU)) fail('CERTIFICATE', 'the signing certificate is not valid for code signing (extended key usage)');
    const extensions = fulcioExtensions(leaf.sigstore);
    const san = leaf.sigstore.subjectAltName ?? '';
    const issuer = extensions[FULCIO_OID.issuer] ?? extensions[FULCIO_OID.issuerV1] ?? '';
    // The policy, last (as sigstore-js's Verifier.verify): the verified identity against the configured ones.
    if (!configuredIdentities.some((expected) => identityMatches(expected.san, san) && identityMatches(expected.issuer, issuer))) {
      const first = configuredIdentities[0]!;
      if (!identityMatches(first.san, san)) fail('IDENTITY', `certificate identity ${echo(san)} is not the required ${describeExpected(first.san)}${othersNote(configuredIdentities.length)}`);
      fail('IDENTITY', `certificate OIDC issuer ${echo(issuer)} is not the required ${describeExpected(first.issuer)}${othersNote(configuredIdentities.length)}`);
    }
    verifiedSigner = { kind: 'certificate', san, issuer, extensions, certificate: leaf.node };
  }

  // An in-toto statement must name the artifact.
  if (verifiedContent.kind === 'dsse' && options.artifact !== undefined) {
    const statement = verifiedContent.statement;
    if (statement === undefined) fail('DIGEST', `the DSSE payload (${verifiedContent.payloadType}) is not an in-toto statement, so it cannot name the artifact`);
    const [algorithm, hex] =
      options.artifact.kind === 'bytes'
        ? ['sha256', createHash('sha256').update(options.artifact.bytes).digest('hex')]
        : [digestAlgorithm(options.artifact.digest), digestHex(options.artifact.digest)];
    if (!statement.subject.some((s) => s.digest[algorithm] === hex)) {
      fail('DIGEST', `the artifact ${algorithm}:${hex} is not a subject of the signed statement`);
    }
  }

  return {
    signer: verifiedSigner,
    content: verifiedContent,
    verifiedTimes,
    tlogEntries: material.tlogEntries.map((e, i) => {
      const { logId, logIndex } = identities[i]!;
      const logUrl = options.trust.tlogUrls.get(logId);
      return {
        logIndex,
        logId,
        ...(logUrl === undefined ? {} : { logUrl }),
        kind: e.kindVersion?.kind ?? '',
        version: e.kindVersion?.version ?? '',
        ...(e.inclusionPromise !== undefined && e.integratedTime && e.integratedTime !== '0' ? { integratedTime: new Date(Number(e.integratedTime) * 1000) } : {}),
      };
    }),
    mediaType: bundle.mediaType,
  };
}
