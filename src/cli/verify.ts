/**
 * `modelgate verify REF`: the verification pipeline (`src/pipeline/decide.ts`) on one artifact —
 * resolve, discover and verify signatures and attestations against the given signers, build the
 * policy input from verified evidence only, and print the policy's decision with the evidence summary.
 *
 * Owns: the command's output (`-o text`, a table, or `-o json`); its pipeline options are `pipeline-options.ts`'s. Signers: `--key FILE` (repeatable) and
 * `--certificate-identity SAN --certificate-oidc-issuer URL` (repeatable, paired in order; one issuer
 * applies to every identity). They name whose signatures are *checked*; the policy data
 * (`signers.keys` by key id, `signers.identities`, `revoked`, `threshold`) decides who is *trusted*.
 * Trust root: `--trusted-root`, else the public-good root through TUF when it is needed (keyless
 * identities, `--key-tlog-threshold` above 0, or a TUF option given); with keys only, no root is
 * fetched and key-signed evidence that carries Rekor entries fails closed (give `--trusted-root`).
 * Heavy modules (registry client, policy engine, Sigstore) are loaded when the command runs. Exit codes (`EXIT_CODE`): 0 allow, 1 deny, 2 usage
 * or error, 3 registry unavailable (transient: timeout, connection failure, 5xx — retry), 4 registry
 * refused (permanent: not found, unauthorised, malformed content).
 */
import type { Command } from 'commander';
import type { ArtifactDecision } from '../pipeline/decide.ts';
import type { SettingFlags } from '../config/read.ts';
import type { AppliedConfiguration } from '../config/load.ts';
import { addOutputOption, type OutputFormat } from './output-format.ts';
import { addPipelineOptions, loadPipelineFromOptions } from './pipeline-options.ts';

type VerifyOptions = SettingFlags & {
  readonly output: OutputFormat;
};

/** The JSON report: outcome, decision (reasons with codes), evidence summary, policy and trust identity. */
export function decisionToJson(reference: string, result: ArtifactDecision): Record<string, unknown> {
  const base = { reference, outcome: result.outcome, allow: result.outcome === 'allow', digest: result.digest, ...(result.variants !== undefined ? { variants: result.variants } : {}) };
  switch (result.outcome) {
    case 'allow':
    case 'deny': {
      const { decision } = result;
      return {
        ...base,
        reasons: decision.reasons,
        warnings: decision.warnings,
        exceptions: decision.exceptions,
        policy: { name: decision.policy, bundleDigest: decision.bundleDigest, dataDigest: decision.dataDigest },
        evidence: result.evidence,
      };
    }
    case 'unavailable':
      return { ...base, transient: result.transient, failure: result.failure, evidence: result.evidence };
    case 'invalid':
      return { ...base, failure: result.failure };
  }
}

function table(rows: ReadonlyArray<readonly [string, string, string]>): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  // Only rows with a third column are aligned on the second: a long reference or digest must not widen it.
  const w1 = Math.max(0, ...rows.filter((r) => r[2] !== '').map((r) => r[1].length));
  return rows.map(([a, b, c]) => (c ? `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}` : `${a.padEnd(w0)}  ${b}`)).join('\n') + '\n';
}

export function decisionToTable(reference: string, result: ArtifactDecision, applied?: AppliedConfiguration): string {
  const verdict = result.outcome === 'unavailable' ? `unavailable (${result.transient ? 'transient' : 'permanent'})` : result.outcome;
  const rows: Array<readonly [string, string, string]> = [['VERDICT', verdict, ''], ['artifact', reference, ''], ['digest', result.digest ?? '-', '']];
  for (const v of result.variants ?? []) rows.push(['variant', v.name, `${v.outcome} ${v.digest}`]);
  if (result.outcome === 'allow' || result.outcome === 'deny') {
    for (const r of result.decision.reasons) rows.push(['deny', r.code, r.message]);
    for (const w of result.decision.warnings) rows.push(['warning', w.code, w.message]);
    for (const x of result.decision.exceptions) rows.push(['exception', x.id, `approved by ${x.approvedBy} (${x.reason}), expires ${x.expires}, waives ${x.waived.join(', ')}`]);
  } else {
    rows.push(['error', result.failure.code, result.failure.message]);
  }
  const evidence = result.outcome === 'invalid' ? null : result.evidence;
  if (evidence !== null) {
    if (evidence.items.length === 0) rows.push(['evidence', 'none', `no signatures or attestations found in ${evidence.store}`]);
    for (const item of evidence.items) {
      const what = `${item.source} ${item.kind}${item.predicateType ? ` ${item.predicateType}` : ''} (${item.manifestDigest.slice(0, 19)}…)`;
      rows.push(['evidence', item.status, item.status === 'verified' ? `${what} by ${item.signer}` : `${what}: ${item.error?.code}: ${item.error?.message}`]);
    }
    for (const p of evidence.problems) rows.push(['problem', p.code, `${p.source}: ${p.message}`]);
  }
  if (result.outcome === 'allow' || result.outcome === 'deny') {
    rows.push(['bundle', result.decision.bundleDigest, ''], ['data', result.decision.dataDigest, ''], ['policy', result.decision.policy, '']);
  }
  if (applied !== undefined) rows.push(['applied', `data ${applied.data}; trust ${applied.trust}`, '']);
  return table(rows);
}

export function register(program: Command): void {
  const command = program
    .command('verify')
    .description('verify an artifact end to end (resolve, signatures, SLSA provenance, policy) and print the decision; exit 0 allow, 1 deny, 2 error, 3 registry unavailable, 4 registry refused')
    .argument('<reference>', 'oci://host/repo[:tag][@sha256:…], host/repo…, oci-layout://dir…, or any storage URI (s3://, gs://, hf://, pvc://, https://: unverifiable, the policy decides)');
  addOutputOption(command);
  addPipelineOptions(command).action(async (reference: string, options: VerifyOptions) => {
    const [{ decideArtifact, exitCodeOf }, { deps, applied }] = await Promise.all([import('../pipeline/decide.ts'), loadPipelineFromOptions(options)]);
    const result = await decideArtifact(reference, { mode: 'cli' }, deps);
    process.stdout.write(options.output === 'json' ? `${JSON.stringify({ ...decisionToJson(reference, result), configuration: applied }, null, 2)}\n` : decisionToTable(reference, result, applied));
    if (result.outcome === 'unavailable' || result.outcome === 'invalid') {
      process.stderr.write(`modelgate: ${result.failure.code}: ${result.failure.message}\n`);
    }
    process.exitCode = exitCodeOf(result);
  });
}
