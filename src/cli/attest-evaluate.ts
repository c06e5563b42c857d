/**
 * `modelgate attest evaluate --metrics FILE (--model DIR | --subject REF@sha256:…) (--key FILE | --keyless)
 * [--reference FILE [--tolerance [NAME=]ABS|REL%]…] [-- COMMAND…]`: the options of an evaluation run
 * and its exit status. Registered on the `attest` group by `attest.ts`; the run is
 * `src/emit/evaluation-run.ts`, the predicate `src/emit/evaluation.ts`, the reference
 * `src/emit/evaluation-reference.ts`.
 *
 * Exit status: 0 attested (result PASSED or WARNED); 1 attested with result FAILED — a metric is out
 * of tolerance or missing (`EVALUATION_FAILED_EXIT`); 2 no attestation: bad input (METRICS,
 * TOLERANCE, REFERENCE, USAGE…); any other: the evaluation command failed with that status, no
 * attestation.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { MetricComparison } from '../emit/evaluation.ts';
import type { ReferenceVerification } from '../emit/evaluation-reference.ts';
import type { StatementSubject } from '../sign/dsse-bundle.ts';
import { parseReference, repositoryName } from '../oci/reference.ts';
import { datasetFromManifest, datasetFromReference } from './dataset-inputs.ts';
import { bundleVerifierFromFlags } from './bundle-verifier-option.ts';
import { collect } from './option-values.ts';
import { fileWritingOutputOption, outputFileOption, type OutputFormat } from './output-format.ts';
import { addSigningOptions, announceSigner, resolveBundleSigner, type SigningCliOptions } from './signing-key-option.ts';
import { addTrustOptions, type TrustCliOptions } from './trust-options.ts';

/** Exit status when the attestation was written with result FAILED. */
export const EVALUATION_FAILED_EXIT = 1;

interface EvaluateOptions extends TrustCliOptions, SigningCliOptions {
  readonly metrics: string;
  readonly model?: string;
  readonly subject: readonly string[];
  readonly outputFile?: string;
  readonly output: OutputFormat;
  readonly dataset: readonly string[];
  readonly datasetManifest: readonly string[];
  readonly reference?: string;
  readonly tolerance: readonly string[];
  readonly referenceKey?: string;
  readonly referenceCertificateIdentity?: string;
  readonly referenceCertificateOidcIssuer?: string;
  readonly url?: string;
  readonly source?: string;
}

/** `--subject oci://host/repo@sha256:…` (or `oci-layout://dir@sha256:…`): named by its repository. */
function subjectFromReference(text: string): StatementSubject {
  const ref = parseReference(text);
  if (ref.digest === undefined) throw new UsageError('USAGE', `--subject ${text} must be pinned by digest (…@sha256:<hex>)`);
  return { name: repositoryName(ref), digest: ref.digest };
}

function referenceVerification(options: EvaluateOptions): Promise<ReferenceVerification | undefined> {
  const flags = { key: options.referenceKey, identity: options.referenceCertificateIdentity, issuer: options.referenceCertificateOidcIssuer };
  return bundleVerifierFromFlags(flags, 'reference', options);
}

function describe(c: MetricComparison): string {
  switch (c.reason) {
    case 'within-tolerance':
    case 'out-of-tolerance':
      return `${c.result.padEnd(6)} ${c.metric}: ${c.value} vs reference ${c.reference} (|Δ| ${c.difference?.toPrecision(4)}, allowed ${c.allowed?.toPrecision(4)} = ${c.tolerance})`;
    case 'missing':
      return `${c.result.padEnd(6)} ${c.metric}: missing (reference ${c.reference})`;
    case 'unreferenced':
      return `${c.result.padEnd(6)} ${c.metric}: ${c.value}, not in the reference (not compared)`;
  }
}

export function registerEvaluate(attest: Command): void {
  const command = attest
    .command('evaluate')
    .description(
      'Optionally run an evaluation command, then sign an evaluation attestation (in-toto test-result v0.1) with its metrics about the model. ' +
        'With --reference, every reference metric must be present and within --tolerance. Exit 0 PASSED/WARNED, 1 FAILED (attestation written), 2 bad input, else the evaluation command\'s own failing status (no attestation).',
    )
    .argument('[command...]', 'the evaluation command, after -- (omit when the metrics file already exists)')
    .requiredOption('--metrics <file>', 'metrics: a JSON object of metric name → finite number (read after the command ran)')
    .option('--model <dir>', 'the evaluated model directory: every file and its OMS root digest become subjects')
    .option('--subject <ref>', 'the evaluated model pinned by digest, oci://host/repo@sha256:… (repeatable)', collect, [])
    .addOption(outputFileOption('where to write the attestation bundle (default: MODEL.evaluation.sigstore.json beside --model)'))
    .addOption(fileWritingOutputOption('output format: text (the bundle path) or json ({bundle, metrics, result})'))
    .option('--dataset <ref>', 'evaluation dataset as an OCI artifact pinned by digest (repeatable)', collect, [])
    .option('--dataset-manifest <[uri=]file>', 'evaluation dataset as a modelgate dataset manifest, optionally with its URI (repeatable)', collect, [])
    .option('--reference <file>', 'earlier evaluation to compare with: its attestation bundle, its statement, or a metrics JSON file')
    .option('--tolerance <[name=]amount>', 'allowed difference from the reference: absolute (0.01) or relative (1%), per metric (NAME=…) or for all; repeatable; default 1%', collect, [])
    .option('--reference-key <file>', 'verify the reference bundle\'s signature with this public key (PEM)')
    .option('--reference-certificate-identity <san>', 'verify the reference bundle as signed keyless by this certificate SAN (exact)')
    .option('--reference-certificate-oidc-issuer <url>', 'OIDC issuer of --reference-certificate-identity (exact)')
    .option('--url <url>', 'link to the evaluation run (CI job, experiment tracker), recorded as the predicate url')
    .option('--source <dir>', 'evaluation code checkout whose git commit is recorded (default: the working directory)');
  addTrustOptions(addSigningOptions(command)).action(async (evaluationCommand: string[], options: EvaluateOptions) => {
    const { parseTolerances } = await import('../emit/evaluation.ts');
    if (options.model === undefined && options.subject.length === 0) throw new UsageError('USAGE', 'give the evaluated model: --model DIR and/or --subject REF@sha256:…');
    if (options.outputFile === undefined && options.model === undefined) throw new UsageError('USAGE', 'give --output-file FILE for the attestation bundle (there is no --model to put it beside)');
    if (options.tolerance.length > 0 && options.reference === undefined) throw new UsageError('USAGE', '--tolerance compares with a reference: give --reference FILE');
    const verifying = options.referenceKey !== undefined || options.referenceCertificateIdentity !== undefined || options.referenceCertificateOidcIssuer !== undefined;
    if (verifying && options.reference === undefined) throw new UsageError('USAGE', '--reference-key / --reference-certificate-* verify a reference: give --reference FILE');
    const tolerances = parseTolerances(options.tolerance);
    const subjects = options.subject.map(subjectFromReference);
    const datasets = [...options.dataset.map(datasetFromReference), ...(await Promise.all(options.datasetManifest.map(datasetFromManifest)))];
    const { loadReference } = await import('../emit/evaluation-reference.ts');
    const reference = options.reference === undefined ? undefined : await loadReference(options.reference, await referenceVerification(options));
    if (reference !== undefined && !reference.record.verified) {
      process.stderr.write(`modelgate: warning: the reference ${options.reference} was read without verifying a signature (give --reference-key or --reference-certificate-identity/--reference-certificate-oidc-issuer)\n`);
    }
    const signer = await resolveBundleSigner(options); // before evaluating: a wrong passphrase or a bad token must not waste a run
    announceSigner(signer);
    const bundlePath = resolve(options.outputFile ?? `${resolve(options.model!)}.evaluation.sigstore.json`);
    const { runEvaluation } = await import('../emit/evaluation-run.ts');
    const result = await runEvaluation({
      command: evaluationCommand,
      metricsPath: options.metrics,
      ...(options.model === undefined ? {} : { modelDir: options.model }),
      subjects,
      bundlePath,
      signer,
      datasets,
      ...(reference === undefined ? {} : { reference }),
      tolerances,
      ...(options.url === undefined ? {} : { url: options.url }),
      ...(options.source === undefined ? {} : { sourceDir: options.source }),
    });
    if (result.status === 'failed') {
      process.stderr.write(`modelgate: evaluation command failed with exit code ${result.exitCode}; no attestation written\n`);
      process.exitCode = result.exitCode;
      return;
    }
    for (const warning of result.warnings) process.stderr.write(`modelgate: warning: ${warning}\n`);
    const comparisons = result.comparison?.comparisons ?? [];
    for (const c of comparisons) process.stderr.write(`  ${describe(c)}\n`);
    const verdict = result.comparison?.result ?? 'PASSED (no reference: nothing compared)';
    process.stderr.write(`Evaluation attestation (${Object.keys(result.metrics).length} metrics, result ${verdict}) written to ${result.bundlePath}\n`);
    const outcome = result.comparison?.result ?? 'PASSED';
    process.stdout.write(options.output === 'json' ? `${JSON.stringify({ bundle: result.bundlePath, metrics: result.metrics, result: outcome })}\n` : `${result.bundlePath}\n`);
    if (result.comparison?.result === 'FAILED') {
      const missing = comparisons.filter((c) => c.reason === 'missing').map((c) => c.metric);
      const outside = comparisons.filter((c) => c.reason === 'out-of-tolerance').map((c) => c.metric);
      if (outside.length > 0) process.stderr.write(`modelgate: OUT_OF_TOLERANCE: ${outside.join(', ')} differ from the reference by more than the tolerance\n`);
      if (missing.length > 0) process.stderr.write(`modelgate: METRIC_MISSING: ${missing.join(', ')} of the reference are missing from ${options.metrics}\n`);
      process.exitCode = EVALUATION_FAILED_EXIT;
    }
  });
}
