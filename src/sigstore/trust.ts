/**
 * Sigstore trust material: trusted roots (file, JSON, or TUF), certificate chains.
 *
 * Owns: loading and validating a `trusted_root.json` (Fulcio CAs, Rekor logs, CT logs, TSAs) into the
 * shape `@sigstore/verify` consumes, its `trustDigest` (sha256 of the exact root bytes, for cache
 * keys), fetching the public-good root through TUF (`@sigstore/tuf`, with a local cache and a hard
 * deadline), and parsing PEM certificate bundles.
 *
 * Validity rule (documented decision, see also the report). The proto makes `TimeRange.start`
 * required, `PublicKey.valid_for` optional and `CertificateAuthority.valid_for` required; sigstore-js
 * treats any missing bound as unbounded, which would let a retired key vouch for any time. Here:
 *  - tlog / CT log keys: `validFor` with no parseable `start` (e.g. `{}`) makes the key INVALID — it is
 *    dropped (listed in `warnings`), nothing verifies against it. A key with no `validFor` at all is
 *    accepted as unbounded (the sigstore-js fixture roots rely on this, vectors README quirk 5) and
 *    listed in `warnings`; `{ requireKeyValidity: true }` (the default for roots fetched through TUF,
 *    whose keys all carry a start) rejects it too.
 *  - CAs and TSAs: a missing `validFor` or `start` never means "unbounded": the window falls back to
 *    the intersection of the authority's own certificate validity periods (a CA cannot vouch outside
 *    them anyway); listed in `warnings`. An unparseable bound is INVALID (entry dropped).
 *  - A root left with no usable authority at all is rejected (TRUST_ROOT).
 * An RFC 3161 timestamp whose TSA is not a usable authority is ignored (not counted), like
 * sigstore-go; see `bundle.ts`.
 * Every `validFor` is a closed interval (protobuf-specs `TimeRange`): evidence dated exactly at
 * `start` or `end` is inside (`@sigstore/verify` compares with <= on both sides; the boundary
 * tests in test/sigstore/validity-boundary.test.ts pin it for tlog, CA, CT log and TSA).
 */
import { createHash, createPublicKey, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { X509Certificate as SigstoreX509Certificate } from '@sigstore/core';
import type { TrustMaterial as SigstoreTrustMaterial } from '@sigstore/verify';
import type { Digest } from '../oci/digest.ts';
import { echo, VerificationError } from './errors.ts';
import { isRecord } from '../evidence/json.ts';
import { PUBLIC_GOOD_TUF_MIRROR } from './tuf-mirrors.ts';

export { PUBLIC_GOOD_TUF_MIRROR, STAGING_TUF_MIRROR } from './tuf-mirrors.ts';

type CertAuthority = SigstoreTrustMaterial['certificateAuthorities'][number];
type TLogAuthority = SigstoreTrustMaterial['tlogs'][number];

const MAX_TRUSTED_ROOT_BYTES = 4 * 1024 * 1024;
const TRUSTED_ROOT_MEDIA_TYPES = new Set([
  'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  'application/vnd.dev.sigstore.trustedroot.v0.1+json',
  'application/vnd.dev.sigstore.trustedroot.v0.2+json',
]);

/** Verified, usable trust material. Immutable; share it between verifications. */
export interface TrustMaterial {
  /** sha256 of the trusted root's exact bytes: key caches of verification results on it. */
  readonly trustDigest: Digest;
  /** Where it came from, for messages: `file:<path>`, `tuf:<mirror>`, `inline`. */
  readonly source: string;
  /** Authorities in `@sigstore/verify` form (the `publicKey` finder is set per verification). */
  readonly authorities: Omit<SigstoreTrustMaterial, 'publicKey'>;
  /** Base URLs of the usable Rekor logs, keyed by hex log ID (for reports). */
  readonly tlogUrls: ReadonlyMap<string, string>;
  /** Entries that were dropped or accepted with a caveat (see the validity rule above). */
  readonly warnings: readonly string[];
}

export interface TrustLoadOptions {
  /** Also reject tlog/CT keys that carry no `validFor` at all (stricter than sigstore-js). */
  requireKeyValidity?: boolean;
}

const BEGINNING_OF_TIME = new Date(0);
const END_OF_TIME = new Date(8640000000000000);

function bad(message: string): never {
  throw new VerificationError('TRUST_ROOT', message);
}

function decodeBase64Field(value: unknown, what: string): Buffer<ArrayBuffer> {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0 || value.length === 0) {
    bad(`${what} must be non-empty standard base64`);
  }
  return Buffer.from(value, 'base64');
}

type Validity = { ok: true; start: Date; end: Date; unbounded: boolean } | { ok: false; reason: string };

function parseValidity(value: unknown, absentMeansUnbounded: boolean): Validity {
  if (value === undefined) {
    return absentMeansUnbounded
      ? { ok: true, start: BEGINNING_OF_TIME, end: END_OF_TIME, unbounded: true }
      : { ok: false, reason: 'has no validFor' };
  }
  if (!isRecord(value)) return { ok: false, reason: 'validFor is not an object' };
  const start = typeof value.start === 'string' ? new Date(value.start) : undefined;
  if (start === undefined || Number.isNaN(start.getTime())) return { ok: false, reason: 'validFor has no valid start' };
  let end = END_OF_TIME;
  if (value.end !== undefined) {
    const parsed = typeof value.end === 'string' ? new Date(value.end) : undefined;
    if (parsed === undefined || Number.isNaN(parsed.getTime())) return { ok: false, reason: 'validFor.end is not a timestamp' };
    end = parsed;
  }
  if (end < start) return { ok: false, reason: 'validFor.end is before validFor.start' };
  return { ok: true, start, end, unbounded: false };
}

const PKCS1_KEY_DETAILS = new Set([
  'PKCS1_RSA_PKCS1V5',
  'PKIX_RSA_PKCS1V5',
  'PKIX_RSA_PKCS1V15_2048_SHA256',
  'PKIX_RSA_PKCS1V15_3072_SHA256',
  'PKIX_RSA_PKCS1V15_4096_SHA256',
]);

function parseLogs(list: unknown, kind: 'tlogs' | 'ctlogs', options: TrustLoadOptions, warnings: string[]): { authorities: TLogAuthority[]; urls: Map<string, string> } {
  if (list === undefined) return { authorities: [], urls: new Map() };
  if (!Array.isArray(list)) bad(`${kind} must be an array`);
  const authorities: TLogAuthority[] = [];
  const urls = new Map<string, string>();
  list.forEach((entry: unknown, i) => {
    const where = `${kind}[${i}]`;
    if (!isRecord(entry) || !isRecord(entry.publicKey) || !isRecord(entry.logId)) bad(`${where} must have publicKey and logId objects`);
    const baseURL = typeof entry.baseUrl === 'string' ? entry.baseUrl : '';
    const raw = decodeBase64Field(entry.publicKey.rawBytes, `${where}.publicKey.rawBytes`);
    const logId = decodeBase64Field(entry.logId.keyId, `${where}.logId.keyId`);
    const keyDetails = typeof entry.publicKey.keyDetails === 'string' ? entry.publicKey.keyDetails : '';
    const validity = parseValidity(entry.publicKey.validFor, !options.requireKeyValidity);
    if (!validity.ok) {
      warnings.push(`${where} (${baseURL}) ignored: its key ${validity.reason}`);
      return;
    }
    if (validity.unbounded) warnings.push(`${where} (${baseURL}): key has no validFor, treated as always valid`);
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: raw, format: 'der', type: keyDetails === 'PKCS1_RSA_PKCS1V5' ? 'pkcs1' : 'spki' });
    } catch (err) {
      bad(`${where}.publicKey.rawBytes is not a valid ${PKCS1_KEY_DETAILS.has(keyDetails) ? 'RSA ' : ''}public key: ${(err as Error).message}`);
    }
    const validFor = { start: validity.start, end: validity.end };
    authorities.push({ logID: logId, baseURL, publicKey, validFor });
    urls.set(logId.toString('hex'), baseURL);
    // @sigstore/verify matches SETs on logId and checkpoints on the first 4 bytes of the log ID; a v0.2
    // root may give the checkpoint key ID separately (Rekor v2), so register the key under both IDs.
    if (isRecord(entry.checkpointKeyId) && entry.checkpointKeyId.keyId !== undefined) {
      const checkpointId = decodeBase64Field(entry.checkpointKeyId.keyId, `${where}.checkpointKeyId.keyId`);
      if (!checkpointId.equals(logId)) authorities.push({ logID: checkpointId, baseURL, publicKey, validFor });
    }
  });
  return { authorities, urls };
}

function parseAuthorities(list: unknown, kind: 'certificateAuthorities' | 'timestampAuthorities', warnings: string[]): CertAuthority[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) bad(`${kind} must be an array`);
  const out: CertAuthority[] = [];
  list.forEach((entry: unknown, i) => {
    const where = `${kind}[${i}]`;
    if (!isRecord(entry) || !isRecord(entry.certChain) || !Array.isArray(entry.certChain.certificates) || entry.certChain.certificates.length === 0) {
      bad(`${where} must have a non-empty certChain.certificates array`);
    }
    const uri = typeof entry.uri === 'string' ? entry.uri : '';
    const certChain = (entry.certChain.certificates as unknown[]).map((cert, j) => {
      if (!isRecord(cert)) bad(`${where}.certChain.certificates[${j}] must be an object`);
      const der = decodeBase64Field(cert.rawBytes, `${where}.certChain.certificates[${j}].rawBytes`);
      try {
        return SigstoreX509Certificate.parse(der);
      } catch (err) {
        bad(`${where}.certChain.certificates[${j}] is not a valid X.509 certificate: ${(err as Error).message}`);
      }
    });
    const validFor = entry.validFor;
    if (validFor === undefined || (isRecord(validFor) && validFor.start === undefined)) {
      const start = new Date(Math.max(...certChain.map((c) => c.notBefore.getTime())));
      const end = new Date(Math.min(...certChain.map((c) => c.notAfter.getTime())));
      const declaredEnd = isRecord(validFor) && typeof validFor.end === 'string' ? new Date(validFor.end) : undefined;
      if (declaredEnd !== undefined && Number.isNaN(declaredEnd.getTime())) {
        warnings.push(`${where} (${uri}) ignored: validFor.end is not a timestamp`);
        return;
      }
      const effectiveEnd = declaredEnd !== undefined && declaredEnd < end ? declaredEnd : end;
      warnings.push(`${where} (${uri}): no validFor.start, bounded by its certificates ${start.toISOString()} .. ${effectiveEnd.toISOString()}`);
      out.push({ certChain, validFor: { start, end: effectiveEnd } });
      return;
    }
    const validity = parseValidity(validFor, false);
    if (!validity.ok) {
      warnings.push(`${where} (${uri}) ignored: it ${validity.reason}`);
      return;
    }
    out.push({ certChain, validFor: { start: validity.start, end: validity.end } });
  });
  return out;
}

/** Parse and validate trusted-root JSON bytes. Throws TRUST_ROOT naming the bad field. */
export function trustFromBytes(bytes: Uint8Array, source = 'inline', options: TrustLoadOptions = {}): TrustMaterial {
  if (bytes.byteLength > MAX_TRUSTED_ROOT_BYTES) bad(`trusted root from ${source} is larger than ${MAX_TRUSTED_ROOT_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    bad(`trusted root from ${source} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(json)) bad(`trusted root from ${source} must be a JSON object`);
  if (typeof json.mediaType !== 'string' || !TRUSTED_ROOT_MEDIA_TYPES.has(json.mediaType)) {
    bad(`trusted root from ${source} has unsupported mediaType ${echo(json.mediaType)}`);
  }
  const warnings: string[] = [];
  const tlogs = parseLogs(json.tlogs, 'tlogs', options, warnings);
  const ctlogs = parseLogs(json.ctlogs, 'ctlogs', options, warnings);
  const certificateAuthorities = parseAuthorities(json.certificateAuthorities, 'certificateAuthorities', warnings);
  const timestampAuthorities = parseAuthorities(json.timestampAuthorities, 'timestampAuthorities', warnings);
  if (tlogs.authorities.length + certificateAuthorities.length + timestampAuthorities.length === 0) {
    bad(`trusted root from ${source} has no usable transparency log, certificate authority or timestamp authority`);
  }
  return {
    trustDigest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest,
    source,
    authorities: { certificateAuthorities, timestampAuthorities, tlogs: tlogs.authorities, ctlogs: ctlogs.authorities },
    tlogUrls: tlogs.urls,
    warnings,
  };
}

/** Load a `trusted_root.json` from disk (the air-gapped default). */
export function loadTrustedRootFile(path: string, options: TrustLoadOptions = {}): TrustMaterial {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new VerificationError('TRUST_UNAVAILABLE', `cannot read trusted root ${path}: ${(err as Error).message}`, { cause: err });
  }
  return trustFromBytes(bytes, `file:${path}`, options);
}

export interface TufTrustOptions extends TrustLoadOptions {
  /** TUF repository; default the Sigstore public-good mirror. */
  mirrorURL?: string;
  /** Directory for TUF metadata and targets (created if missing). */
  cachePath: string;
  /** Initial TUF root.json; required for any mirror other than public-good (whose root ships with @sigstore/tuf). */
  rootPath?: string;
  /** Use cached metadata without refreshing (offline, accepts possibly stale metadata). */
  forceCache?: boolean;
  /** Overall deadline for the refresh and download, default 20 s. */
  timeoutMs?: number;
}

/**
 * Fetch one target of the TUF repository (`trusted_root.json`, npm's `registry.npmjs.org/keys.json`).
 * Every failure (mirror unreachable, deadline, missing or invalid TUF root, unknown target) is
 * TRUST_UNAVAILABLE naming the target and the mirror.
 */
export async function fetchTufTarget(targetName: string, options: TufTrustOptions): Promise<string> {
  const mirrorURL = options.mirrorURL ?? PUBLIC_GOOD_TUF_MIRROR;
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    mkdirSync(options.cachePath, { recursive: true });
    const fetchTarget = (async () => {
      // Imported on first use: @sigstore/tuf costs ~0.3 s of start-up and only the online path needs it.
      const { initTUF } = await import('@sigstore/tuf');
      const tuf = await initTUF({
        mirrorURL,
        cachePath: options.cachePath,
        ...(options.rootPath === undefined ? {} : { rootPath: options.rootPath }),
        forceCache: options.forceCache ?? false,
        retry: false,
        timeout: Math.min(timeoutMs, 10_000),
      });
      return tuf.getTarget(targetName);
    })();
    fetchTarget.catch(() => undefined); // settled later or abandoned after the deadline
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    return await Promise.race([fetchTarget, deadline]);
  } catch (err) {
    const cause = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
    throw new VerificationError('TRUST_UNAVAILABLE', `cannot obtain ${targetName} from TUF mirror ${mirrorURL}: ${cause}`, { cause: err });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Fetch `trusted_root.json` through TUF (failures: `fetchTufTarget`); a fetched but invalid root is
 * TRUST_ROOT.
 */
export async function loadTrustedRootTuf(options: TufTrustOptions): Promise<TrustMaterial> {
  const text = await fetchTufTarget('trusted_root.json', options);
  return trustFromBytes(Buffer.from(text, 'utf8'), `tuf:${options.mirrorURL ?? PUBLIC_GOOD_TUF_MIRROR}`, { requireKeyValidity: true, ...options });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** All certificates in a PEM text, in order (roots/intermediates for chain verification). Throws CERTIFICATE. */
export function parseCertificatesPem(text: string): NodeX509Certificate[] {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new VerificationError('CERTIFICATE', 'no "-----BEGIN CERTIFICATE-----" block found');
  return blocks.map((block, i) => {
    try {
      return new NodeX509Certificate(block);
    } catch (err) {
      throw new VerificationError('CERTIFICATE', `certificate #${i + 1} in the PEM text is not valid: ${(err as Error).message}`, { cause: err });
    }
  });
}
