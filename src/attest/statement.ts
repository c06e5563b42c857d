/**
 * in-toto Statements (v0.1 and v1): strict parsing and subject digest matching.
 *
 * Owns: the `Statement` type, `parseStatement` (from the verified DSSE payload bytes — never from
 * anything unsigned), and subject matching by digest (sha256 / sha512, lowercase hex). The signed
 * `predicateType` is the only truth about what a statement says: callers dispatch on it, never on
 * bundle annotations or file names.
 */
import { AttestationError } from './errors.ts';
import { echo } from '../sigstore/errors.ts';
import { isRecord } from '../evidence/json.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../evidence/vocabulary.ts';

export const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1';
export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';

export type StatementVersion = 'v0.1' | 'v1';

/** A subject: a name (informational) and a digest set (`algorithm → lowercase hex`). */
export interface Subject {
  readonly name: string | undefined;
  readonly digest: Readonly<Record<string, string>>;
}

export interface Statement {
  readonly version: StatementVersion;
  readonly subject: readonly Subject[];
  readonly predicateType: string;
  /** The predicate object; `{}` when the statement omits it (allowed by v1). */
  readonly predicate: Readonly<Record<string, unknown>>;
}

/** Digest algorithms whose values are checked for shape and used for matching. */
export type SubjectDigestAlgorithm = 'sha256' | 'sha512';
const HEX_LENGTH: Record<SubjectDigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export interface ArtifactDigest {
  readonly algorithm: SubjectDigestAlgorithm;
  /** Lowercase hex. */
  readonly hex: string;
}

function fail(message: string): never {
  throw new AttestationError('STATEMENT', message);
}

function parseSubject(value: unknown, index: number): Subject {
  if (!isRecord(value)) fail(`subject[${index}] must be an object`);
  const { name, digest } = value;
  if (name !== undefined && typeof name !== 'string') fail(`subject[${index}].name must be a string`);
  if (!isRecord(digest) || Object.keys(digest).length === 0) fail(`subject[${index}].digest must be a non-empty object`);
  const out: Record<string, string> = {};
  for (const [algorithm, hex] of Object.entries(digest)) {
    if (typeof hex !== 'string' || hex.length === 0) fail(`subject[${index}].digest.${algorithm} must be a non-empty string`);
    if (algorithm === 'sha256' || algorithm === 'sha512') {
      if (hex.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(hex)) {
        fail(`subject[${index}].digest.${algorithm} must be ${HEX_LENGTH[algorithm]} lowercase hex characters`);
      }
    }
    out[algorithm] = hex;
  }
  return { name, digest: out };
}

/**
 * Parse an in-toto Statement from (already signature-verified) payload bytes or a parsed JSON value.
 * Accepts Statement v0.1 and v1; unknown top-level fields are ignored (in-toto parsing rules).
 */
export function parseStatement(payload: Uint8Array | string | unknown): Statement {
  let json: unknown = payload;
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new AttestationError('STATEMENT', `statement is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!isRecord(json)) fail('statement must be a JSON object');
  const type = json._type;
  let version: StatementVersion;
  if (type === STATEMENT_TYPE_V1) version = 'v1';
  else if (type === STATEMENT_TYPE_V01) version = 'v0.1';
  else fail(`statement _type must be ${STATEMENT_TYPE_V1} or ${STATEMENT_TYPE_V01}, got ${echo(type)}`);
  const { subject, predicateType, predicate } = json;
  if (!Array.isArray(subject) || subject.length === 0) fail('statement subject must be a non-empty array');
  if (typeof predicateType !== 'string' || predicateType.length === 0) fail('statement predicateType must be a non-empty string');
  if (predicate !== undefined && predicate !== null && !isRecord(predicate)) fail('statement predicate must be an object');
  return {
    version,
    subject: subject.map(parseSubject),
    predicateType,
    predicate: isRecord(predicate) ? predicate : {},
  };
}

/** Parse the payload of a DSSE envelope as an in-toto statement, checking the payload type first. */
export function parseStatementPayload(payloadType: string, payload: Uint8Array): Statement {
  // in-toto allows `application/vnd.in-toto+json` and `application/vnd.in-toto.<predicate>+json`.
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE && !/^application\/vnd\.in-toto\.[A-Za-z0-9._-]+\+json$/.test(payloadType)) {
    throw new AttestationError('PAYLOAD_TYPE', `DSSE payloadType must be ${IN_TOTO_PAYLOAD_TYPE}, got ${echo(payloadType)}`);
  }
  return parseStatement(payload);
}

/** `sha256:<hex>` / `sha512:<hex>` → ArtifactDigest; throws SUBJECT_MISMATCH naming the bad value. */
export function parseArtifactDigest(value: string): ArtifactDigest {
  const match = /^(sha256|sha512):([0-9a-f]+)$/.exec(value);
  const algorithm = match?.[1] as SubjectDigestAlgorithm | undefined;
  if (match === null || algorithm === undefined || (match[2] ?? '').length !== HEX_LENGTH[algorithm]) {
    throw new AttestationError('SUBJECT_MISMATCH', `"${value}" is not a sha256:<64 hex> or sha512:<128 hex> digest`);
  }
  return { algorithm, hex: match[2] as string };
}

/** The subjects whose digest set holds `digest` (same algorithm, same value). */
export function subjectsMatching(statement: Statement, digest: ArtifactDigest): Subject[] {
  return statement.subject.filter((s) => s.digest[digest.algorithm] === digest.hex);
}

/** Require that some subject names one of `digests`; returns the first match. Throws SUBJECT_MISMATCH. */
export function requireSubject(statement: Statement, ...digests: ArtifactDigest[]): Subject {
  for (const digest of digests) {
    const found = subjectsMatching(statement, digest)[0];
    if (found !== undefined) return found;
  }
  const wanted = digests.map((d) => `${d.algorithm}:${d.hex}`).join(', ');
  throw new AttestationError('SUBJECT_MISMATCH', `provided artifact digest ${wanted} does not match any subject digest in the statement`);
}

/** Require the signed predicateType to be one of `accepted`. Throws PREDICATE_TYPE. */
export function requirePredicateType(statement: Statement, ...accepted: string[]): string {
  if (!accepted.includes(statement.predicateType)) {
    throw new AttestationError('PREDICATE_TYPE', `statement predicateType is ${echo(statement.predicateType)}, expected ${accepted.join(' or ')}`);
  }
  return statement.predicateType;
}
