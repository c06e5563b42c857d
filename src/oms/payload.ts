/**
 * The OMS (OpenSSF model signing) payload: an in-toto statement whose predicate lists the model's
 * resources and how they were serialised.
 *
 * Owns: `OmsManifest` and `parseOmsStatement`: predicateType `https://model_signing/signature/v1.0`
 * (and, only when asked, the legacy v0.2.0 `https://model_signing/Digests/v0.1`), strict checks of
 * `serialization` and `resources`, and the root-digest rule: the single subject's sha256 must equal
 * sha256 over the raw resource digests **in the order listed** (so both the OMS spec's code-point
 * order and model_signing's path-component order verify, as long as the content agrees).
 */
import { createHash } from 'node:crypto';
import type { Statement } from '../attest/statement.ts';
import { isRecord } from '../evidence/json.ts';
import { ModelSignatureError } from './errors.ts';
import { echo } from '../sigstore/errors.ts';

export const OMS_PREDICATE_V1 = 'https://model_signing/signature/v1.0';
export const OMS_PREDICATE_LEGACY = 'https://model_signing/Digests/v0.1';

/** Hash types as recorded in OMS payloads (`blake2b` = BLAKE2b-512). blake3 is not supported. */
export type OmsHashType = 'sha256' | 'blake2b';

export type OmsSerialization =
  | { readonly method: 'files'; readonly hashType: OmsHashType; readonly allowSymlinks: boolean; readonly ignorePaths: readonly string[] }
  | { readonly method: 'shards'; readonly hashType: OmsHashType; readonly allowSymlinks: boolean; readonly ignorePaths: readonly string[]; readonly shardSize: number };

export interface OmsResource {
  /** `files`: POSIX path relative to the model root (`.` for a single-file model); `shards`: `path:start:end`. */
  readonly name: string;
  readonly algorithm: OmsHashType;
  /** Lowercase hex. */
  readonly digest: string;
}

export interface OmsManifest {
  readonly format: 'v1.0' | 'legacy-v0.2';
  /** Informational model name (the subject name). */
  readonly modelName: string;
  /** Hex sha256 root digest (v1.0); undefined for the legacy format, which has none. */
  readonly rootDigest: string | undefined;
  readonly serialization: OmsSerialization;
  /** In the order listed in the payload. */
  readonly resources: readonly OmsResource[];
}

const HEX_LENGTH: Record<OmsHashType, number> = { sha256: 64, blake2b: 128 };

function bad(message: string): never {
  throw new ModelSignatureError('PAYLOAD', message);
}

function hashType(value: unknown, what: string): OmsHashType {
  if (value === 'sha256' || value === 'blake2b') return value;
  if (value === 'blake3') throw new ModelSignatureError('OMS_UNSUPPORTED', `${what} blake3 is not supported by this verifier (Node's OpenSSL has no BLAKE3)`);
  bad(`${what} must be sha256 or blake2b, got ${echo(value)}`);
}

/** Python's JSON → protobuf Struct round trip turns integers into floats (`8.0`); accept whole numbers only. */
function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) bad(`${what} must be a positive integer, got ${echo(value)}`);
  return value;
}

function booleanField(value: unknown, what: string): boolean {
  // model_signing's compat path records "false" as a string; accept only the two spellings.
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false' || value === undefined) return false;
  bad(`${what} must be a boolean`);
}

function ignorePaths(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((p) => typeof p !== 'string')) bad('serialization.ignore_paths must be an array of strings');
  return value as string[];
}

function parseSerialization(value: unknown): OmsSerialization {
  if (!isRecord(value)) bad('predicate.serialization must be an object');
  const type = hashType(value.hash_type, 'serialization.hash_type');
  const allowSymlinks = booleanField(value.allow_symlinks, 'serialization.allow_symlinks');
  const ignore = ignorePaths(value.ignore_paths);
  if (value.method === 'files') return { method: 'files', hashType: type, allowSymlinks, ignorePaths: ignore };
  if (value.method === 'shards') {
    return { method: 'shards', hashType: type, allowSymlinks, ignorePaths: ignore, shardSize: positiveInteger(value.shard_size ?? 1_000_000_000, 'serialization.shard_size') };
  }
  bad(`serialization.method must be "files" or "shards", got ${echo(value.method)}`);
}

function validateName(name: string, index: number): void {
  if (name.length === 0) bad(`resources[${index}].name is empty`);
  if (name.startsWith('/') || name.split('/').some((c) => c === '..' || c === '')) {
    if (name !== '.') bad(`resources[${index}].name ${echo(name)} must be a relative POSIX path without ".." or empty components`);
  }
  if (name.includes('\0')) bad(`resources[${index}].name contains a NUL byte`);
}

function parseResources(value: unknown, serialization: OmsSerialization): OmsResource[] {
  if (!Array.isArray(value) || value.length === 0) bad('predicate.resources must be a non-empty array');
  const seen = new Set<string>();
  return value.map((entry, i): OmsResource => {
    if (!isRecord(entry)) bad(`resources[${i}] must be an object`);
    if (typeof entry.name !== 'string') bad(`resources[${i}].name must be a string`);
    validateName(entry.name, i);
    const algorithm = hashType(entry.algorithm, `resources[${i}].algorithm`);
    if (algorithm !== serialization.hashType) bad(`resources[${i}].algorithm ${algorithm} differs from serialization.hash_type ${serialization.hashType}`);
    if (typeof entry.digest !== 'string' || entry.digest.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(entry.digest)) {
      bad(`resources[${i}].digest must be ${HEX_LENGTH[algorithm]} lowercase hex characters`);
    }
    if (seen.has(entry.name)) bad(`resources list ${echo(entry.name)} twice`);
    seen.add(entry.name);
    return { name: entry.name, algorithm, digest: entry.digest };
  });
}

/** sha256 over the concatenated raw resource digests, in the given order (hex). */
export function rootDigestOf(resources: readonly OmsResource[]): string {
  const hash = createHash('sha256');
  for (const r of resources) hash.update(Buffer.from(r.digest, 'hex'));
  return hash.digest('hex');
}

export interface ParseOmsOptions {
  /** Accept the pre-1.0 `Digests/v0.1` payload (no root digest, no serialization record). */
  readonly allowLegacy?: boolean;
}

/** Turn a verified statement into an OMS manifest. Throws ModelSignatureError PAYLOAD / ROOT_DIGEST / OMS_UNSUPPORTED. */
export function parseOmsStatement(statement: Statement, options: ParseOmsOptions = {}): OmsManifest {
  if (statement.predicateType === OMS_PREDICATE_LEGACY) {
    if (options.allowLegacy !== true) {
      throw new ModelSignatureError('OMS_UNSUPPORTED', `legacy model_signing v0.2 payload (${OMS_PREDICATE_LEGACY}) is only accepted with the explicit legacy option`);
    }
    const serialization: OmsSerialization = { method: 'files', hashType: 'sha256', allowSymlinks: false, ignorePaths: [] };
    const resources = statement.subject.map((s, i): OmsResource => {
      const digest = s.digest.sha256;
      if (s.name === undefined || digest === undefined) bad(`legacy subject[${i}] needs a name and a sha256 digest`);
      validateName(s.name, i);
      return { name: s.name, algorithm: 'sha256', digest };
    });
    return { format: 'legacy-v0.2', modelName: 'compat-undefined-not-present', rootDigest: undefined, serialization, resources };
  }
  if (statement.version !== 'v1') bad(`OMS payloads are in-toto Statement v1, got ${statement.version}`);
  if (statement.predicateType !== OMS_PREDICATE_V1) {
    throw new ModelSignatureError('PAYLOAD', `predicateType ${echo(statement.predicateType)} is not ${OMS_PREDICATE_V1}`);
  }
  if (statement.subject.length !== 1) bad(`OMS statements have exactly one subject, got ${statement.subject.length}`);
  const subject = statement.subject[0] as Statement['subject'][number];
  const rootDigest = subject.digest.sha256;
  if (rootDigest === undefined) bad('the OMS subject has no sha256 digest');
  const serialization = parseSerialization(statement.predicate.serialization);
  const resources = parseResources(statement.predicate.resources, serialization);
  const computed = rootDigestOf(resources);
  if (computed !== rootDigest) {
    throw new ModelSignatureError('ROOT_DIGEST', `manifest is inconsistent: subject digest is ${rootDigest}, the listed resources hash to ${computed}`);
  }
  return { format: 'v1.0', modelName: subject.name ?? '', rootDigest, serialization, resources };
}
