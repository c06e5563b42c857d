/**
 * `modelgate verify-model {key|certificate|sigstore} MODEL_PATH --signature FILE …`: verify a model
 * directory (or single file) against an OpenSSF model-signing `model.sig`, with `model_signing
 * verify` semantics and spellings (hyphenated flags; the underscore forms `--public_key`,
 * `--certificate_chain`, `--identity_provider`, `--ignore_paths`, … are accepted too).
 *
 * Owns: option parsing and the verdict: exit 0 with "Verification succeeded" on stdout, exit 1 with
 * "Verification failed with error: …" on stderr, exit 2 for usage errors (unreadable key or
 * signature file, missing options) and unobtainable trust material. Verification itself is
 * `verifyModelDirectory` (src/oms/verify.ts).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ModelgateError, UsageError } from '../errors.ts';
import { ModelSignatureError } from '../oms/errors.ts';
import { OMS_PREDICATE_LEGACY } from '../oms/payload.ts';
import { verifyModelDirectory, type ModelSigningMethod, type ModelDirectoryVerification, type VerifyModelOptions } from '../oms/verify.ts';
import { parsePublicKey } from '../sigstore/keys.ts';
import { parseCertificatesPem } from '../sigstore/trust.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { addTrustOptions, resolveTrust, type TrustCliOptions } from './trust-options.ts';

interface CommonOptions {
  signature: string;
  ignorePaths: string[];
  ignore_paths: string[];
  ignoreGitPaths?: boolean;
  ignore_git_paths?: boolean;
  no_ignore_git_paths?: boolean;
  allowSymlinks?: boolean;
  allow_symlinks?: boolean;
  ignoreUnsignedFiles?: boolean;
  ignore_unsigned_files?: boolean;
  allowLegacySignatures?: boolean;
  threads?: string;
  output: OutputFormat;
}

interface KeyOptions extends CommonOptions {
  publicKey?: string;
  public_key?: string;
}

interface CertificateOptions extends CommonOptions {
  certificateChain: string[];
  certificate_chain: string[];
  verificationTime?: string;
}

interface SigstoreOptions extends CommonOptions, TrustCliOptions {
  identity?: string;
  identityProvider?: string;
  identity_provider?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function hidden(flags: string, description: string): Option {
  return new Option(flags, description).hideHelp();
}

function addCommonOptions(command: Command): Command {
  return command
    .option('--signature <FILE>', 'the model signature (Sigstore bundle) to verify', 'model.sig')
    .option('--ignore-paths <PATH>', 'file or directory to leave out of the model (repeatable)', collect, [])
    .addOption(hidden('--ignore_paths <PATH>', 'alias of --ignore-paths').argParser(collect).default([]))
    .option('--ignore-git-paths', 'leave out .git, .gitattributes, .github, .gitignore (default)')
    .option('--no-ignore-git-paths', 'include git metadata in the model')
    .addOption(hidden('--ignore_git_paths', 'alias of --ignore-git-paths'))
    .addOption(hidden('--no_ignore_git_paths', 'alias of --no-ignore-git-paths'))
    .option('--allow-symlinks', 'follow symbolic links inside the model (they must stay inside it)')
    .addOption(hidden('--allow_symlinks', 'alias of --allow-symlinks'))
    .option('--ignore-unsigned-files', 'skip files that the signature does not list instead of failing')
    .addOption(hidden('--ignore_unsigned_files', 'alias of --ignore-unsigned-files'))
    .option('--allow-legacy-signatures', 'accept model_signing v0.2 signatures (https://model_signing/Digests/v0.1 over its compat PAE, as model_signing does; the default)')
    .option('--no-allow-legacy-signatures', 'refuse model_signing v0.2 signatures')
    .option('--threads <N>', 'hashing threads (default: number of cores)')
    .addOption(outputOption('output format: text or json (json: a report on stdout)'));
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError('USAGE', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function verifyOptions(options: CommonOptions): VerifyModelOptions {
  let threads: number | undefined;
  if (options.threads !== undefined) {
    threads = Number(options.threads);
    if (!/^\d+$/.test(options.threads) || threads < 1) throw new UsageError('USAGE', `--threads must be a positive integer, got ${JSON.stringify(options.threads)}`);
  }
  const ignoreGitPaths = options.no_ignore_git_paths === true ? false : options.ignore_git_paths === true ? true : options.ignoreGitPaths !== false;
  return {
    ignorePaths: [...options.ignorePaths, ...options.ignore_paths],
    ignoreGitPaths,
    ...(options.allowSymlinks === true || options.allow_symlinks === true ? { allowSymlinks: true } : {}),
    ignoreUnsignedFiles: options.ignoreUnsignedFiles === true || options.ignore_unsigned_files === true,
    signaturePath: options.signature,
    // model_signing verifies 0.2 signatures through its pae_compat fallback without being asked.
    allowLegacy: options.allowLegacySignatures !== false,
    ...(threads === undefined ? {} : { threads }),
  };
}

function report(result: ModelDirectoryVerification, modelPath: string): Record<string, unknown> {
  return {
    verified: true,
    modelPath,
    method: result.method,
    signer: result.signer,
    format: result.manifest.format,
    legacyPae: result.legacyPae,
    modelDigest: result.modelDigest,
    serialization: result.manifest.serialization,
    resources: result.resources,
    bytesHashed: result.bytesHashed,
    unsignedSkipped: result.unsignedSkipped,
  };
}

/** Run a verification and turn its outcome into model_signing's verdict lines and exit codes. */
async function runVerification(modelPath: string, options: CommonOptions, method: () => Promise<ModelSigningMethod>): Promise<void> {
  const verify = verifyOptions(options);
  const bundleText = readText(options.signature, 'signature');
  try {
    const signingMethod = await method();
    const result = await verifyModelDirectory(modelPath, bundleText, signingMethod, verify);
    if (options.output === 'json') process.stdout.write(`${JSON.stringify(report(result, modelPath), null, 2)}\n`);
    else process.stdout.write('Verification succeeded\n');
    if (result.manifest.format === 'legacy-v0.2') {
      const how = result.legacyPae ? "over model_signing 0.2's non-standard PAE (compatibility fallback)" : 'over the standard DSSE PAE';
      process.stderr.write(`note: a model_signing 0.2 signature (${OMS_PREDICATE_LEGACY}, one subject per file, no root digest) verified ${how}\n`);
    }
    process.exitCode = 0;
  } catch (err) {
    if (!(err instanceof ModelgateError) || err instanceof UsageError || err.code === 'TRUST_UNAVAILABLE') throw err;
    process.stderr.write(`Verification failed with error: ${err.code}: ${err.message}\n`);
    if (options.output === 'json') {
      const differences = err instanceof ModelSignatureError ? err.differences : [];
      process.stdout.write(`${JSON.stringify({ verified: false, modelPath, code: err.code, error: err.message, differences }, null, 2)}\n`);
    }
    process.exitCode = 1;
  }
}

export function register(program: Command): void {
  const verifyModel = program
    .command('verify-model')
    .description('verify a model directory or file against an OpenSSF model signature (model_signing verify semantics)');

  addCommonOptions(verifyModel.command('key').argument('<MODEL_PATH>', 'model directory or single file'))
    .description('verify a signature made with an elliptic-curve private key')
    .option('--public-key <PEM>', 'the signer\'s public key (PEM)')
    .addOption(hidden('--public_key <PEM>', 'alias of --public-key'))
    .action(async (modelPath: string, options: KeyOptions) => {
      const path = options.publicKey ?? options.public_key;
      if (path === undefined) throw new UsageError('USAGE', 'verify-model key needs --public-key PEM');
      const text = readText(path, 'public key');
      await runVerification(modelPath, options, async () => ({ kind: 'key', publicKey: parsePublicKey(text) }));
    });

  addCommonOptions(verifyModel.command('certificate').argument('<MODEL_PATH>', 'model directory or single file'))
    .description('verify a signature made with a certificate that chains to the given CA certificates')
    .option('--certificate-chain <PEM>', 'trusted CA certificate(s), PEM (repeatable)', collect, [])
    .addOption(hidden('--certificate_chain <PEM>', 'alias of --certificate-chain').argParser(collect).default([]))
    .option('--verification-time <ISO8601>', 'time the certificate chain must be valid at (default: now)')
    .action(async (modelPath: string, options: CertificateOptions) => {
      const paths = [...options.certificateChain, ...options.certificate_chain];
      if (paths.length === 0) throw new UsageError('USAGE', 'verify-model certificate needs --certificate-chain PEM (the trusted CA certificates)');
      let time: Date | undefined;
      if (options.verificationTime !== undefined) {
        time = new Date(options.verificationTime);
        if (Number.isNaN(time.getTime())) throw new UsageError('USAGE', `--verification-time is not a date: ${options.verificationTime}`);
      }
      const texts = paths.map((p) => readText(p, 'certificate chain'));
      await runVerification(modelPath, options, async () => ({
        kind: 'certificate',
        caCertificates: texts.flatMap((t) => parseCertificatesPem(t)),
        ...(time === undefined ? {} : { verificationTime: time }),
      }));
    });

  addTrustOptions(addCommonOptions(verifyModel.command('sigstore').argument('<MODEL_PATH>', 'model directory or single file')))
    .description('verify a Sigstore (keyless) signature made by the given identity')
    .option('--identity <SAN>', 'expected signer identity (certificate SAN, exact match)')
    .option('--identity-provider <URL>', 'expected OIDC issuer (exact match)')
    .addOption(hidden('--identity_provider <URL>', 'alias of --identity-provider'))
    .action(async (modelPath: string, options: SigstoreOptions) => {
      const issuer = options.identityProvider ?? options.identity_provider;
      if (options.identity === undefined || issuer === undefined) {
        throw new UsageError('USAGE', 'verify-model sigstore needs --identity SAN and --identity-provider URL');
      }
      const identity = options.identity;
      await runVerification(modelPath, options, async () => ({ kind: 'sigstore', identity, issuer, trust: await resolveTrust(options) }));
    });
}
