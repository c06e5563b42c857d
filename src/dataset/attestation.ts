/**
 * The dataset attestation: an in-toto Statement v1 about a dataset manifest (`modelgate dataset attest`).
 *
 * Owns: the predicate type `https://modelgate.dev/dataset/v1`, its JSON schema (checked with ajv on
 * every predicate before it is signed), and the strict normalisers for the command-line values that
 * make it — `--source URI=ALG:HEX`, `--step KIND` or `--step '{"kind":…,"description":…,"tool":…,
 * "parameters":{…}}'`, `--license SPDX-EXPRESSION` (parsed with `spdx-expression-parse`). The
 * subject is the manifest: its name and the sha256 of its bytes — the digest `attest run
 * --dataset-manifest` records and `dataset sign` signs.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv2020 as Ajv2020Type, ValidateFunction } from 'ajv/dist/2020.js';
import { UsageError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { DATASET_MANIFEST_MEDIA_TYPE, type DatasetManifest } from './manifest.ts';

export const DATASET_PREDICATE_TYPE = 'https://modelgate.dev/dataset/v1';

/** Curation step kinds with an agreed meaning; others are allowed when kebab-case. */
export const KNOWN_STEP_KINDS = ['dedup', 'filter', 'pii-removal', 'decontamination', 'language-id', 'quality-filter', 'toxicity-filter', 'tokenization', 'sampling', 'augmentation', 'normalization', 'labeling', 'split'] as const;

export interface DatasetSource {
  readonly uri: string;
  readonly digest: Readonly<Record<string, string>>;
}

export interface CurationStep {
  readonly kind: string;
  readonly description?: string;
  readonly tool?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export interface DatasetPredicate {
  readonly manifest: {
    readonly mediaType: typeof DATASET_MANIFEST_MEDIA_TYPE;
    readonly digest: Digest;
    readonly merkleRoot: Digest;
    readonly fileCount: number;
    readonly totalSize: number;
    readonly uri?: string;
  };
  readonly sources: readonly DatasetSource[];
  readonly curation: readonly CurationStep[];
  readonly license?: string;
}

const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const URI = '^[A-Za-z][A-Za-z0-9+.-]*:[^\\s]+$';
const KIND = '^[a-z][a-z0-9]*(-[a-z0-9]+)*$';

/** JSON schema (2020-12) of the predicate; `additionalProperties: false` everywhere. */
export const DATASET_PREDICATE_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: DATASET_PREDICATE_TYPE,
  type: 'object',
  additionalProperties: false,
  required: ['manifest', 'sources', 'curation'],
  properties: {
    manifest: {
      type: 'object',
      additionalProperties: false,
      required: ['mediaType', 'digest', 'merkleRoot', 'fileCount', 'totalSize'],
      properties: {
        mediaType: { const: DATASET_MANIFEST_MEDIA_TYPE },
        digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
        merkleRoot: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
        fileCount: { type: 'integer', minimum: 0 },
        totalSize: { type: 'integer', minimum: 0 },
        uri: { type: 'string', pattern: URI, maxLength: 2048 },
      },
    },
    sources: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['uri', 'digest'],
        properties: {
          uri: { type: 'string', pattern: URI, maxLength: 2048 },
          digest: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, sha384: { type: 'string', pattern: '^[0-9a-f]{96}$' }, sha512: { type: 'string', pattern: '^[0-9a-f]{128}$' } },
          },
        },
      },
    },
    curation: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['kind'],
        properties: {
          kind: { type: 'string', pattern: KIND, maxLength: 64 },
          description: { type: 'string', minLength: 1, maxLength: 4096 },
          tool: { type: 'string', minLength: 1, maxLength: 256 },
          parameters: { type: 'object' },
        },
      },
    },
    license: { type: 'string', minLength: 1, maxLength: 1024 },
  },
} as const;

const requireCjs = createRequire(import.meta.url);

/** ajv, loaded on first validation: `dataset manifest` and the other subcommands never pay for it. */
function newAjv(): Ajv2020Type {
  const { Ajv2020 } = requireCjs('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  return new Ajv2020({ allErrors: true, strict: true });
}

let validator: ValidateFunction | undefined;
let stepValidator: ValidateFunction | undefined;

/** Throws a UsageError naming every schema violation of `predicate`. */
export function checkDatasetPredicate(predicate: unknown): asserts predicate is DatasetPredicate {
  validator ??= newAjv().compile(DATASET_PREDICATE_SCHEMA);
  if (validator(predicate)) return;
  const problems = (validator.errors ?? []).map((e) => `${e.instancePath === '' ? '(predicate)' : e.instancePath} ${e.message ?? 'is invalid'}`);
  throw new UsageError('USAGE', `dataset predicate is invalid: ${problems.join('; ')}`);
}

/** `--source URI=ALG:HEX` (the URI may itself contain `=`: the last `=ALG:` splits). */
export function parseSourceFlag(text: string): DatasetSource {
  const match = /^(.+)=(sha256|sha384|sha512):([0-9a-fA-F]+)$/.exec(text);
  if (match === null) throw new UsageError('USAGE', `--source ${JSON.stringify(text)} must be URI=sha256:<hex> (or sha384/sha512)`);
  const [, uri, algorithm, hex] = match as unknown as [string, string, string, string];
  if (!new RegExp(URI).test(uri)) throw new UsageError('USAGE', `--source ${JSON.stringify(text)}: ${JSON.stringify(uri)} is not a URI (scheme:…, no spaces)`);
  if (hex.length !== HEX_LENGTH[algorithm]) throw new UsageError('USAGE', `--source ${JSON.stringify(text)}: a ${algorithm} digest has ${HEX_LENGTH[algorithm]} hex digits, got ${hex.length}`);
  return { uri, digest: { [algorithm]: hex.toLowerCase() } };
}

/** `--step KIND` or `--step '{"kind":…,"description":…,"tool":…,"parameters":{…}}'`. */
export function parseStepFlag(text: string): CurationStep {
  const trimmed = text.trim();
  let step: unknown;
  if (trimmed.startsWith('{')) {
    try {
      step = JSON.parse(trimmed);
    } catch (err) {
      throw new UsageError('USAGE', `--step ${JSON.stringify(text)} is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    step = { kind: trimmed };
  }
  stepValidator ??= newAjv().compile(DATASET_PREDICATE_SCHEMA.properties.curation.items);
  const check = stepValidator;
  if (!check(step)) {
    const problems = (check.errors ?? []).map((e) => `${e.instancePath === '' ? 'step' : e.instancePath.slice(1)} ${e.message ?? 'is invalid'}${e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new UsageError('USAGE', `--step ${JSON.stringify(text)}: ${problems.join('; ')} (kind: kebab-case such as ${KNOWN_STEP_KINDS.slice(0, 4).join(', ')}; fields kind, description, tool, parameters)`);
  }
  return step as CurationStep;
}

/** `spdx-expression-parse` (loaded on first use) has no type declarations; it throws on anything that is not an SPDX expression. */
const parseSpdx = (expression: string): unknown => (requireCjs('spdx-expression-parse') as (expression: string) => unknown)(expression);

/** Whether `text` is an SPDX licence expression. */
export function isSpdxExpression(text: string): boolean {
  try {
    parseSpdx(text);
    return true;
  } catch {
    return false;
  }
}

/** `--license`: an SPDX licence expression (`Apache-2.0`, `CC-BY-4.0 OR MIT`, `LicenseRef-…`). */
export function parseLicenseFlag(text: string): string {
  if (!isSpdxExpression(text)) {
    throw new UsageError('USAGE', `--license ${JSON.stringify(text)} is not an SPDX licence expression (e.g. Apache-2.0, CC-BY-SA-4.0, "MIT OR Apache-2.0", LicenseRef-custom)`);
  }
  return text;
}

/** sha256 of the manifest bytes, as `attest run --dataset-manifest` and `dataset sign` see them. */
export function manifestDigest(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
}

export interface DatasetPredicateInput {
  readonly manifest: DatasetManifest;
  readonly manifestBytes: Uint8Array;
  readonly uri?: string;
  readonly sources?: readonly DatasetSource[];
  readonly curation?: readonly CurationStep[];
  readonly license?: string;
}

/** The predicate, schema-checked. */
export function datasetPredicate(input: DatasetPredicateInput): DatasetPredicate {
  const predicate = {
    manifest: {
      mediaType: DATASET_MANIFEST_MEDIA_TYPE,
      digest: manifestDigest(input.manifestBytes),
      merkleRoot: input.manifest.merkleRoot,
      fileCount: input.manifest.fileCount,
      totalSize: input.manifest.totalSize,
      ...(input.uri === undefined ? {} : { uri: input.uri }),
    },
    sources: input.sources ?? [],
    curation: input.curation ?? [],
    ...(input.license === undefined ? {} : { license: input.license }),
  };
  checkDatasetPredicate(predicate);
  return predicate;
}
