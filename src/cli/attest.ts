/**
 * `modelgate attest attach REF@sha256:… --predicate FILE --type URI --key FILE [--mode …]`: sign an
 * in-toto Statement v1 about an artifact (DSSE) and store it as `cosign attest --key` does — a Sigstore
 * bundle referrer and/or a layer of the legacy `.att` tag.
 *
 * Owns: the `attest` command group and `attest attach`: reading the predicate (a JSON value, at most
 * 16 MiB), cosign's `--type` shorthands, and writing the evidence. Signing is `src/sign/dsse-bundle.ts`,
 * storage `src/sign/attach.ts` and `src/sign/legacy-tag.ts`.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { attachBundle } from '../sign/attach.ts';
import { signStatementBundle } from '../sign/dsse-bundle.ts';
import { attachLegacyAttestation } from '../sign/legacy-tag.ts';
import { addEvidenceOptions, openSubject, writesLegacy, writesReferrer, type EvidenceCliOptions } from './evidence-mode.ts';
import { loadPrivateKeyFile } from './signing-key-option.ts';

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

async function readPredicate(path: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    if ((await stat(path)).size > MAX_PREDICATE_BYTES) throw new UsageError('USAGE', `predicate ${path} is larger than ${MAX_PREDICATE_BYTES} bytes`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError('USAGE', `cannot read predicate ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new UsageError('USAGE', `predicate ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

interface AttachOptions extends EvidenceCliOptions {
  readonly predicate: string;
  readonly type: string;
}

export function register(program: Command): void {
  const attest = program.command('attest').description('Sign in-toto attestations about artifacts');
  const attach = attest
    .command('attach')
    .description('Sign PREDICATE as an in-toto Statement v1 about the artifact and attach it (bundle referrer and/or legacy .att tag)')
    .argument('<reference>', 'artifact pinned by digest: oci://host/repo@sha256:… or oci-layout://dir@sha256:…')
    .requiredOption('--predicate <file>', 'the predicate: a JSON file')
    .requiredOption('--type <uri>', `predicateType URI, or a cosign shorthand (${Object.keys(PREDICATE_TYPE_SHORTHANDS).join(', ')})`);
  addEvidenceOptions(attach).action(async (reference: string, options: AttachOptions) => {
    const predicateType = predicateTypeOf(options.type);
    const predicate = await readPredicate(options.predicate);
    const key = await loadPrivateKeyFile(options.key);
    const subject = await openSubject(reference, options);
    const bundle = signStatementBundle([{ name: subject.repository, digest: subject.digest }], predicateType, predicate, key);
    if (writesReferrer(options.mode)) {
      const written = await attachBundle(subject.store, subject.descriptor, bundle);
      process.stderr.write(`Attestation bundle attached as referrer ${written.digest}\n`);
      process.stdout.write(`${written.digest}\n`);
    }
    if (writesLegacy(options.mode)) {
      const envelope = bundle.dsseEnvelope;
      if (envelope === undefined) throw new UsageError('USAGE', 'internal: the signed bundle has no DSSE envelope');
      const written = await attachLegacyAttestation(subject.store, subject.digest, envelope, predicateType);
      process.stderr.write(`Attestation added to the legacy .att tag (manifest ${written.digest})\n`);
      process.stdout.write(`${written.digest}\n`);
    }
  });
}
