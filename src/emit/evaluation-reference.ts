/**
 * The reference evaluation `modelgate attest evaluate --reference FILE` compares against.
 *
 * Owns: reading FILE (at most 16 MiB) as one of — a Sigstore bundle of an earlier evaluation
 * attestation (its signature verified when a signer is given, else read unverified and marked so),
 * the bare in-toto statement, or a flat metrics JSON object — and extracting its metrics, its subjects
 * and the dataset digests it was evaluated on. Asking for verification of anything but a bundle fails
 * closed. Only verified payload bytes are parsed when verification was asked for.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseStatementPayload, requirePredicateType, type Statement } from '../attest/statement.ts';
import { ModelgateError } from '../errors.ts';
import { MAX_BUNDLE_BYTES, verifyBundle, type SignerPolicy } from '../sigstore/bundle.ts';
import { parseDsseEnvelope } from '../sigstore/dsse.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { EmitError } from './errors.ts';
import { metricsOfPredicate, parseMetrics, TEST_RESULT_PREDICATE_TYPE, type Metrics, type ReferenceRecord } from './evaluation.ts';
import { DEPENDENCY_KIND_ANNOTATION } from './training-provenance.ts';
import { IN_TOTO_PAYLOAD_TYPE, SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX } from '../evidence/vocabulary.ts';
import { isRecord } from '../evidence/json.ts';

export const REFERENCE_KIND = 'reference-evaluation';

export interface ReferenceVerification {
  readonly signer: SignerPolicy;
  readonly trust: TrustMaterial;
  /** Transparency-log entries required (0 for key-signed bundles without a log). */
  readonly tlogThreshold: number;
}

export interface LoadedReference {
  readonly record: ReferenceRecord;
  readonly metrics: Metrics;
  /** `sha256:<hex>` digests of the datasets the reference was evaluated on; undefined when it does not say. */
  readonly datasetDigests: readonly string[] | undefined;
}

function referenceError(path: string, err: unknown): EmitError {
  if (err instanceof EmitError) return err.code === 'REFERENCE' ? err : new EmitError('REFERENCE', err.message, { cause: err });
  const detail = err instanceof ModelgateError ? `${err.code}: ${err.message}` : (err as Error).message;
  return new EmitError('REFERENCE', `reference ${path}: ${detail}`, { cause: err });
}

/** Dataset digests named in a test-result predicate's `configuration` (kind `dataset`). */
function datasetDigestsOf(predicate: Readonly<Record<string, unknown>>): string[] | undefined {
  const configuration = predicate.configuration;
  if (!Array.isArray(configuration)) return undefined;
  const digests: string[] = [];
  for (const entry of configuration) {
    if (!isRecord(entry) || !isRecord(entry.annotations) || entry.annotations[DEPENDENCY_KIND_ANNOTATION] !== 'dataset' || !isRecord(entry.digest)) continue;
    for (const [algorithm, hex] of Object.entries(entry.digest)) if (typeof hex === 'string') digests.push(`${algorithm}:${hex}`);
  }
  return digests.sort();
}

function fromStatement(statement: Statement, path: string): Pick<LoadedReference, 'metrics' | 'datasetDigests'> & { subject: unknown[] } {
  requirePredicateType(statement, TEST_RESULT_PREDICATE_TYPE);
  return {
    metrics: metricsOfPredicate(statement.predicate, `reference ${path}`),
    datasetDigests: datasetDigestsOf(statement.predicate),
    subject: statement.subject.map((s) => ({ ...(s.name === undefined ? {} : { name: s.name }), digest: { ...s.digest } })),
  };
}

/** Read and, when `verification` is given, verify the reference evaluation at `path`. */
export async function loadReference(path: string, verification?: ReferenceVerification): Promise<LoadedReference> {
  let bytes: Buffer;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_BUNDLE_BYTES) throw new EmitError('REFERENCE', `reference ${path} is ${size} bytes, more than ${MAX_BUNDLE_BYTES}`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof EmitError) throw err;
    throw new EmitError('REFERENCE', `cannot read reference ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const descriptor = {
    uri: `file://${resolve(path)}`,
    digest: { sha256: createHash('sha256').update(bytes).digest('hex') },
    annotations: { [DEPENDENCY_KIND_ANNOTATION]: REFERENCE_KIND },
  };
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // maybe a metrics file holding NaN/Infinity: parseMetrics below names the metric
  }
  try {
    const isBundle = isRecord(json) && typeof json.mediaType === 'string' && json.mediaType.startsWith(SIGSTORE_BUNDLE_MEDIA_TYPE_PREFIX);
    const isStatement = isRecord(json) && '_type' in json;
    if (verification !== undefined && !isBundle) {
      throw new EmitError('REFERENCE', `reference ${path} is not a Sigstore bundle, so its signature cannot be verified as asked`);
    }
    if (isBundle) {
      if (verification !== undefined) {
        const verified = await verifyBundle(json, { trust: verification.trust, signer: verification.signer, tlogThreshold: verification.tlogThreshold });
        if (verified.content.kind !== 'dsse') throw new EmitError('REFERENCE', `reference ${path} is a message signature, not an evaluation attestation`);
        const signer = verified.signer.kind === 'key' ? `key ${verified.signer.keyId}` : `${verified.signer.san} (issuer ${verified.signer.issuer})`;
        const parsed = fromStatement(parseStatementPayload(verified.content.payloadType, verified.content.payload), path);
        return { record: { descriptor, verified: true, signer, subject: parsed.subject, metrics: parsed.metrics }, metrics: parsed.metrics, datasetDigests: parsed.datasetDigests };
      }
      if (!isRecord(json) || json.dsseEnvelope === undefined) throw new EmitError('REFERENCE', `reference ${path} is a bundle without a DSSE envelope, not an evaluation attestation`);
      const envelope = parseDsseEnvelope(json.dsseEnvelope);
      const parsed = fromStatement(parseStatementPayload(envelope.payloadType, envelope.payload), path);
      return { record: { descriptor, verified: false, subject: parsed.subject, metrics: parsed.metrics }, metrics: parsed.metrics, datasetDigests: parsed.datasetDigests };
    }
    if (isStatement) {
      const parsed = fromStatement(parseStatementPayload(IN_TOTO_PAYLOAD_TYPE, bytes), path);
      return { record: { descriptor, verified: false, subject: parsed.subject, metrics: parsed.metrics }, metrics: parsed.metrics, datasetDigests: parsed.datasetDigests };
    }
    const metrics = parseMetrics(text, `reference ${path}`);
    return { record: { descriptor, verified: false, metrics }, metrics, datasetDigests: undefined };
  } catch (err) {
    if (err instanceof ModelgateError) throw referenceError(path, err);
    throw err;
  }
}
