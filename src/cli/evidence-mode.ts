/**
 * Where `modelgate sign` and `modelgate attest attach` store what they sign: the `--mode` option.
 *
 * Owns: the mode vocabulary — `referrer` (a Sigstore bundle v0.3 OCI 1.1 referrer, cosign v3's
 * default), `legacy` (cosign's `sha256-<hex>.sig` / `.att` tag), `both` — opening the pinned
 * subject the evidence is about, and printing what was written (`writtenEvidence`: one digest a
 * line as it is written, or with `-o json` one `{referrer, legacyTag}` object at the end).
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { repositoryName, type ArtifactReference } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';
import type { OutputFormat } from './output-format.ts';
import { addStoreOptions, openReference, type StoreCliOptions } from './store-options.ts';
import { addSigningOptions, type SigningCliOptions } from './signing-key-option.ts';

export type EvidenceMode = 'referrer' | 'legacy' | 'both';

export interface EvidenceCliOptions extends StoreCliOptions, SigningCliOptions {
  readonly mode: EvidenceMode;
}

export function addEvidenceOptions(command: Command): Command {
  return addStoreOptions(
    addSigningOptions(command)
      .addOption(new Option('--mode <mode>', 'referrer: Sigstore bundle referrer (cosign v3); legacy: cosign sha256-<hex>.sig/.att tag; both').choices(['referrer', 'legacy', 'both']).default('referrer')),
  );
}

export const writesReferrer = (mode: EvidenceMode): boolean => mode !== 'legacy';
/** Keyless evidence is stored as bundle referrers only (a legacy tag would need cosign's certificate annotations). */
export function checkModeForSigner(mode: EvidenceMode, keyless: boolean): void {
  if (keyless && mode !== 'referrer') throw new UsageError('USAGE', `--mode ${mode} needs --key: keyless signatures are stored as Sigstore bundle referrers (--mode referrer)`);
}
export const writesLegacy = (mode: EvidenceMode): boolean => mode !== 'referrer';

export interface PinnedSubject {
  readonly ref: ArtifactReference;
  readonly store: ArtifactStore;
  readonly digest: Digest;
  /** The subject manifest's descriptor (media type and size as the store serves it). */
  readonly descriptor: Descriptor;
  /** `host/repo` (or `oci-layout://dir`): cosign's docker-reference / subject name. */
  readonly repository: string;
}

/** Open `text`, which must be pinned by digest, and resolve the manifest it names. */
export async function openSubject(text: string, options: StoreCliOptions): Promise<PinnedSubject> {
  const { ref, store } = await openReference(text, options);
  if (ref.digest === undefined) throw new UsageError('USAGE', `${text} is not pinned: sign an artifact by digest (…@sha256:<hex>), never a tag that can move`);
  const descriptor = await store.resolve(ref.digest);
  return { ref, store, digest: ref.digest, descriptor, repository: repositoryName(ref) };
}

/** The result of `sign` / `attest attach` on stdout: the digest of each manifest written. */
export function writtenEvidence(output: OutputFormat): { referrer(digest: Digest): void; legacyTag(digest: Digest): void; end(extra?: Record<string, unknown>): void } {
  const written: { referrer: Digest | null; legacyTag: Digest | null } = { referrer: null, legacyTag: null };
  const record = (kind: keyof typeof written) => (digest: Digest): void => {
    written[kind] = digest;
    if (output === 'text') process.stdout.write(`${digest}\n`);
  };
  return {
    referrer: record('referrer'),
    legacyTag: record('legacyTag'),
    end: (extra = {}) => {
      if (output === 'json') process.stdout.write(`${JSON.stringify({ ...written, ...extra })}\n`);
    },
  };
}
