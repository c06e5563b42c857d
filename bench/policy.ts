/**
 * Policy evaluation benchmark: the default policy compiled to WASM and evaluated in-process by
 * PolicyEngine, against OPA's own Go evaluator on the same policy, data and input, in one run.
 *
 *   npm run bench:policy          (builds build/policy first)
 *
 * Input: a realistic verified evidence set (2 signatures, SLSA v1 provenance with 12 resolved
 * dependencies, an evaluation attestation), ≈ 5 KB of JSON. Data: every allowlist filled with 1,000
 * entries. Baselines (same policy, data, input):
 *   - `opa bench` (Go topdown evaluator, compiled once, many evaluations): per-evaluation cost;
 *   - `opa eval` one-shot (what a CI script calling the opa CLI pays per decision: process start,
 *     parse, compile, evaluate): wall time per call, median of several runs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine } from '../src/policy/engine.ts';
import { EVALUATION_PREDICATE_V1 } from '../src/evidence/vocabulary.ts';
import { buildPolicyInput, type PolicyInputEvidence } from '../src/policy/input.ts';
import { locateOpa, runOpa } from '../src/policy/opa.ts';
import { goodData, goodEvidence, MODEL_DIGEST, provenancePredicate, RELEASE_KEY_ID } from '../test/policy/fixtures.ts';

const ROOT = join(import.meta.dirname, '..');
const BUNDLE = join(ROOT, 'build', 'policy');
const ENTRIES = 1000;
const WARMUP = 2_000;
const ITERATIONS = 20_000;
const OPA_EVAL_RUNS = 7;

function realisticEvidence(): PolicyInputEvidence {
  const base = goodEvidence();
  const predicate = provenancePredicate() as { buildDefinition: { resolvedDependencies: object[] } };
  for (let i = 0; i < 9; i++) {
    predicate.buildDefinition.resolvedDependencies.push({ uri: `s3://acme-data/shard-${i}`, digest: { sha256: (i.toString(16) + 'a').repeat(32).slice(0, 64) }, annotations: { 'modelgate.dev/kind': 'other' } });
  }
  return {
    ...base,
    signatures: [...base.signatures!, { signer: { method: 'key', keyId: RELEASE_KEY_ID }, subjectDigest: MODEL_DIGEST }],
    attestations: [
      { ...base.attestations![0]!, predicate },
      { signer: base.signatures![0]!.signer, subjectDigest: MODEL_DIGEST, predicateType: EVALUATION_PREDICATE_V1, predicate: { metrics: { accuracy: 0.93, toxicity: 0.01 } } },
    ],
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function wallMs(file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    execFile(file, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err) => {
      if (err) reject(err);
      else resolve(Number(process.hrtime.bigint() - start) / 1e6);
    });
  });
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const data = goodData(ENTRIES);
data.modelgate_config.evaluation = { required: true, thresholds: { accuracy: { min: 0.9 }, toxicity: { max: 0.1 } } };
const input = buildPolicyInput(realisticEvidence());
const inputBytes = Buffer.byteLength(JSON.stringify(input));

const engine = await PolicyEngine.load(BUNDLE, { data });
const first = engine.evaluate(input);
if (!first.allow) throw new Error(`benchmark input should be allowed, got ${JSON.stringify(first.reasons)}`);

for (let i = 0; i < WARMUP; i++) engine.evaluate(input);
const samples = new Float64Array(ITERATIONS);
const started = process.hrtime.bigint();
for (let i = 0; i < ITERATIONS; i++) {
  const t0 = process.hrtime.bigint();
  engine.evaluate(input);
  samples[i] = Number(process.hrtime.bigint() - t0) / 1e3;
}
const totalS = Number(process.hrtime.bigint() - started) / 1e9;
samples.sort();
const wasm = { perSec: ITERATIONS / totalS, p50: percentile(samples, 50), p99: percentile(samples, 99) };

// The same policy, data and input through OPA's Go evaluator.
const opa = await locateOpa();
const work = await mkdtemp(join(tmpdir(), 'modelgate-bench-'));
try {
  const dataFile = join(work, 'data.json');
  const inputFile = join(work, 'input.json');
  await writeFile(dataFile, JSON.stringify(data));
  await writeFile(inputFile, JSON.stringify(input));
  const policyFile = join(ROOT, 'policies', 'modelgate.rego');
  const common = ['-d', policyFile, '-d', dataFile, '-i', inputFile, 'data.modelgate.decision'];
  const check = await runOpa(opa, ['eval', '-f', 'raw', ...common]);
  if ((JSON.parse(check.stdout) as { allow?: boolean }).allow !== true) throw new Error(`opa eval disagrees with the WASM engine: ${check.stdout}`);
  const bench = await runOpa(opa, ['bench', '--format', 'json', '--benchmem=false', ...common], { timeoutMs: 300_000 });
  const result = JSON.parse(bench.stdout) as { N: number; T: number };
  const goUs = result.T / result.N / 1e3;
  const evalRuns: number[] = [];
  for (let i = 0; i < OPA_EVAL_RUNS; i++) evalRuns.push(await wallMs(opa.path, ['eval', '-f', 'raw', ...common]));
  const evalMs = median(evalRuns);

  const f = (n: number, d = 1): string => n.toFixed(d);
  process.stdout.write(
    [
      `policy bench: input ${inputBytes} B, ${ENTRIES} entries per allowlist, ${ITERATIONS} evaluations (after ${WARMUP} warm-up); load average ${loadavg()[0]!.toFixed(1)}`,
      `  WASM engine (opa-wasm, in-process)  ${f(wasm.perSec, 0)} evals/s   p50 ${f(wasm.p50)} µs   p99 ${f(wasm.p99)} µs`,
      `  opa bench (Go evaluator, compiled)  ${f(1e6 / goUs, 0)} evals/s   mean ${f(goUs)} µs/eval (N=${result.N})`,
      `  opa eval one-shot (CLI per decision) median ${f(evalMs)} ms wall over ${OPA_EVAL_RUNS} runs`,
      `  ratio: WASM mean vs opa bench mean     ${f(goUs / (1e6 / wasm.perSec), 2)}x faster (same statistic on both sides)`,
      `  ratio: WASM p50 vs opa bench mean      ${f(goUs / wasm.p50, 2)}x faster`,
      `  ratio: WASM p50 vs opa eval one-shot   ${f((evalMs * 1e3) / wasm.p50, 0)}x faster`,
    ].join('\n') + '\n',
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
