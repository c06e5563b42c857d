/**
 * What `modelgate attest attach --predicate BUNDLE` may re-sign: only a predicate whose bundle verifies,
 * and — for the training provenance `attest run` writes — only about the model made of the very files
 * the provenance names.
 *
 * Owns: `AttachError` and its codes; verifying the `--predicate` bundle (its signature under the given
 * key or keyless identity, with the caller's trust material) and returning the statement parsed from the
 * verified payload bytes only; and the subject rule for training provenance (SLSA v1, build type
 * `TRAINING_BUILD_TYPE`): its file subjects (every subject but the `<dir>/` root-digest one) must be
 * exactly the file layers of the model manifest — same relative paths (the layer's
 * `org.cncf.model.filepath`, else `org.opencontainers.image.title`), same sha256 — so a file layer is a
 * raw (uncompressed, non-tar) layer carrying a path. Tar layers are not opened: a model with a tar layer
 * or a layer without a path cannot be matched file by file and is refused, naming those layers.
 */
import { parseStatementPayload, type Statement } from '../attest/statement.ts';
import { ModelgateError } from '../errors.ts';
import { TRAINING_BUILD_TYPE } from '../emit/training-provenance.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { FILEPATH_ANNOTATION, TITLE_ANNOTATION } from '../modelpack/spec.ts';
import { SLSA_PROVENANCE_V1 } from '../evidence/vocabulary.ts';
import { verifyBundle, type SignerPolicy } from '../sigstore/bundle.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';

export const ATTACH_ERROR_CODES = [
  'PREDICATE_UNVERIFIED', // the --predicate bundle's signature does not verify under the expected key or identity
  'ATTACH_SUBJECT_MISMATCH', // the provenance's subjects are not exactly the files of the model it is attached to
] as const;
export type AttachErrorCode = (typeof ATTACH_ERROR_CODES)[number];

export class AttachError extends ModelgateError<AttachErrorCode> {}

export interface PredicateVerification {
  readonly signer: SignerPolicy;
  readonly trust: TrustMaterial;
  /** Transparency-log entries required (0 for key-signed bundles without a log). */
  readonly tlogThreshold: number;
  /** How the expected signer is named in errors, e.g. `the signing key` or `--predicate-key k.pub`. */
  readonly description: string;
}

/** Verify `bundle` (parsed JSON read from `path`); resolves with the statement of its verified payload. */
export async function verifiedPredicateStatement(bundle: unknown, path: string, verification: PredicateVerification): Promise<Statement> {
  let verified;
  try {
    verified = await verifyBundle(bundle, { trust: verification.trust, signer: verification.signer, tlogThreshold: verification.tlogThreshold });
  } catch (err) {
    const detail = err instanceof ModelgateError ? `${err.code}: ${err.message}` : (err as Error).message;
    throw new AttachError('PREDICATE_UNVERIFIED', `predicate bundle ${path} does not verify under ${verification.description}: ${detail}`, { cause: err });
  }
  if (verified.content.kind !== 'dsse') throw new AttachError('PREDICATE_UNVERIFIED', `predicate bundle ${path} is a message signature: it carries no predicate`);
  try {
    return parseStatementPayload(verified.content.payloadType, verified.content.payload);
  } catch (err) {
    throw new AttachError('PREDICATE_UNVERIFIED', `predicate bundle ${path}: the signed payload is not an in-toto statement: ${(err as Error).message}`, { cause: err });
  }
}

/** True for the provenance `attest run` writes (its subjects are the output files). */
export function isTrainingProvenance(statement: Statement): boolean {
  const buildDefinition = statement.predicate.buildDefinition as { buildType?: unknown } | undefined;
  return statement.predicateType === SLSA_PROVENANCE_V1 && buildDefinition?.buildType === TRAINING_BUILD_TYPE;
}

const isTarMediaType = (mediaType: string): boolean => /(^|[.+])tar([.+]|$)/.test(mediaType.slice(mediaType.indexOf('/') + 1));

/** `path → sha256 hex` of the model's file layers; throws naming the layers that are not files. */
function modelFiles(layers: readonly Descriptor[], what: string): Map<string, string> {
  const files = new Map<string, string>();
  const unmatchable: string[] = [];
  for (const layer of layers) {
    const path = layer.annotations?.[FILEPATH_ANNOTATION] ?? layer.annotations?.[TITLE_ANNOTATION];
    if (path === undefined || isTarMediaType(layer.mediaType) || !layer.digest.startsWith('sha256:')) {
      unmatchable.push(`${layer.digest} (${layer.mediaType}${path === undefined ? ', no file path' : `, ${path}`})`);
      continue;
    }
    files.set(path, layer.digest.slice('sha256:'.length));
  }
  if (unmatchable.length > 0) {
    throw new AttachError('ATTACH_SUBJECT_MISMATCH', `${what} has layers that are not single files with a path, so training provenance cannot be matched to them: ${unmatchable.join(', ')} (push the model with modelgate push: one raw layer per file)`);
  }
  return files;
}

const MAX_NAMED = 20;
const named = (paths: readonly string[]): string => (paths.length > MAX_NAMED ? `${paths.slice(0, MAX_NAMED).join(', ')} and ${paths.length - MAX_NAMED} more` : paths.join(', '));

/**
 * Refuse (ATTACH_SUBJECT_MISMATCH, naming the files that differ) unless the training provenance's file
 * subjects are exactly the model's file layers. `what` names the model in messages.
 */
export function checkProvenanceSubjects(statement: Statement, layers: readonly Descriptor[], what: string): void {
  const model = modelFiles(layers, what);
  const provenance = new Map<string, string | undefined>();
  for (const subject of statement.subject) {
    if (subject.name === undefined || subject.name.endsWith('/')) continue; // the outputs directory's root digest
    provenance.set(subject.name, subject.digest.sha256);
  }
  const missing = [...provenance.keys()].filter((path) => !model.has(path)).sort();
  const extra = [...model.keys()].filter((path) => !provenance.has(path)).sort();
  const changed = [...provenance.entries()].filter(([path, hex]) => model.has(path) && model.get(path) !== hex).map(([path]) => path).sort();
  if (missing.length + extra.length + changed.length === 0) return;
  const parts = [
    ...(changed.length > 0 ? [`different content: ${named(changed)}`] : []),
    ...(missing.length > 0 ? [`in the provenance, not in the model: ${named(missing)}`] : []),
    ...(extra.length > 0 ? [`in the model, not in the provenance: ${named(extra)}`] : []),
  ];
  throw new AttachError('ATTACH_SUBJECT_MISMATCH', `the provenance's subjects are not the files of ${what} — ${parts.join('; ')}`);
}
