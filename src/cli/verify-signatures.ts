/**
 * `modelgate verify-signatures REF`: list every cosign signature and attestation of a pinned artifact
 * and whether each verified (`cosign verify` + `cosign verify-attestation` over one listing).
 *
 * Owns: the command, and `openPinnedReference` (references must be pinned by digest), which
 * `verify-image` reuses. Trust options come from `trust-options.ts`. Exit 0 when at least one item verified, 1 when none did,
 * 2 on errors (bad reference, unreadable key or trust root).
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { formatReference, type ArtifactReference } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';
import type { SignerPolicy } from '../sigstore/bundle.ts';
import { collectEvidence, type EvidenceItem, type EvidenceReport } from '../sigstore/cosign-evidence.ts';
import { parsePublicKey } from '../sigstore/keys.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { addStoreOptions, openReference, type StoreCliOptions } from './store-options.ts';
import { addEvidenceTrustOptions, trustForEvidence, type EvidenceTrustCliOptions } from './evidence-trust.ts';
import { addTrustOptions } from './trust-options.ts';
import { addSingleIdentityPatternOptions, givesIdentity, singleIdentityPolicy, type SingleIdentityCliOptions } from './identity-pattern-options.ts';
import { readText } from './option-values.ts';

/** Open a reference that must be pinned by digest (verifying a tag would verify a moving target). */
export async function openPinnedReference(text: string, options: StoreCliOptions): Promise<{ ref: ArtifactReference; store: ArtifactStore; digest: Digest }> {
  const { ref, store } = await openReference(text, options);
  if (ref.digest === undefined) {
    throw new UsageError('USAGE', `${formatReference(ref)} is not pinned: give the artifact by digest (…@sha256:<hex>) so the verified content cannot change`);
  }
  return { ref, store, digest: ref.digest };
}

interface VerifySignaturesOptions extends StoreCliOptions, EvidenceTrustCliOptions, SingleIdentityCliOptions {
  readonly key?: string;
  readonly certificateIdentity?: string;
  readonly certificateOidcIssuer?: string;
  readonly output: OutputFormat;
}

async function signerPolicy(options: VerifySignaturesOptions): Promise<SignerPolicy> {
  const identity = givesIdentity(options);
  if (options.key !== undefined && identity) throw new UsageError('USAGE', 'give either --key or a certificate identity (--certificate-identity/--certificate-oidc-issuer, or their -regexp forms), not both');
  if (options.key !== undefined) {
    const text = await readText(options.key, 'key');
    return { kind: 'key', keys: [parsePublicKey(text)] };
  }
  return singleIdentityPolicy(options);
}

/** JSON form of one item: everything but the parsed certificate object and raw payload bytes. */
export function itemToJson(item: EvidenceItem): Record<string, unknown> {
  const base = {
    source: item.source,
    kind: item.kind,
    status: item.status,
    manifestDigest: item.manifestDigest,
    ...(item.layerIndex === undefined ? {} : { layerIndex: item.layerIndex }),
    ...(item.layerDigest === undefined ? {} : { layerDigest: item.layerDigest }),
    ...(item.predicateType === undefined ? {} : { predicateType: item.predicateType }),
  };
  if (item.status === 'failed') return { ...base, error: item.error };
  const { signer, tlogEntries, verifiedTimes } = item.verified.bundle;
  return {
    ...base,
    signer: signer.kind === 'key' ? { kind: 'key', keyId: signer.keyId } : { kind: 'certificate', identity: signer.san, issuer: signer.issuer },
    tlogEntries: tlogEntries.map((e) => ({ logIndex: e.logIndex, logId: e.logId, kind: e.kind, version: e.version, ...(e.integratedTime ? { integratedTime: e.integratedTime.toISOString() } : {}) })),
    verifiedTimes: verifiedTimes.map((v) => ({ source: v.source, time: v.time.toISOString() })),
  };
}

export function reportToJson(reference: string, report: EvidenceReport): Record<string, unknown> {
  return {
    reference,
    subject: report.subject,
    verified: report.items.some((item) => item.status === 'verified'),
    items: report.items.map(itemToJson),
    problems: report.problems,
  };
}

function tableOf(report: EvidenceReport): string {
  const rows = report.items.map((item) => [
    item.source,
    item.kind,
    item.status,
    item.manifestDigest.slice(0, 19) + (item.layerIndex === undefined ? '' : `#${item.layerIndex}`),
    item.predicateType ?? '-',
    item.status === 'verified'
      ? item.verified.bundle.signer.kind === 'key'
        ? `key ${item.verified.bundle.signer.keyId.slice(0, 16)}`
        : item.verified.bundle.signer.san
      : `${item.error.code}: ${item.error.message}`,
  ]);
  const header = ['SOURCE', 'KIND', 'STATUS', 'MANIFEST', 'PREDICATE', 'SIGNER / ERROR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i < header.length - 1 ? r[i]!.length : 0))));
  const line = (cells: string[]) => cells.map((c, i) => (i < cells.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function register(program: Command): void {
  const command = program
    .command('verify-signatures')
    .description('list and verify every cosign signature and attestation of an artifact (bundle referrers, legacy .sig/.att tags); exit 0 if at least one verified')
    .argument('<reference>', 'artifact pinned by digest: oci://host/repo@sha256:… or oci-layout://dir@sha256:…')
    .option('--key <file>', 'PEM public key the evidence must be signed with')
    .option('--certificate-identity <san>', 'exact certificate SAN (URI or e-mail) of a keyless signer')
    .option('--certificate-oidc-issuer <url>', 'exact OIDC issuer of a keyless signer')
    .addOption(outputOption());
  addStoreOptions(addEvidenceTrustOptions(addTrustOptions(addSingleIdentityPatternOptions(command)))).action(async (reference: string, options: VerifySignaturesOptions) => {
    const signer = await signerPolicy(options);
    const { store, digest } = await openPinnedReference(reference, options);
    // Key-signed evidence needs no log entry (keyTlogThreshold 0, as `verify`): no root unless asked for.
    const trust = await trustForEvidence(options, { identities: signer.kind === 'identity' ? [signer] : [], keyTlogThreshold: 0 });
    const report = await collectEvidence(store, digest, { trust, signer, ...(options.insecureIgnoreTlog === true ? { ignoreTlog: true } : {}) });
    const verified = report.items.some((item) => item.status === 'verified');
    if (options.output === 'json') {
      process.stdout.write(`${JSON.stringify(reportToJson(reference, report), null, 2)}\n`);
    } else {
      process.stdout.write(report.items.length === 0 ? `no signatures or attestations found for ${digest} in ${report.store}\n` : tableOf(report));
    }
    for (const problem of report.problems) process.stderr.write(`modelgate: ${problem.source}: ${problem.code}: ${problem.message}\n`);
    process.stderr.write(verified ? `Verified OK: at least one signature or attestation of ${digest}\n` : `FAILED: no verified signature or attestation of ${digest}\n`);
    process.exitCode = verified ? 0 : 1;
  });
}
