/**
 * Keyless signing (Sigstore "Fulcio + Rekor [+ TSA]") through `@sigstore/sign`: an ephemeral P-256
 * key, a short-lived certificate from Fulcio for the identity in an OIDC token, a Rekor v1 entry
 * (signed entry timestamp + inclusion proof) and, when a TSA URL is configured, an RFC 3161 timestamp.
 *
 * Owns: the keyless configuration (service URLs from flags, `MODELGATE_FULCIO_URL` /
 * `MODELGATE_REKOR_URL` / `MODELGATE_TSA_URL`, defaults = the public-good instance, no TSA by default),
 * reading and pre-checking the OIDC token (`SIGSTORE_ID_TOKEN`, as cosign and sigstore-js read it;
 * never logged or put into an error message), one deadline over the whole exchange plus a timeout on
 * each request, mapping library failures to coded `SigningError`s (FULCIO, REKOR, TSA,
 * IDENTITY_TOKEN, KEYLESS_TIMEOUT), and the output shape: a Sigstore bundle v0.3
 * (`application/vnd.dev.sigstore.bundle.v0.3+json`) whose verification material is the leaf
 * `certificate` — for message signatures too (the library's message builder writes a v0.2 chain;
 * the leaf alone is what cosign v3 writes and what the verifier needs). Nothing is returned unless
 * every service answered: no unsigned or half-witnessed output.
 */
import type { Bundle, SerializedBundle } from '@sigstore/bundle';
import type { FulcioSigner, Witness } from '@sigstore/sign';
import { SigningError } from './errors.ts';
import { SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../evidence/vocabulary.ts';

// @sigstore/sign and @sigstore/bundle (and the HTTP stack behind them) load when a keyless bundle is
// made, not when a command that offers keyless signing registers its options.
type SigstoreSign = typeof import('@sigstore/sign');
const loadSigstore = (): Promise<[SigstoreSign, typeof import('@sigstore/bundle')]> => Promise.all([import('@sigstore/sign'), import('@sigstore/bundle')]);

export const PUBLIC_GOOD_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const PUBLIC_GOOD_REKOR_URL = 'https://rekor.sigstore.dev';
export const IDENTITY_TOKEN_ENV = 'SIGSTORE_ID_TOKEN';
export const DEFAULT_KEYLESS_TIMEOUT_MS = 60_000;
const MAX_TOKEN_BYTES = 64 * 1024;

export interface KeylessConfig {
  readonly fulcioUrl: string;
  readonly rekorUrl: string;
  /** RFC 3161 timestamp authority; none when absent. */
  readonly tsaUrl?: string;
  /** The OIDC identity token (a JWT). Secret: never printed. */
  readonly identityToken: string;
  /** Deadline of the whole signing exchange; each request gets the same bound. */
  readonly timeoutMs: number;
}

/** What the token claims (unverified: Fulcio verifies it), for messages and early failure. */
export interface TokenClaims {
  readonly issuer: string;
  /** email when present (Fulcio's SAN then), else sub. */
  readonly subject: string;
  readonly expiresAt?: Date;
}

function tokenError(message: string): never {
  throw new SigningError('IDENTITY_TOKEN', message);
}

/**
 * Check the shape of an OIDC token the way Fulcio's client and server will read it (three base64url
 * parts, `iss`, `email` with `email_verified` or `sub`, `exp` not past), so a bad token fails here
 * with a clear message rather than inside the library (whose messages would echo the token).
 */
export function inspectIdentityToken(token: string, now: Date = new Date()): TokenClaims {
  if (token.length > MAX_TOKEN_BYTES) tokenError(`the identity token is longer than ${MAX_TOKEN_BYTES} bytes`);
  const parts = token.trim().split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+={0,2}$/.test(p))) tokenError('the identity token is not a JWT (three base64url parts)');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    tokenError('the identity token payload is not JSON');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) tokenError('the identity token payload is not a JSON object');
  const c = claims as Record<string, unknown>;
  if (typeof c.iss !== 'string' || c.iss === '') tokenError('the identity token has no issuer (iss)');
  let subject: string;
  if (c.email !== undefined) {
    if (typeof c.email !== 'string' || c.email === '') tokenError('the identity token has an empty email claim');
    if (c.email_verified !== true) tokenError('the identity token email is not verified (email_verified is not true); Fulcio refuses it');
    subject = c.email;
  } else if (typeof c.sub === 'string' && c.sub !== '') {
    subject = c.sub;
  } else {
    tokenError('the identity token has neither email nor sub');
  }
  let expiresAt: Date | undefined;
  if (c.exp !== undefined) {
    if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) tokenError('the identity token exp claim is not a number');
    expiresAt = new Date(c.exp * 1000);
    if (expiresAt.getTime() <= now.getTime()) tokenError(`the identity token expired at ${expiresAt.toISOString()}`);
  }
  return { issuer: c.iss, subject, ...(expiresAt === undefined ? {} : { expiresAt }) };
}

/** The token from `SIGSTORE_ID_TOKEN` (undefined when unset or empty). */
export function identityTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env[IDENTITY_TOKEN_ENV]?.trim();
  return token === undefined || token === '' ? undefined : token;
}

type Service = 'FULCIO' | 'REKOR' | 'TSA';
const SERVICE: Readonly<Record<Service, string>> = { FULCIO: 'Fulcio', REKOR: 'Rekor', TSA: 'timestamp authority' };

function checkServiceUrl(code: Service, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new SigningError(code, `${SERVICE[code]} URL ${JSON.stringify(value)} is not an http(s) URL`);
  return value.replace(/\/+$/, '');
}

export interface KeylessConfigInput {
  readonly fulcioUrl?: string;
  readonly rekorUrl?: string;
  readonly tsaUrl?: string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Flags first, then `MODELGATE_*_URL`, then the public-good services (no TSA by default). */
export function keylessConfig(input: KeylessConfigInput): KeylessConfig {
  const env = input.env ?? process.env;
  const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  const identityToken = identityTokenFromEnv(env);
  if (identityToken === undefined) {
    throw new SigningError('IDENTITY_TOKEN', `keyless signing needs an OIDC identity token in ${IDENTITY_TOKEN_ENV} (e.g. a CI job's id-token with audience "sigstore")`);
  }
  inspectIdentityToken(identityToken);
  const tsaUrl = pick(input.tsaUrl, 'MODELGATE_TSA_URL');
  return {
    fulcioUrl: checkServiceUrl('FULCIO', pick(input.fulcioUrl, 'MODELGATE_FULCIO_URL') ?? PUBLIC_GOOD_FULCIO_URL),
    rekorUrl: checkServiceUrl('REKOR', pick(input.rekorUrl, 'MODELGATE_REKOR_URL') ?? PUBLIC_GOOD_REKOR_URL),
    ...(tsaUrl === undefined ? {} : { tsaUrl: checkServiceUrl('TSA', tsaUrl) }),
    identityToken,
    timeoutMs: input.timeoutMs ?? DEFAULT_KEYLESS_TIMEOUT_MS,
  };
}

const LIBRARY_CODES: Readonly<Record<string, 'IDENTITY_TOKEN' | Service>> = {
  IDENTITY_TOKEN_READ_ERROR: 'IDENTITY_TOKEN',
  IDENTITY_TOKEN_PARSE_ERROR: 'IDENTITY_TOKEN',
  CA_CREATE_SIGNING_CERTIFICATE_ERROR: 'FULCIO',
  TLOG_CREATE_ENTRY_ERROR: 'REKOR',
  TLOG_FETCH_ENTRY_ERROR: 'REKOR',
  TSA_CREATE_TIMESTAMP_ERROR: 'TSA',
};

/** A coded error for a library failure; the token is cut out of anything the library said. */
function mapFailure(err: unknown, config: KeylessConfig): SigningError {
  if (err instanceof SigningError) return err;
  const record = err as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof record.code === 'string' ? LIBRARY_CODES[record.code] : undefined;
  const redact = (text: string): string => text.split(config.identityToken).join('[identity token]');
  const message = redact(typeof record.message === 'string' ? record.message : String(err));
  const cause = record.cause instanceof Error ? redact(record.cause.message) : '';
  const detail = cause !== '' && !message.includes(cause) ? `${message}: ${cause}` : message;
  if (code === undefined) return new SigningError('FULCIO', `keyless signing failed: ${detail}`);
  if (code === 'IDENTITY_TOKEN') return new SigningError(code, 'the identity token could not be used (malformed, or its subject unreadable)');
  const url = code === 'FULCIO' ? config.fulcioUrl : code === 'REKOR' ? config.rekorUrl : config.tsaUrl;
  return new SigningError(code, `${SERVICE[code]} at ${url}: ${detail}`);
}

/**
 * Each request may take half the deadline and is retried once (connection errors, 5xx, 408, 429), so
 * a slow first attempt still leaves room for the retry; the deadline itself is `withDeadline`'s.
 */
function requestOptions(config: KeylessConfig): { timeout: number; retry: number } {
  return { timeout: Math.max(1000, Math.floor(config.timeoutMs / 2)), retry: 1 };
}

function witnesses({ RekorWitness, TSAWitness }: SigstoreSign, config: KeylessConfig, entryType: 'dsse' | undefined): Witness[] {
  const common = requestOptions(config);
  const list: Witness[] = [new RekorWitness({ rekorBaseURL: config.rekorUrl, fetchOnConflict: true, ...(entryType === undefined ? {} : { entryType }), ...common })];
  if (config.tsaUrl !== undefined) list.push(new TSAWitness({ tsaBaseURL: config.tsaUrl, ...common }));
  return list;
}

function signer({ FulcioSigner }: SigstoreSign, config: KeylessConfig): FulcioSigner {
  return new FulcioSigner({
    fulcioBaseURL: config.fulcioUrl,
    identityProvider: { getToken: () => Promise.resolve(config.identityToken) },
    ...requestOptions(config),
  });
}

async function withDeadline<T>(config: KeylessConfig, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SigningError('KEYLESS_TIMEOUT', `keyless signing did not finish within ${config.timeoutMs} ms`)), config.timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    throw mapFailure(err, config);
  } finally {
    clearTimeout(timer);
  }
}

/** v0.3 form: the leaf certificate alone, empty timestamp data dropped; fail closed on missing evidence. */
function finish(bundleToJSON: (bundle: Bundle) => SerializedBundle, bundle: Bundle, config: KeylessConfig): SerializedBundle {
  const material = bundle.verificationMaterial;
  const content = material.content;
  const leaf = content.$case === 'x509CertificateChain' ? content.x509CertificateChain.certificates[0] : content.$case === 'certificate' ? content.certificate : undefined;
  if (leaf === undefined) throw new SigningError('FULCIO', `Fulcio at ${config.fulcioUrl} returned no signing certificate`);
  if (material.tlogEntries.length === 0 || material.tlogEntries.some((e) => e.inclusionPromise === undefined && e.inclusionProof === undefined)) {
    throw new SigningError('REKOR', `Rekor at ${config.rekorUrl} returned an entry without a signed entry timestamp or inclusion proof`);
  }
  if (config.tsaUrl !== undefined && (material.timestampVerificationData?.rfc3161Timestamps.length ?? 0) === 0) {
    throw new SigningError('TSA', `the timestamp authority at ${config.tsaUrl} returned no timestamp`);
  }
  const v03: Bundle = { ...bundle, mediaType: SIGSTORE_BUNDLE_V03_MEDIA_TYPE, verificationMaterial: { ...material, content: { $case: 'certificate', certificate: leaf } } };
  const json = bundleToJSON(v03);
  const timestamps = json.verificationMaterial.timestampVerificationData;
  if (timestamps !== undefined && (timestamps.rfc3161Timestamps ?? []).length === 0) delete json.verificationMaterial.timestampVerificationData;
  return json;
}

/** Keyless `messageSignature` bundle over `blob` (hashedrekord entry), like `cosign sign-blob` keyless. */
export async function keylessBlobBundle(blob: Uint8Array, config: KeylessConfig): Promise<SerializedBundle> {
  const [sign, { bundleToJSON }] = await loadSigstore();
  const builder = new sign.MessageSignatureBundleBuilder({ signer: signer(sign, config), witnesses: witnesses(sign, config, undefined) });
  const bundle = await withDeadline(config, builder.create({ data: Buffer.from(blob) }));
  return finish(bundleToJSON, bundle, config);
}

/** Keyless DSSE bundle over `payload` (Rekor `dsse` entry), like `cosign attest` keyless. */
export async function keylessDsseBundle(payload: Uint8Array, payloadType: string, config: KeylessConfig): Promise<SerializedBundle> {
  const [sign, { bundleToJSON }] = await loadSigstore();
  const builder = new sign.DSSEBundleBuilder({ signer: signer(sign, config), witnesses: witnesses(sign, config, 'dsse'), certificateChain: false });
  const bundle = await withDeadline(config, builder.create({ data: Buffer.from(payload), type: payloadType }));
  return finish(bundleToJSON, bundle, config);
}
