/**
 * `modelgate sign-model {key|certificate} MODEL_PATH …`: write an OpenSSF model-signing signature
 * (`model.sig`), mirroring `model_signing sign key|certificate` (hyphenated flags; the underscore forms
 * `--private_key`, `--signing_certificate`, `--certificate_chain`, `--ignore_paths` are accepted too).
 *
 * Owns: the commands' options and output (the signature file, written atomically; the model digest on
 * stdout). Hashing and signing are `src/sign/model-signature.ts`. Verify with `modelgate verify-model`.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { SigningError } from '../sign/errors.ts';
import { signModel, type ModelSigningKey, type SignModelOptions } from '../sign/model-signature.ts';
import { parseCertificatesPem } from '../sigstore/trust.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { KEY_OPTION_HELP, loadPrivateKeyFile } from './signing-key-option.ts';

interface CommonOptions {
  signature?: string;
  privateKey?: string;
  private_key?: string;
  ignorePaths: string[];
  ignore_paths: string[];
  ignoreGitPaths?: boolean;
  allowSymlinks?: boolean;
  modelName?: string;
  output: OutputFormat;
}

interface CertificateOptions extends CommonOptions {
  signingCertificate?: string;
  signing_certificate?: string;
  certificateChain: string[];
  certificate_chain: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function hidden(flags: string, description: string): Option {
  return new Option(flags, description).hideHelp();
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError('USAGE', `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function addCommonOptions(command: Command): Command {
  return command
    .argument('<MODEL_PATH>', 'model directory or single file')
    .option('--signature <FILE>', 'where to write the signature (default: MODEL_PATH/model.sig for a directory, model.sig beside a single file)')
    .option('--private-key <FILE>', KEY_OPTION_HELP)
    .addOption(hidden('--private_key <FILE>', 'alias of --private-key'))
    .option('--ignore-paths <PATH>', 'file or directory to leave out of the model (repeatable)', collect, [])
    .addOption(hidden('--ignore_paths <PATH>', 'alias of --ignore-paths').argParser(collect).default([]))
    .option('--no-ignore-git-paths', 'include .git, .gitattributes, .github, .gitignore in the model')
    .option('--allow-symlinks', 'follow symbolic links inside the model (they must stay inside it)')
    .option('--model-name <NAME>', 'subject name recorded in the statement (default: the model path\'s base name)')
    .addOption(outputOption('output format: text (the model\'s root digest) or json ({rootDigest, signature, files})'));
}

function signaturePathFor(modelPath: string, options: CommonOptions): string {
  if (options.signature !== undefined) return options.signature;
  let isDirectory = false;
  try {
    isDirectory = statSync(modelPath).isDirectory();
  } catch {
    // listModelFiles reports the unreadable model path with its own code
  }
  return isDirectory ? join(modelPath, 'model.sig') : 'model.sig';
}

async function run(modelPath: string, options: CommonOptions, signer: (privateKeyPath: string) => Promise<ModelSigningKey>): Promise<void> {
  const keyPath = options.privateKey ?? options.private_key;
  if (keyPath === undefined) throw new UsageError('USAGE', 'sign-model needs --private-key FILE');
  const signaturePath = signaturePathFor(modelPath, options);
  const signOptions: SignModelOptions = {
    signaturePath,
    ignorePaths: [...options.ignorePaths, ...options.ignore_paths],
    ignoreGitPaths: options.ignoreGitPaths !== false,
    allowSymlinks: options.allowSymlinks === true,
    ...(options.modelName !== undefined ? { modelName: options.modelName } : {}),
  };
  const signed = await signModel(modelPath, await signer(keyPath), signOptions);
  try {
    await writeFileAtomic(signaturePath, `${JSON.stringify(signed.bundle)}\n`, { overwrite: true });
  } catch (err) {
    throw new SigningError('SIGNING_IO', `cannot write ${signaturePath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  process.stderr.write(`Signed ${signed.resources.length} files; signature written to ${signaturePath}\n`);
  process.stdout.write(options.output === 'json' ? `${JSON.stringify({ rootDigest: signed.rootDigest, signature: signaturePath, files: signed.resources.length })}\n` : `${signed.rootDigest}\n`);
}

export function register(program: Command): void {
  const signModelCommand = program.command('sign-model').description('Sign a model directory or file into an OpenSSF model-signing model.sig (model_signing sign)');

  addCommonOptions(signModelCommand.command('key'))
    .description('sign with a private key (verify with: modelgate verify-model key --public-key)')
    .action(async (modelPath: string, options: CommonOptions) => {
      await run(modelPath, options, async (path) => ({ kind: 'key', privateKey: await loadPrivateKeyFile(path) }));
    });

  addCommonOptions(signModelCommand.command('certificate'))
    .description('sign with a private key and its certificate chain (verify with: modelgate verify-model certificate --certificate-chain CA.pem)')
    .option('--signing-certificate <PEM>', 'the signing (leaf) certificate, PEM')
    .addOption(hidden('--signing_certificate <PEM>', 'alias of --signing-certificate'))
    .option('--certificate-chain <PEM>', 'intermediate certificate(s) up to (not including) the root, PEM (repeatable)', collect, [])
    .addOption(hidden('--certificate_chain <PEM>', 'alias of --certificate-chain').argParser(collect).default([]))
    .action(async (modelPath: string, options: CertificateOptions) => {
      const leafPath = options.signingCertificate ?? options.signing_certificate;
      if (leafPath === undefined) throw new UsageError('USAGE', 'sign-model certificate needs --signing-certificate PEM');
      const leaf = parseCertificatesPem(readText(leafPath, 'signing certificate'));
      if (leaf.length !== 1) throw new UsageError('USAGE', `${leafPath} must hold exactly one certificate, found ${leaf.length}`);
      const chain = [...options.certificateChain, ...options.certificate_chain].flatMap((p) => parseCertificatesPem(readText(p, 'certificate chain')));
      await run(modelPath, options, async (path) => ({ kind: 'certificate', privateKey: await loadPrivateKeyFile(path), leafDer: leaf[0]!.raw, chainDer: chain.map((c) => c.raw) }));
    });
}
