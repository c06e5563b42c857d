/**
 * `modelgate verify-image REF --source-uri …`: slsa-verifier `verify-image` over cosign attestations
 * stored next to an image or model (legacy `.att` tag, or Sigstore bundle referrers).
 *
 * Owns: the command only. Evidence comes from `collectEvidence` (any certificate from the GitHub
 * Actions OIDC issuer; the SAN is then checked as slsa-verifier does, against the trusted builder
 * workflows or `--builder-id`), the SLSA checks from `verifySlsaProvenance` (`src/attest/`). Like
 * slsa-verifier, the first attestation that passes every check wins; otherwise the failure of the
 * last one examined is reported. Exit 0 = PASSED, 1 = FAILED, 2 = usage or I/O error.
 */
import type { Command } from 'commander';
import { ModelgateError, UsageError } from '../errors.ts';
import { digestAlgorithm, digestHex } from '../oci/digest.ts';
import { isProvenancePredicateType } from '../attest/provenance.ts';
import { GITHUB_ACTIONS_ISSUER, verifySlsaProvenance, type SlsaVerdict } from '../attest/slsa-policy.ts';
import { FULCIO_OID } from '../sigstore/bundle.ts';
import { collectEvidence, verifiedEvidence } from '../sigstore/cosign-evidence.ts';
import { addStoreOptions, openReference, type StoreCliOptions } from './store-options.ts';
import { addEvidenceTrustOptions, trustForEvidence, type EvidenceTrustCliOptions } from './evidence-trust.ts';
import { addTrustOptions } from './trust-options.ts';
import { openPinnedReference } from './verify-signatures.ts';

interface VerifyImageOptions extends StoreCliOptions, EvidenceTrustCliOptions {
  readonly sourceUri: string;
  readonly builderId?: string;
  readonly sourceBranch?: string;
  readonly sourceTag?: string;
  readonly sourceVersionedTag?: string;
  readonly buildWorkflowInput: readonly string[];
  readonly printProvenance?: boolean;
  readonly provenanceRepository?: string;
}

function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

function workflowInputs(pairs: readonly string[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError('USAGE', `--build-workflow-input must be key=value, got "${pair}"`);
    inputs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return inputs;
}

export function register(program: Command): void {
  const command = program
    .command('verify-image')
    .description('verify the SLSA provenance attached to an image or model by slsa-github-generator (slsa-verifier verify-image semantics)')
    .argument('<reference>', 'artifact pinned by digest: oci://host/repo@sha256:… or oci-layout://dir@sha256:…')
    .requiredOption('--source-uri <uri>', 'expected source repository, e.g. github.com/org/repo (exact match)')
    .option('--builder-id <id>', 'expected builder: the reusable workflow URL, optionally @refs/tags/vX.Y.Z')
    .option('--source-branch <branch>', 'expected branch the artifact was built from')
    .option('--source-tag <tag>', 'expected tag the artifact was built from')
    .option('--source-versioned-tag <semver>', 'expected semver tag (major/minor match)')
    .option('--build-workflow-input <key=value>', 'expected workflow_dispatch input (repeatable)', collect, [])
    .option('--print-provenance', 'print the verified provenance statement on stdout')
    .option('--provenance-repository <repository>', 'registry repository holding the attestations when not beside the image (cosign COSIGN_REPOSITORY), e.g. ghcr.io/org/provenance');
  addStoreOptions(addEvidenceTrustOptions(addTrustOptions(command))).action(async (reference: string, options: VerifyImageOptions) => {
    if (options.sourceBranch !== undefined && options.sourceTag !== undefined) {
      throw new UsageError('USAGE', '--source-branch and --source-tag are mutually exclusive');
    }
    const buildWorkflowInputs = workflowInputs(options.buildWorkflowInput);
    const { store, digest } = await openPinnedReference(reference, options);
    const evidenceStore = options.provenanceRepository === undefined ? undefined : (await openReference(options.provenanceRepository, options)).store;
    // SLSA provenance is keyless (a GitHub Actions certificate): it always needs a trusted root.
    const trust = await trustForEvidence(options, { identities: [GITHUB_ACTIONS_ISSUER], keyTlogThreshold: 0 });
    const report = await collectEvidence(store, digest, {
      ...(options.insecureIgnoreTlog === true ? { ignoreTlog: true } : {}),
      ...(evidenceStore === undefined ? {} : { evidenceStore }),
      trust,
      signer: { kind: 'issuer-only', issuer: GITHUB_ACTIONS_ISSUER },
      sources: ['referrer', 'legacy-att'],
    });
    let passed: { verdict: SlsaVerdict; payload: Buffer } | undefined;
    let lastFailure: string | undefined;
    for (const problem of report.problems) lastFailure = `${problem.source}: ${problem.code}: ${problem.message}`;
    for (const item of report.items) {
      if (item.status === 'failed') lastFailure = `${item.source} ${item.manifestDigest}: ${item.error.code}: ${item.error.message}`;
    }
    for (const item of verifiedEvidence(report)) {
      const { payload, bundle, payloadBytes } = item.verified;
      if (payload.format !== 'in-toto' || !isProvenancePredicateType(payload.statement.predicateType)) continue;
      if (bundle.signer.kind !== 'certificate') continue;
      try {
        const verdict = verifySlsaProvenance(
          payload.statement,
          { san: bundle.signer.san, issuer: bundle.signer.issuer, sourceRepositoryUri: bundle.signer.extensions[FULCIO_OID.sourceRepositoryURI] },
          {
            sourceUri: options.sourceUri,
            builderId: options.builderId,
            sourceBranch: options.sourceBranch,
            sourceTag: options.sourceTag,
            sourceVersionedTag: options.sourceVersionedTag,
            buildWorkflowInputs,
            artifactDigests: [{ algorithm: digestAlgorithm(digest), hex: digestHex(digest) }],
            kind: 'container',
          },
        );
        passed = { verdict, payload: payloadBytes };
        break;
      } catch (err) {
        if (!(err instanceof ModelgateError)) throw err;
        lastFailure = `${item.source} ${item.manifestDigest}: ${err.code}: ${err.message}`;
      }
    }
    if (passed === undefined) {
      process.stderr.write(`FAILED: SLSA verification failed: ${lastFailure ?? `no SLSA provenance attestation found for ${digest} in ${report.store}`}\n`);
      process.exitCode = 1;
      return;
    }
    if (options.printProvenance) process.stdout.write(`${passed.payload.toString('utf8').trimEnd()}\n`);
    process.stderr.write(`Verified build using builder "${passed.verdict.builderId}" at commit ${passed.verdict.provenance.source?.commit ?? '(unknown)'}\n`);
    process.stderr.write('PASSED: SLSA verification passed\n');
    process.exitCode = 0;
  });
}
