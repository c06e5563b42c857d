/**
 * `modelgate attest attach REF@sha256:… --predicate FILE|BUNDLE [--type URI] --key FILE [--mode …]`: sign an
 * in-toto Statement v1 about an artifact (DSSE) and store it as `cosign attest --key` does — a Sigstore
 * bundle referrer and/or a layer of the legacy `.att` tag.
 *
 * Owns: the `attest` command group and `attest attach`: reading the predicate (a JSON value, at most
 * 16 MiB), cosign's `--type` shorthands, which signer a `--predicate` bundle must verify under
 * (`--predicate-key`, `--predicate-certificate-identity/-oidc-issuer`, else the public half of `--key`),
 * and writing the evidence. Verifying the bundle and matching training provenance to the model's files is
 * `src/sign/attach-predicate.ts`; signing `src/sign/dsse-bundle.ts`; storage `src/sign/attach.ts` and
 * `src/sign/legacy-tag.ts`.
 * Signing is by `--key FILE` or keyless (`src/cli/signing-key-option.ts`).
 * Also `attest run [--dataset REF@sha256:… | --dataset-manifest [URI=]FILE]… --outputs DIR --key FILE|--keyless
 * -- COMMAND…`: the options of a training run and its exit status; the run itself is
 * `src/emit/training-run.ts`, the predicate `src/emit/training-provenance.ts`.
 */
import { readFile, stat } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { checkProvenanceSubjects, isTrainingProvenance, verifiedPredicateStatement, type PredicateVerification } from '../sign/attach-predicate.ts';
import type { BundleSigner } from '../sign/bundle-signer.ts';
import { parseReference } from '../oci/reference.ts';
import type { Statement } from '../attest/statement.ts';
import { bundleVerifierFromFlags, keyVerifier } from './bundle-verifier-option.ts';
import { addTrustOptions, type TrustCliOptions } from './trust-options.ts';
import { addEvidenceOptions, checkModeForSigner, type EvidenceCliOptions } from './evidence-mode.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { addSigningOptions, announceSigner, resolveBundleSigner, signsKeyless, type SigningCliOptions } from './signing-key-option.ts';
import { registerEvaluate } from './attest-evaluate.ts';
import { registerSbom } from './attest-sbom.ts';
import { collect } from './option-values.ts';
import { signAndAttach } from './attest-attach.ts';
import { datasetFromManifest, datasetFromReference } from './dataset-inputs.ts';

const MAX_PREDICATE_BYTES = 16 * 1024 * 1024;

/** cosign's `--type` shorthands; anything else must be a URI. */
const PREDICATE_TYPE_SHORTHANDS: Readonly<Record<string, string>> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

export function predicateTypeOf(value: string): string {
  const shorthand = PREDICATE_TYPE_SHORTHANDS[value];
  if (shorthand !== undefined) return shorthand;
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(value)) throw new UsageError('USAGE', `--type ${JSON.stringify(value)} is neither a URI nor one of ${Object.keys(PREDICATE_TYPE_SHORTHANDS).join(', ')}`);
  return value;
}

/** What `--predicate` gave: a bare predicate, or the verified statement of a signed bundle. */
type PredicateSource = { readonly predicate: unknown; readonly fromBundle?: Statement };

const SIGSTORE_BUNDLE_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.3)?\+json(;version=0\.[1-3])?$/;

/** A JSON file of at most 16 MiB (`what` names it in errors). */
async function readJsonFile(path: string, what: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    if ((await stat(path)).size > MAX_PREDICATE_BYTES) throw new UsageError('USAGE', `${what} ${path} is larger than ${MAX_PREDICATE_BYTES} bytes`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError('USAGE', `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new UsageError('USAGE', `${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Read `--predicate`: a JSON predicate, or a Sigstore bundle whose DSSE envelope holds an in-toto statement
 * (e.g. the provenance `attest run` wrote about the output files, or an `attest evaluate` bundle) — then the
 * bundle must verify under `verification()` (PREDICATE_UNVERIFIED otherwise) and the predicate of its
 * verified payload is what gets re-signed about the artifact.
 */
async function readPredicate(path: string, verification: () => Promise<PredicateVerification>): Promise<PredicateSource> {
  const value = await readJsonFile(path, 'predicate');
  const bundle = value as { mediaType?: unknown } | null;
  if (bundle === null || typeof bundle !== 'object' || typeof bundle.mediaType !== 'string' || !SIGSTORE_BUNDLE_MEDIA_TYPE.test(bundle.mediaType)) return { predicate: value };
  const statement = await verifiedPredicateStatement(value, path, await verification());
  return { predicate: statement.predicate, fromBundle: statement };
}

interface PredicateVerifierOptions extends TrustCliOptions {
  readonly predicateKey?: string;
  readonly predicateCertificateIdentity?: string;
  readonly predicateCertificateOidcIssuer?: string;
}

/** Whose signature a `--predicate` bundle must carry: as the `--predicate-*` flags say, else the signing key's. */
async function predicateVerification(options: PredicateVerifierOptions, signer: BundleSigner): Promise<PredicateVerification> {
  const flags = { key: options.predicateKey, identity: options.predicateCertificateIdentity, issuer: options.predicateCertificateOidcIssuer };
  const given = await bundleVerifierFromFlags(flags, 'predicate', options);
  if (given !== undefined) {
    const description = options.predicateKey !== undefined ? `--predicate-key ${options.predicateKey}` : `the identity ${options.predicateCertificateIdentity} (issuer ${options.predicateCertificateOidcIssuer})`;
    return { ...given, description };
  }
  if (signer.kind !== 'key') {
    throw new UsageError('USAGE', '--predicate is a Sigstore bundle and the attachment is signed keyless: say whose signature the bundle must carry with --predicate-key FILE or --predicate-certificate-identity SAN --predicate-certificate-oidc-issuer URL');
  }
  return { ...(await keyVerifier(createPublicKey(signer.privateKey), options)), description: 'the signing key (--key); give --predicate-key or --predicate-certificate-identity/-oidc-issuer if another signer made it' };
}

/** The predicate type: `--type`, else the bundle's; both given must agree. */
function attachedPredicateType(source: PredicateSource, type: string | undefined): string {
  const given = type === undefined ? undefined : predicateTypeOf(type);
  const fromBundle = source.fromBundle?.predicateType;
  if (given !== undefined && fromBundle !== undefined && given !== fromBundle) {
    throw new UsageError('USAGE', `--type ${given} differs from the bundle statement's predicateType ${fromBundle}`);
  }
  const chosen = given ?? fromBundle;
  if (chosen === undefined) throw new UsageError('USAGE', '--type is required when --predicate is a bare predicate (not a Sigstore bundle)');
  return chosen;
}

interface AttachOptions extends EvidenceCliOptions, PredicateVerifierOptions {
  readonly predicate: string;
  readonly type?: string;
}

export function register(program: Command): void {
  const attest = program.command('attest').description('Sign in-toto attestations about artifacts and training runs');
  registerRun(attest);
  registerEvaluate(attest);
  registerSbom(attest);
  const attach = attest
    .command('attach')
    .description('Sign PREDICATE as an in-toto Statement v1 about the artifact and attach it (bundle referrer and/or legacy .att tag). A Sigstore bundle given as --predicate must verify (by default under the public half of --key), and training provenance from attest run must name exactly the files of the model (its layers\' paths and digests)')
    .argument('<reference>', 'artifact pinned by digest: oci://host/repo@sha256:… or oci-layout://dir@sha256:…')
    .requiredOption('--predicate <file>', 'the predicate: a JSON file, or a Sigstore bundle of an in-toto statement (e.g. from attest run or attest evaluate) whose predicate is re-signed about the artifact once the bundle verifies')
    .option('--type <uri>', `predicateType URI, or a cosign shorthand (${Object.keys(PREDICATE_TYPE_SHORTHANDS).join(', ')}); default with a bundle: its statement's`)
    .option('--predicate-key <file>', 'public key (PEM) the --predicate bundle must be signed with (default: the public half of --key)')
    .option('--predicate-certificate-identity <san>', 'the --predicate bundle must be signed keyless by this certificate SAN (exact; with --predicate-certificate-oidc-issuer)')
    .option('--predicate-certificate-oidc-issuer <url>', 'OIDC issuer of --predicate-certificate-identity (exact)')
    .addOption(outputOption('output format: text (one digest a line) or json ({referrer, legacyTag})'));
  addTrustOptions(addEvidenceOptions(attach)).action(async (reference: string, options: AttachOptions & { output: OutputFormat }) => {
    checkModeForSigner(options.mode, signsKeyless(options));
    const signer = await resolveBundleSigner(options);
    const source = await readPredicate(options.predicate, () => predicateVerification(options, signer));
    if (source.fromBundle === undefined && (options.predicateKey ?? options.predicateCertificateIdentity ?? options.predicateCertificateOidcIssuer) !== undefined) {
      throw new UsageError('USAGE', `--predicate-key / --predicate-certificate-* verify a Sigstore bundle, but ${options.predicate} is a bare predicate`);
    }
    await signAndAttach(
      reference,
      options,
      attachedPredicateType(source, options.type),
      async (subject) => {
        if (source.fromBundle !== undefined && isTrainingProvenance(source.fromBundle)) {
          const fetched = await subject.store.fetchManifest(subject.digest);
          const layers = fetched.manifest.kind === 'manifest' ? fetched.manifest.layers : [];
          checkProvenanceSubjects(source.fromBundle, layers, `${subject.repository}@${subject.digest}`);
        }
        return source.predicate;
      },
      signer,
    );
  });
}

interface RunOptions extends SigningCliOptions {
  readonly dataset: readonly string[];
  readonly datasetManifest: readonly string[];
  readonly params?: string;
  readonly seed: readonly string[];
  readonly outputs: string;
  readonly bundle?: string;
  readonly builderId?: string;
  readonly invocationId?: string;
  readonly container?: string;
  readonly source?: string;
  readonly output: OutputFormat;
}

function registerRun(attest: Command): void {
  const run = attest
    .command('run')
    .description('Run a training command; when it succeeds, sign SLSA Provenance v1 about every output file (bundle written beside the outputs). A failing command yields no provenance and its exit code.')
    .argument('<command...>', 'the training command, after --')
    .requiredOption('--outputs <dir>', 'directory the command writes its outputs to')
    .option('--bundle <file>', 'where to write the provenance bundle (default: OUTPUTS.provenance.sigstore.json)')
    .option('--dataset <ref>', 'training dataset as an OCI artifact pinned by digest (repeatable)', collect, [])
    .option('--dataset-manifest <[uri=]file>', 'training dataset as a modelgate dataset manifest, optionally with its URI (repeatable)', collect, [])
    .option('--params <file>', 'hyperparameters: a JSON file')
    .option('--seed <value>', 'random seed used by the run (repeatable)', collect, [])
    .option('--builder-id <uri>', 'builder identity (default: $MODELGATE_BUILDER_ID)')
    .option('--invocation-id <id>', 'invocation id (default: $MODELGATE_INVOCATION_ID, else a random UUID)')
    .option('--container <ref>', 'training image pinned by digest (default: $MODELGATE_TRAINING_CONTAINER)')
    .option('--source <dir>', 'source tree: git checkout and lockfiles (default: the working directory)')
    .addOption(outputOption('output format: text (the bundle path) or json ({bundle, outputFiles})'));
  addSigningOptions(run).action(async (command: string[], options: RunOptions) => {
    const builderId = options.builderId ?? process.env.MODELGATE_BUILDER_ID;
    if (builderId === undefined || builderId === '') throw new UsageError('USAGE', 'give --builder-id URI (or set MODELGATE_BUILDER_ID): SLSA provenance names its builder');
    const container = options.container ?? process.env.MODELGATE_TRAINING_CONTAINER;
    if (container !== undefined && parseReference(container).digest === undefined) throw new UsageError('USAGE', `training container ${container} must be pinned by digest`);
    const invocationId = options.invocationId ?? process.env.MODELGATE_INVOCATION_ID;
    const datasets = [...options.dataset.map(datasetFromReference), ...(await Promise.all(options.datasetManifest.map(datasetFromManifest)))];
    const hyperparameters = options.params === undefined ? undefined : await readJsonFile(options.params, 'hyperparameters');
    const signer = await resolveBundleSigner(options); // before training: a wrong passphrase or a bad token must not waste a run
    announceSigner(signer);
    const { runTrainingWithProvenance } = await import('../emit/training-run.ts');
    const result = await runTrainingWithProvenance({
      command,
      outputsDir: options.outputs,
      signer,
      builderId,
      datasets,
      hyperparameters,
      seeds: options.seed,
      ...(options.bundle !== undefined ? { bundlePath: options.bundle } : {}),
      ...(invocationId !== undefined && invocationId !== '' ? { invocationId } : {}),
      ...(container !== undefined ? { container: container.replace(/^oci:\/\//, '') } : {}),
      ...(options.source !== undefined ? { sourceDir: options.source } : {}),
    });
    if (result.status === 'failed') {
      process.stderr.write(`modelgate: training command failed with exit code ${result.exitCode}; no provenance written\n`);
      process.exitCode = result.exitCode;
      return;
    }
    process.stderr.write(`Provenance for ${result.subjects.length - 1} output files written to ${result.bundlePath}\n`);
    process.stdout.write(options.output === 'json' ? `${JSON.stringify({ bundle: result.bundlePath, outputFiles: result.subjects.length - 1 })}\n` : `${result.bundlePath}\n`);
  });
}
