/**
 * `modelgate policy build|test|eval`: build the WASM policy bundle with the checksum-verified opa, run
 * the Rego tests, and evaluate a policy input file through the same engine admission and init use.
 *
 * Exit codes (eval): 0 allow, 1 deny, 2 usage or error.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { buildBundle, DEFAULT_BUNDLE_DIR, DEFAULT_POLICY_DIR, testPolicies } from '../policy/bundle.ts';
import { PolicyEngine, type Decision } from '../policy/engine.ts';
import { validatePolicyInput } from '../policy/schema.ts';
import { outputOption, type OutputFormat } from './output-format.ts';

const MAX_JSON_BYTES = 16 * 1024 * 1024;

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_JSON_BYTES) throw new Error(`larger than ${MAX_JSON_BYTES} bytes`);
    text = bytes.toString('utf8');
  } catch (err) {
    throw new UsageError('USAGE', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError('USAGE', `${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseCoverage(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new UsageError('USAGE', `--min-coverage must be a number from 0 to 100, got "${value}"`);
  return n;
}

export function formatDecisionTable(decision: Decision): string {
  const rows: Array<[string, string, string]> = [['VERDICT', decision.allow ? 'allow' : 'deny', '']];
  for (const r of decision.reasons) rows.push(['deny', r.code, r.message]);
  for (const w of decision.warnings) rows.push(['warning', w.code, w.message]);
  for (const x of decision.exceptions) rows.push(['exception', x.id, `approved by ${x.approvedBy} (${x.reason}), expires ${x.expires}, waives ${x.waived.join(', ')}`]);
  rows.push(['bundle', decision.bundleDigest, ''], ['data', decision.dataDigest, ''], ['policy', decision.policy, '']);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${c ? b.padEnd(w1) : b}${c ? `  ${c}` : ''}`).join('\n') + '\n';
}

export function register(program: Command): void {
  const policy = program.command('policy').description('Build, test and evaluate the Rego/WASM admission policy');

  policy
    .command('build')
    .description('opa check + opa test + opa build -t wasm into a bundle (policy.wasm, data.json, manifest.json)')
    .option('--policy-dir <dir>', 'directory with *.rego, *_test.rego and data.json', DEFAULT_POLICY_DIR)
    .option('--out <dir>', 'bundle output directory', DEFAULT_BUNDLE_DIR)
    .option('--min-coverage <percent>', 'minimum opa test coverage', parseCoverage, 100)
    .action(async (opts: { policyDir: string; out: string; minCoverage: number }) => {
      const result = await buildBundle({ policyDir: opts.policyDir, outDir: opts.out, minCoverage: opts.minCoverage });
      process.stdout.write(
        `opa test: ${result.tests.output}\nbundle ${result.outDir}\n  digest      ${result.bundle.digest}\n` +
          `  policy.wasm ${result.bundle.manifest.files['policy.wasm'].digest}\n  data.json   ${result.bundle.manifest.files['data.json'].digest}\n`,
      );
    });

  policy
    .command('test')
    .description('opa check --strict and opa test (with coverage) over a policy directory')
    .option('--policy-dir <dir>', 'directory with *.rego, *_test.rego and data.json', DEFAULT_POLICY_DIR)
    .option('--min-coverage <percent>', 'minimum opa test coverage', parseCoverage, 100)
    .action(async (opts: { policyDir: string; minCoverage: number }) => {
      const report = await testPolicies(opts.policyDir, { minCoverage: opts.minCoverage });
      process.stdout.write(`${report.output}\n`);
    });

  policy
    .command('eval')
    .description('evaluate a policy input (JSON, input.v1 schema) with the WASM bundle; exit 0 allow, 1 deny')
    .requiredOption('--input <file>', 'policy input JSON')
    .option('--data <file>', 'data JSON replacing the bundle data.json (allowlists)')
    .option('--policy <dir>', 'policy bundle directory, manifest.json or tar archive', DEFAULT_BUNDLE_DIR)
    .addOption(outputOption())
    .action(async (opts: { input: string; data?: string; policy: string; output: OutputFormat }) => {
      const input = validatePolicyInput(await readJson(opts.input, 'policy input'));
      const data = opts.data === undefined ? undefined : await readJson(opts.data, 'policy data');
      const engine = await PolicyEngine.load(opts.policy, data === undefined ? {} : { data });
      const decision = engine.evaluate(input);
      process.stdout.write(opts.output === 'json' ? `${JSON.stringify(decision, null, 2)}\n` : formatDecisionTable(decision));
      process.exitCode = decision.allow ? 0 : 1;
    });
}
