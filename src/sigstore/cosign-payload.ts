/**
 * What a cosign signature or attestation says it is about, and the check that it is about *this* artifact.
 *
 * Owns: parsing of the two payload forms cosign signs — the "simple signing" container-image payload
 * (`critical.image.docker-manifest-digest`, `critical.type`) and the in-toto Statement (v0.1 / v1,
 * `subject[].digest`, parsed by `src/attest/statement.ts`) — and the binding rule: a signature that
 * verifies cryptographically but names a different digest is a DIGEST failure. Runs only on payload bytes whose signature already verified.
 */
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import { MediaType } from '../oci/manifest.ts';
import { parseStatementPayload, subjectsMatching, type Statement } from '../attest/statement.ts';
import { echo, VerificationError } from './errors.ts';
import { isRecord } from '../evidence/json.ts';

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
/** predicateType of a cosign v3 (new bundle format) image signature. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

/** Signed payloads larger than this are refused before parsing. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface SimpleSigningPayload {
  readonly format: 'simple-signing';
  /** `critical.identity.docker-reference`: a claim for policy, not part of the binding. */
  readonly dockerReference: string | undefined;
  /** `critical.image.docker-manifest-digest`, as written. */
  readonly manifestDigest: string;
  /** `optional` (cosign `-a key=value` annotations); `null` when none were given. */
  readonly optional: Readonly<Record<string, unknown>> | null;
}

/** An in-toto Statement (parsed by `src/attest/statement.ts`) as a signed payload. */
export interface InTotoPayload {
  readonly format: 'in-toto';
  readonly statement: Statement;
}

/** A message signature over the subject manifest's own bytes (no payload of its own: the bytes are the subject). */
export interface SubjectManifestPayload {
  readonly format: 'subject-manifest';
  readonly manifestDigest: string;
}

export type SignedPayload = SimpleSigningPayload | InTotoPayload | SubjectManifestPayload;

function payloadError(why: string): VerificationError {
  return new VerificationError('BUNDLE_FORMAT', why);
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) throw payloadError(`${what} is ${bytes.byteLength} bytes, limit ${MAX_PAYLOAD_BYTES}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw payloadError(`${what} is not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(doc)) throw payloadError(`${what} must be a JSON object`);
  return doc;
}

/** Parse a simple-signing payload (cosign `.sig` layer blob, or a Chains-style DSSE signature). */
export function parseSimpleSigning(bytes: Uint8Array): SimpleSigningPayload {
  const doc = parseJson(bytes, 'simple-signing payload');
  const critical = doc.critical;
  if (!isRecord(critical)) throw payloadError('simple-signing payload: "critical" must be an object');
  if (critical.type !== SIMPLE_SIGNING_TYPE) {
    throw payloadError(`simple-signing payload: critical.type must be "${SIMPLE_SIGNING_TYPE}", got ${echo(critical.type)}`);
  }
  const image = critical.image;
  if (!isRecord(image) || typeof image['docker-manifest-digest'] !== 'string') {
    throw payloadError('simple-signing payload: critical.image.docker-manifest-digest must be a string');
  }
  const identity = critical.identity;
  const dockerReference = isRecord(identity) && typeof identity['docker-reference'] === 'string' ? identity['docker-reference'] : undefined;
  const optional = doc.optional === undefined || doc.optional === null ? null : doc.optional;
  if (optional !== null && !isRecord(optional)) throw payloadError('simple-signing payload: "optional" must be an object or null');
  return { format: 'simple-signing', dockerReference, manifestDigest: image['docker-manifest-digest'], optional };
}

/** Parse the payload of a verified DSSE envelope according to its payloadType. */
export function parseDssePayload(payloadType: string, payload: Uint8Array): SignedPayload {
  if (payloadType === MediaType.COSIGN_SIMPLESIGNING) return parseSimpleSigning(payload);
  if (payload.byteLength > MAX_PAYLOAD_BYTES) throw payloadError(`DSSE payload is ${payload.byteLength} bytes, limit ${MAX_PAYLOAD_BYTES}`);
  return { format: 'in-toto', statement: parseStatementPayload(payloadType, payload) };
}

/** True when the statement lists `subject` among its subjects (same algorithm, same hex). */
export function statementNamesDigest(statement: Statement, subject: Digest): boolean {
  return subjectsMatching(statement, { algorithm: digestAlgorithm(subject), hex: digestHex(subject) }).length > 0;
}

/** Throw DIGEST unless the signed payload is about `subject`. */
export function assertPayloadNamesDigest(payload: SignedPayload, subject: Digest): void {
  if (payload.format === 'simple-signing' || payload.format === 'subject-manifest') {
    if (payload.manifestDigest !== subject) {
      throw new VerificationError('DIGEST', `signature payload names ${payload.manifestDigest}, not ${subject}`);
    }
    return;
  }
  if (!statementNamesDigest(payload.statement, subject)) {
    const named = payload.statement.subject.map((s) => Object.entries(s.digest).map(([a, h]) => `${a}:${h}`).join('|')).join(', ');
    throw new VerificationError('DIGEST', `statement subjects (${named}) do not include ${subject}`);
  }
}

/** A payload is a signature unless it is an in-toto statement of another predicate than cosign v3's sign. */
export function payloadKind(payload: SignedPayload): 'signature' | 'attestation' {
  if (payload.format !== 'in-toto') return 'signature';
  return payload.statement.predicateType === COSIGN_SIGN_PREDICATE_TYPE ? 'signature' : 'attestation';
}
