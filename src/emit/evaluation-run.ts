/**
 * `modelgate attest evaluate`: optionally run an evaluation command, then sign an evaluation
 * attestation (in-toto Test Result v0.1, `evaluation.ts`) about the model.
 *
 * Owns: the order of a run — the evaluator first (inherited stdio; a failure yields no attestation
 * and passes its exit code), then the metrics file (read after the evaluator wrote it, at most
 * 16 MiB), the comparison with the reference, the subjects (the model directory's files and OMS root
 * digest, hashed as `attest run` hashes outputs, and/or artifacts pinned by digest), the
 * configuration descriptors (source commit, datasets, the metrics file) — and writing the signed
 * Sigstore bundle atomically. The attestation is written whatever the comparison says: a FAILED
 * result is evidence too; the caller turns it into the exit status.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { signStatementWith, type BundleSigner } from '../sign/bundle-signer.ts';
import type { StatementSubject } from '../sign/dsse-bundle.ts';
import { EmitError } from './errors.ts';
import { compareMetrics, evaluationPredicate, parseMetrics, TEST_RESULT_PREDICATE_TYPE, type EvaluatorRecord, type MetricsComparison, type Metrics, type Tolerances } from './evaluation.ts';
import type { LoadedReference } from './evaluation-reference.ts';
import { readGitCheckout } from './source-tree.ts';
import { datasetDescriptor, DEPENDENCY_KIND_ANNOTATION, digestMap, sourceDescriptor, type DatasetInput } from './training-provenance.ts';
import { outputSubjects, runCommand } from './training-run.ts';

const MAX_METRICS_BYTES = 16 * 1024 * 1024;

export interface EvaluationRunOptions {
  /** The evaluation command; empty when the metrics already exist. */
  readonly command: readonly string[];
  readonly metricsPath: string;
  /** Model directory: every file and the OMS root digest become subjects. */
  readonly modelDir?: string;
  /** Further subjects, e.g. the model's OCI manifest (`name` = repository). */
  readonly subjects?: readonly StatementSubject[];
  readonly bundlePath: string;
  /** A private key or keyless signing (`src/sign/bundle-signer.ts`). */
  readonly signer: BundleSigner;
  readonly datasets?: readonly DatasetInput[];
  readonly reference?: LoadedReference;
  readonly tolerances: Tolerances;
  /** Link to the evaluation run (the predicate's `url`). */
  readonly url?: string;
  /** Evaluation code checkout (its commit goes into `configuration`); default: the working directory. */
  readonly sourceDir?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export type EvaluationRunResult =
  | { readonly status: 'failed'; readonly exitCode: number }
  | {
      readonly status: 'attested';
      readonly bundlePath: string;
      readonly bundle: SerializedBundle;
      readonly subjects: readonly StatementSubject[];
      readonly metrics: Metrics;
      readonly comparison: MetricsComparison | undefined;
      /** Things the caller should tell the user (e.g. the reference used other datasets). */
      readonly warnings: readonly string[];
    };

async function readMetricsFile(path: string): Promise<{ metrics: Metrics; sha256: string }> {
  let bytes: Buffer;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_METRICS_BYTES) throw new EmitError('METRICS', `metrics file ${path} is ${size} bytes, more than ${MAX_METRICS_BYTES}`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof EmitError) throw err;
    throw new EmitError('METRICS', `cannot read metrics file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return { metrics: parseMetrics(bytes.toString('utf8'), `metrics file ${path}`), sha256: createHash('sha256').update(bytes).digest('hex') };
}

function datasetWarning(datasets: readonly DatasetInput[], reference: LoadedReference | undefined): string | undefined {
  if (reference?.datasetDigests === undefined || reference.datasetDigests.length === 0 || datasets.length === 0) return undefined;
  const ours = datasets.map((d) => d.digest).sort();
  const theirs = reference.datasetDigests;
  if (ours.length === theirs.length && ours.every((d, i) => d === theirs[i])) return undefined;
  return `the reference was evaluated on other datasets (${theirs.join(', ')}) than this evaluation (${ours.join(', ')}): the metrics may not be comparable`;
}

export async function runEvaluation(options: EvaluationRunOptions): Promise<EvaluationRunResult> {
  if (options.modelDir === undefined && (options.subjects ?? []).length === 0) throw new EmitError('OUTPUTS', 'an evaluation attestation needs a subject: give the model directory and/or the model pinned by digest');
  const cwd = options.cwd ?? process.cwd();
  let evaluator: EvaluatorRecord | undefined;
  if (options.command.length > 0) {
    const startedOn = new Date();
    const exitCode = await runCommand(options.command, cwd, options.env ?? process.env);
    if (exitCode !== 0) return { status: 'failed', exitCode };
    evaluator = { command: options.command, workingDirectory: resolve(cwd), exitCode, startedOn, finishedOn: new Date() };
  }
  const metricsPath = resolve(cwd, options.metricsPath);
  const { metrics, sha256 } = await readMetricsFile(metricsPath);
  const comparison = options.reference === undefined ? undefined : compareMetrics(metrics, options.reference.metrics, options.tolerances);

  const subjects = [...(options.modelDir === undefined ? [] : await outputSubjects(resolve(cwd, options.modelDir), options.bundlePath)), ...(options.subjects ?? [])];
  const source = readGitCheckout(options.sourceDir ?? cwd);
  const datasets = options.datasets ?? [];
  const configuration = [
    ...(source === undefined ? [] : [sourceDescriptor(source)]),
    ...datasets.map(datasetDescriptor),
    { name: basename(metricsPath), uri: `file://${metricsPath}`, digest: digestMap(`sha256:${sha256}`), annotations: { [DEPENDENCY_KIND_ANNOTATION]: 'metrics' } },
  ];
  const predicate = evaluationPredicate({
    metrics,
    configuration,
    ...(options.url === undefined ? {} : { url: options.url }),
    ...(evaluator === undefined ? {} : { evaluator }),
    ...(options.reference === undefined ? {} : { reference: options.reference.record }),
    ...(comparison === undefined ? {} : { comparison }),
  });
  const bundle = await signStatementWith(options.signer, subjects, TEST_RESULT_PREDICATE_TYPE, predicate);
  try {
    await writeFileAtomic(options.bundlePath, `${JSON.stringify(bundle)}\n`, { overwrite: true });
  } catch (err) {
    throw new EmitError('EMIT_IO', `cannot write ${options.bundlePath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const warning = datasetWarning(datasets, options.reference);
  return { status: 'attested', bundlePath: options.bundlePath, bundle, subjects, metrics, comparison, warnings: warning === undefined ? [] : [warning] };
}
