/**
 * Signing a statement about a pinned artifact and storing it as `--mode` says (bundle referrer and/or
 * legacy `.att` tag).
 *
 * Owns: `signAndAttach`, what `attest attach`, `attest sbom` and `attest evaluate` share once their
 * predicate is known.
 */
import { UsageError } from '../errors.ts';
import { attachBundle } from '../sign/attach.ts';
import { signStatementWith } from '../sign/bundle-signer.ts';
import { attachLegacyAttestation } from '../sign/legacy-tag.ts';
import { checkModeForSigner, openSubject, writesLegacy, writesReferrer, writtenEvidence, type EvidenceCliOptions, type PinnedSubject } from './evidence-mode.ts';
import type { OutputFormat } from './output-format.ts';
import { announceSigner, resolveBundleSigner, signsKeyless } from './signing-key-option.ts';

/**
 * Sign a statement about the pinned artifact `reference` with `predicateType` and the predicate
 * `makePredicate` returns (given the subject, after the signer and the subject were checked), and
 * store it as `--mode` says. What `attest attach` and `attest sbom` do.
 */
export async function signAndAttach(
  reference: string,
  options: EvidenceCliOptions & { readonly output?: OutputFormat },
  predicateType: string,
  makePredicate: (subject: PinnedSubject) => unknown,
  resolvedSigner?: Awaited<ReturnType<typeof resolveBundleSigner>>,
): Promise<void> {
  const result = writtenEvidence(options.output ?? 'text');
  checkModeForSigner(options.mode, signsKeyless(options));
  const signer = resolvedSigner ?? (await resolveBundleSigner(options));
  const subject = await openSubject(reference, options);
  const predicate = await makePredicate(subject);
  announceSigner(signer);
  const bundle = await signStatementWith(signer, [{ name: subject.repository, digest: subject.digest }], predicateType, predicate);
  if (writesReferrer(options.mode)) {
    const written = await attachBundle(subject.store, subject.descriptor, bundle);
    process.stderr.write(`Attestation bundle attached as referrer ${written.digest}\n`);
    result.referrer(written.digest);
  }
  if (writesLegacy(options.mode)) {
    const envelope = bundle.dsseEnvelope;
    if (envelope === undefined) throw new UsageError('USAGE', 'internal: the signed bundle has no DSSE envelope');
    const written = await attachLegacyAttestation(subject.store, subject.digest, envelope, predicateType);
    process.stderr.write(`Attestation added to the legacy .att tag (manifest ${written.digest})\n`);
    result.legacyTag(written.digest);
  }
  result.end();
}
