/**
 * `modelgate sign REF@sha256:… --key FILE [--mode referrer|legacy|both]`: a cosign-compatible key
 * signature of an artifact, verifiable with `modelgate verify-signatures --key` and `cosign verify`;
 * without `--key`, keyless (`--keyless`, SIGSTORE_ID_TOKEN; referrer mode only).
 *
 * Owns: the command. Referrer mode signs an in-toto statement with cosign v3's sign predicate into a
 * Sigstore bundle (`src/sign/dsse-bundle.ts`) attached as a referrer (`src/sign/attach.ts`); legacy
 * mode adds a simple-signing layer to the `.sig` tag (`src/sign/legacy-tag.ts`). Prints the digest of
 * each manifest written. A model index (`push --variant`) is signed with every variant it lists: one
 * signature per digest, as cosign verifies per digest (`-o json` adds `variants: [{name, digest,
 * referrer, legacyTag}]`).
 */
import type { Command } from 'commander';
import type { Digest } from '../oci/digest.ts';
import { MediaType, type Descriptor } from '../oci/manifest.ts';
import { isModelIndex, variantsOfIndex } from '../modelpack/variants.ts';
import { attachBundle } from '../sign/attach.ts';
import { signStatementWith } from '../sign/bundle-signer.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../sign/dsse-bundle.ts';
import { attachLegacySignature } from '../sign/legacy-tag.ts';
import { addEvidenceOptions, checkModeForSigner, openSubject, type PinnedSubject, writesLegacy, writesReferrer, writtenEvidence, type EvidenceCliOptions } from './evidence-mode.ts';
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
    if (writesReferrer(options.mode)) announceSigner(signer);
    const signOne = async (descriptor: Descriptor, what: string, record?: typeof result): Promise<{ referrer: Digest | null; legacyTag: Digest | null }> => {
      const written: { referrer: Digest | null; legacyTag: Digest | null } = { referrer: null, legacyTag: null };
      if (writesReferrer(options.mode)) {
        const bundle = await signStatementWith(signer, [{ name: subject.repository, digest: descriptor.digest }], COSIGN_SIGN_PREDICATE_TYPE, {});
        written.referrer = (await attachBundle(subject.store, descriptor, bundle)).digest;
        process.stderr.write(`Signature bundle of ${what} attached as referrer ${written.referrer}\n`);
        record?.referrer(written.referrer);
      }
      if (writesLegacy(options.mode) && signer.kind === 'key') {
        written.legacyTag = (await attachLegacySignature(subject.store, descriptor.digest, signer.privateKey, { dockerReference: subject.repository })).digest;
        process.stderr.write(`Signature of ${what} added to the legacy .sig tag (manifest ${written.legacyTag})\n`);
        record?.legacyTag(written.legacyTag);
      }
      return written;
    };
    await signOne(subject.descriptor, subject.digest, result);
    const variants = await indexVariants(subject);
    const signed = [];
    for (const v of variants) {
      const written = await signOne({ mediaType: MediaType.OCI_MANIFEST, digest: v.digest, size: v.size }, `variant ${v.name} (${v.digest})`);
      if (options.output === 'text') for (const d of [written.referrer, written.legacyTag]) if (d !== null) process.stdout.write(`${d}\n`);
      signed.push({ name: v.name, digest: v.digest, ...written });
    }
    result.end(variants.length > 0 ? { variants: signed } : {});
  });
}

/** The variants of the subject when it is a model index (none otherwise), with their manifest sizes. */
async function indexVariants(subject: PinnedSubject): Promise<{ name: string; digest: Digest; size: number }[]> {
  if (subject.descriptor.mediaType !== MediaType.OCI_INDEX) return [];
  const fetched = await subject.store.fetchManifest(subject.digest);
  if (fetched.manifest.kind !== 'index' || !isModelIndex(fetched.manifest)) return []; // e.g. a multi-platform image: the index alone, as before
  const sizes = new Map(fetched.manifest.manifests.map((d) => [d.digest, d.size]));
  return variantsOfIndex(fetched.manifest, subject.repository).map((v) => ({ name: v.name, digest: v.digest, size: sizes.get(v.digest)! }));
}
