/**
 * `modelgate sign REF@sha256:… --key FILE [--mode referrer|legacy|both]`: a cosign-compatible key
 * signature of an artifact, verifiable with `modelgate verify-signatures --key` and `cosign verify`;
 * without `--key`, keyless (`--keyless`, SIGSTORE_ID_TOKEN; referrer mode only).
 *
 * Owns: the command. Referrer mode signs an in-toto statement with cosign v3's sign predicate into a
 * Sigstore bundle (`src/sign/dsse-bundle.ts`) attached as a referrer (`src/sign/attach.ts`); legacy
 * mode adds a simple-signing layer to the `.sig` tag (`src/sign/legacy-tag.ts`). Prints the digest of
 * each manifest written.
 */
import type { Command } from 'commander';
import { attachBundle } from '../sign/attach.ts';
import { signStatementWith } from '../sign/bundle-signer.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../sign/dsse-bundle.ts';
import { attachLegacySignature } from '../sign/legacy-tag.ts';
import { addEvidenceOptions, checkModeForSigner, openSubject, writesLegacy, writesReferrer, writtenEvidence, type EvidenceCliOptions } from './evidence-mode.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { announceSigner, resolveBundleSigner, signsKeyless } from './signing-key-option.ts';

export function register(program: Command): void {
  const command = program
    .command('sign')
    .description('Sign an artifact with a private key or keyless, cosign-compatible: a Sigstore bundle referrer and/or (key only) a legacy .sig tag')
    .argument('<reference>', 'artifact pinned by digest: oci://host/repo@sha256:… or oci-layout://dir@sha256:…')
    .addOption(outputOption('output format: text (one digest a line) or json ({referrer, legacyTag})'));
  addEvidenceOptions(command).action(async (reference: string, options: EvidenceCliOptions & { output: OutputFormat }) => {
    const result = writtenEvidence(options.output);
    checkModeForSigner(options.mode, signsKeyless(options));
    const signer = await resolveBundleSigner(options);
    const subject = await openSubject(reference, options);
    if (writesReferrer(options.mode)) {
      announceSigner(signer);
      const bundle = await signStatementWith(signer, [{ name: subject.repository, digest: subject.digest }], COSIGN_SIGN_PREDICATE_TYPE, {});
      const written = await attachBundle(subject.store, subject.descriptor, bundle);
      process.stderr.write(`Signature bundle attached as referrer ${written.digest}\n`);
      result.referrer(written.digest);
    }
    if (writesLegacy(options.mode) && signer.kind === 'key') {
      const written = await attachLegacySignature(subject.store, subject.digest, signer.privateKey, { dockerReference: subject.repository });
      process.stderr.write(`Signature added to the legacy .sig tag (manifest ${written.digest})\n`);
      result.legacyTag(written.digest);
    }
    result.end();
  });
}
