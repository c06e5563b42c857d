/**
 * Verify a model directory (or single file) against an OMS `model.sig`, model_signing compatible.
 *
 * Owns: the programmatic entry point `verifyModelDirectory(dir, bundle, method, options)` and the
 * manifest comparison `verifyModelFiles(dir, manifest, options)`:
 *  1. verify the bundle's signature (`signature.ts`) and parse the OMS payload (`payload.ts`,
 *     including the root-digest check over the resources in listed order);
 *  2. list the model's files with the ignore rules (`model-files.ts`): git metadata, the signature
 *     file, caller `ignorePaths`, the signer's `serialization.ignore_paths`;
 *  3. compare names first (missing / extra files fail before any byte is hashed; extra files are
 *     skipped with `ignoreUnsignedFiles`), then hash every signed file or shard in parallel on the
 *     worker-thread pool (`src/hashing`) with the signed hash type, and compare digests.
 * Every difference is listed in the MISMATCH error.
 */
import { basename, resolve } from 'node:path';
import { hashJobs, type HashAlgorithm, type HashJob, type HashPool } from '../hashing/pool.ts';
import { ModelSignatureError } from './errors.ts';
import { echo } from '../sigstore/errors.ts';
import { GIT_PATHS, listModelFiles, normalizeIgnorePath, resolveIgnorePath, type ModelFile } from './model-files.ts';
import { parseOmsStatement, type OmsHashType, type OmsManifest, type OmsResource } from './payload.ts';
import { verifyModelSignature, type ModelSigner, type ModelSigningMethod } from './signature.ts';

export type { ModelSigningMethod, ModelSigner } from './signature.ts';

export interface VerifyModelOptions {
  /** Paths to exclude, relative to the model root (or absolute / cwd-relative, see `resolveIgnorePath`). */
  readonly ignorePaths?: readonly string[];
  /** Exclude top-level `.git`, `.gitattributes`, `.github`, `.gitignore` (default true). */
  readonly ignoreGitPaths?: boolean;
  /** Follow symlinks inside the model (default: what the signature's serialization records). */
  readonly allowSymlinks?: boolean;
  /** Files on disk that the signature does not list are skipped instead of failing. */
  readonly ignoreUnsignedFiles?: boolean;
  /** The signature file's path; excluded from the model when it lies inside it. */
  readonly signaturePath?: string;
  /** Accept legacy model_signing v0.2.0 signatures. */
  readonly allowLegacy?: boolean;
  /** Hashing threads (default: cores). */
  readonly threads?: number;
  /** A long-lived hashing pool to reuse (e.g. in a server); default: a temporary one per call. */
  readonly pool?: HashPool;
  readonly signal?: AbortSignal;
}

export interface VerifiedResource {
  readonly name: string;
  readonly algorithm: OmsHashType;
  readonly digest: string;
}

export interface ModelFilesResult {
  /** The resources checked against the disk, in signed order. */
  readonly resources: readonly VerifiedResource[];
  readonly bytesHashed: number;
  /** Files present on disk but not signed, skipped because of `ignoreUnsignedFiles`. */
  readonly unsignedSkipped: readonly string[];
}

/** What `verifyModelDirectory` established (the policy's view of it is `VerifiedModelSignature`, `src/evidence/verified.ts`). */
export interface ModelDirectoryVerification extends ModelFilesResult {
  readonly method: ModelSigningMethod['kind'];
  readonly signer: ModelSigner;
  readonly manifest: OmsManifest;
  /** True when the signature verified only over model_signing 0.2's non-standard (compat) PAE. */
  readonly legacyPae: boolean;
  /** `sha256:<hex>` subject digest of the model (undefined for legacy signatures). */
  readonly modelDigest: string | undefined;
}

const NODE_ALGORITHM: Record<OmsHashType, HashAlgorithm> = { sha256: 'sha256', blake2b: 'blake2b512' };

/** Shard resource name `path:start:end`: the last two colon fields are the range (paths may hold `:`). */
export function parseShardName(name: string): { path: string; start: number; end: number } | undefined {
  const m = /^(.*):(0|[1-9][0-9]*):(0|[1-9][0-9]*)$/.exec(name);
  if (m === null) return undefined;
  const start = Number(m[2]);
  const end = Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) return undefined;
  return { path: m[1] as string, start, end };
}

interface Expected {
  readonly resource: OmsResource;
  readonly job: HashJob;
}

function ignoreSet(modelPath: string, manifest: OmsManifest, options: VerifyModelOptions): string[] {
  const out: string[] = [];
  if (options.ignoreGitPaths ?? true) out.push(...GIT_PATHS);
  if (options.signaturePath !== undefined) {
    const rel = resolveIgnorePath(modelPath, options.signaturePath);
    if (rel !== undefined && liesInside(modelPath, options.signaturePath)) out.push(rel);
  }
  for (const p of options.ignorePaths ?? []) {
    const rel = resolveIgnorePath(modelPath, p);
    if (rel !== undefined) out.push(rel);
  }
  for (const p of manifest.serialization.ignorePaths) {
    const rel = normalizeIgnorePath(p);
    if (rel !== undefined) out.push(rel);
  }
  return out;
}

/** The signature file is excluded only when it really lies inside the model (never by a name guess). */
function liesInside(modelPath: string, signaturePath: string): boolean {
  const root = resolve(modelPath);
  const sig = resolve(signaturePath);
  return sig.startsWith(`${root}/`);
}

const LISTED_DIFFERENCES = 20;

/** A MISMATCH error listing the first differences in its message and all of them in `differences`. */
function mismatch(differences: readonly string[]): ModelSignatureError {
  const shown = differences.slice(0, LISTED_DIFFERENCES).join('; ');
  const more = differences.length > LISTED_DIFFERENCES ? `; … and ${differences.length - LISTED_DIFFERENCES} more` : '';
  return new ModelSignatureError('MISMATCH', `the model does not match the signature: ${shown}${more}`, { differences });
}

/** Compare the model on disk with a verified manifest. Throws MODEL_PATH or MISMATCH. */
export async function verifyModelFiles(modelPath: string, manifest: OmsManifest, options: VerifyModelOptions = {}): Promise<ModelFilesResult> {
  const serialization = manifest.serialization;
  const files = listModelFiles(modelPath, {
    allowSymlinks: options.allowSymlinks ?? serialization.allowSymlinks,
    ignorePaths: ignoreSet(modelPath, manifest, options),
  });
  const singleFile = files.length === 1 && files[0]?.name === '.';
  const byName = new Map<string, ModelFile>(files.map((f) => [f.name, f]));
  // A single-file model is named "." by model_signing and by its basename in the OMS spec.
  const fileFor = (name: string): ModelFile | undefined =>
    byName.get(name) ?? (singleFile && manifest.resources.length === 1 && name === basename(resolve(modelPath)) ? files[0] : undefined);

  const algorithm = NODE_ALGORITHM[serialization.hashType];
  const expected: Expected[] = [];
  const differences: string[] = [];
  const signedFiles = new Set<ModelFile>();
  const expectedShards = new Map<ModelFile, Set<string>>();

  for (const resource of manifest.resources) {
    if (serialization.method === 'files') {
      const file = fileFor(resource.name);
      if (file === undefined) {
        differences.push(`missing file: ${resource.name}`);
        continue;
      }
      signedFiles.add(file);
      expected.push({ resource, job: { kind: 'file', path: file.path, algorithm } });
    } else {
      const shard = parseShardName(resource.name);
      if (shard === undefined) throw new ModelSignatureError('PAYLOAD', `shard resource name ${echo(resource.name)} is not path:start:end`);
      const file = fileFor(shard.path);
      if (file === undefined) {
        differences.push(`missing file: ${shard.path} (shard ${shard.start}-${shard.end})`);
        continue;
      }
      signedFiles.add(file);
      const names = expectedShards.get(file) ?? new Set<string>();
      names.add(`${shard.start}:${shard.end}`);
      expectedShards.set(file, names);
      expected.push({ resource, job: { kind: 'range', path: file.path, algorithm, start: shard.start, end: shard.end } });
    }
  }
  if (serialization.method === 'shards') {
    // Every signed file must be covered by exactly the shards its current size produces.
    for (const [file, names] of expectedShards) {
      const actual = new Set<string>();
      for (let start = 0; start < file.size; start += serialization.shardSize) actual.add(`${start}:${Math.min(start + serialization.shardSize, file.size)}`);
      const same = actual.size === names.size && [...actual].every((n) => names.has(n));
      if (!same) differences.push(`changed file: ${file.name} (size ${file.size} does not match the signed shards)`);
    }
  }
  const unsigned = files.filter((f) => !signedFiles.has(f)).map((f) => f.name);
  if (options.ignoreUnsignedFiles !== true) for (const name of unsigned) differences.push(`extra file: ${name}`);
  if (differences.length > 0) throw mismatch(differences);

  const outcomes = await hashJobs(expected.map((e) => e.job), {
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.pool === undefined ? {} : { pool: options.pool }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  let bytesHashed = 0;
  expected.forEach((e, i) => {
    const outcome = outcomes[i];
    if (outcome === undefined) return;
    bytesHashed += outcome.bytes;
    if (outcome.hex !== e.resource.digest) differences.push(`changed file: ${e.resource.name} (${serialization.hashType} ${outcome.hex}, signed ${e.resource.digest})`);
  });
  if (differences.length > 0) throw mismatch(differences);
  return {
    resources: manifest.resources.map((r) => ({ name: r.name, algorithm: r.algorithm, digest: r.digest })),
    bytesHashed,
    unsignedSkipped: options.ignoreUnsignedFiles === true ? unsigned : [],
  };
}

/**
 * Verify `modelPath` against an OMS signature bundle (JSON text, bytes or parsed object) with the
 * given method. Resolves with what was verified; rejects with VerificationError (signature, chain,
 * identity), AttestationError (payload type / statement shape) or ModelSignatureError (payload,
 * root digest, model path, mismatch).
 */
export async function verifyModelDirectory(
  modelPath: string,
  signatureBundleJson: string | Uint8Array | unknown,
  method: ModelSigningMethod,
  options: VerifyModelOptions = {},
): Promise<ModelDirectoryVerification> {
  const verified = await verifyModelSignature(signatureBundleJson, method, { allowLegacy: options.allowLegacy === true });
  const manifest = parseOmsStatement(verified.statement, { allowLegacy: options.allowLegacy === true });
  const files = await verifyModelFiles(modelPath, manifest, options);
  return {
    ...files,
    method: method.kind,
    signer: verified.signer,
    legacyPae: verified.legacyPae,
    manifest,
    modelDigest: manifest.rootDigest === undefined ? undefined : `sha256:${manifest.rootDigest}`,
  };
}
