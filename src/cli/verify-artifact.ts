/**
 * `modelgate verify-artifact ARTIFACT… --provenance-path FILE --source-uri URI …`: slsa-verifier
 * `verify-artifact` semantics for files built by the SLSA GitHub generators.
 *
 * Owns: option parsing, hashing the artifacts (worker pool), and the verdict lines: exit 0 with
 * `PASSED: SLSA verification passed` on stderr, exit 1 with `FAILED: SLSA verification failed:
 * <error>`, exit 2 for usage errors and unobtainable trust material. `--print-provenance` writes the
 * verified in-toto statement to stdout. The provenance file is a Sigstore bundle (JSON), or JSON
 * lines of bundles of which the first that verifies wins. Verification: `verifyProvenanceBundle`.
 */
import type { Command } from 'commander';
import { verifyProvenanceBundle, type VerifiedProvenance } from '../attest/provenance-bundle.ts';
import type { SlsaPolicy } from '../attest/slsa-policy.ts';
import { UsageError } from '../errors.ts';
import { hashJobs } from '../hashing/pool.ts';
import type { Digest } from '../oci/digest.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { addEvidenceTrustOptions, trustForEvidence, type EvidenceTrustCliOptions } from './evidence-trust.ts';
import { addSourceOptions, checkSourceOptions, readEvidenceFile, slsaVerdict, type SourceCliOptions } from './slsa-verifier-options.ts';
import { addTrustOptions } from './trust-options.ts';

interface VerifyArtifactOptions extends EvidenceTrustCliOptions, SourceCliOptions {
  provenancePath?: string;
  builderId?: string;
  buildWorkflowInput: string[];
  printProvenance?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function workflowInputs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError('USAGE', `--build-workflow-input must be key=value, got ${JSON.stringify(pair)}`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** The bundle candidates in the provenance file: one JSON document, or one per line (JSONL). */
function provenanceCandidates(path: string): string[] {
  const text = readEvidenceFile(path, 'provenance');
  try {
    JSON.parse(text);
    return [text];
  } catch {
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
    return lines.length > 0 ? lines : [text];
  }
}

async function verifyOne(candidates: readonly string[], trust: TrustMaterial, digest: Digest, policy: Omit<SlsaPolicy, 'artifactDigests'>, ignoreTlog: boolean): Promise<VerifiedProvenance> {
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      return await verifyProvenanceBundle(candidate, trust, digest, policy, { ignoreTlog });
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export function register(program: Command): void {
  addEvidenceTrustOptions(addTrustOptions(addSourceOptions(
    program
      .command('verify-artifact')
      .description('verify SLSA provenance for artifacts built by the SLSA GitHub generators (slsa-verifier verify-artifact semantics)')
      .argument('<ARTIFACT...>', 'artifact files to verify')
      .option('--provenance-path <FILE>', 'the provenance (Sigstore bundle, or JSON lines of bundles)')
      .option('--builder-id <ID>', 'expected builder ID, e.g. https://github.com/…/generator_generic_slsa3.yml@refs/tags/v2.1.0')
      .option('--build-workflow-input <KEY=VALUE>', 'expected workflow_dispatch input (repeatable)', collect, [])
      .option('--print-provenance', 'print the verified provenance statement on stdout'),
    'artifact',
  ))).action(async (artifacts: string[], options: VerifyArtifactOptions) => {
    if (options.provenancePath === undefined) throw new UsageError('USAGE', 'verify-artifact needs --provenance-path FILE');
    const sourceUri = checkSourceOptions('verify-artifact', options);
    const policy: Omit<SlsaPolicy, 'artifactDigests'> = {
      sourceUri,
      builderId: options.builderId,
      sourceBranch: options.sourceBranch,
      sourceTag: options.sourceTag,
      sourceVersionedTag: options.sourceVersionedTag,
      buildWorkflowInputs: workflowInputs(options.buildWorkflowInput),
      kind: 'artifact',
    };
    const candidates = provenanceCandidates(options.provenancePath);
    // SLSA provenance is keyless (a GitHub Actions certificate): it always needs a trusted root.
    const trust = await trustForEvidence(options, { identities: ['https://token.actions.githubusercontent.com'], keyTlogThreshold: 0 });
    await slsaVerdict(async () => {
      const digests = await hashJobs(artifacts.map((path) => ({ kind: 'file' as const, path, algorithm: 'sha256' as const })));
      for (const [i, artifact] of artifacts.entries()) {
        const digest = `sha256:${digests[i]?.hex ?? ''}` as Digest;
        const verified = await verifyOne(candidates, trust, digest, policy, options.insecureIgnoreTlog === true);
        const entry = verified.bundle.tlogEntries[0];
        if (entry !== undefined) process.stderr.write(`Verified signature against tlog entry index ${entry.logIndex}${entry.logUrl === undefined ? '' : ` at URL: ${entry.logUrl}`}\n`);
        const commit = verified.provenance.source?.commit;
        process.stderr.write(`Verified build using builder "${verified.builderId}"${commit === undefined ? '' : ` at commit ${commit}`}\n`);
        process.stderr.write(`Verifying artifact ${artifact}: PASSED\n\n`);
        if (options.printProvenance === true && verified.bundle.content.kind === 'dsse') {
          process.stdout.write(`${verified.bundle.content.payload.toString('utf8')}\n`);
        }
      }
    });
  });
}
