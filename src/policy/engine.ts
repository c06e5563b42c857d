/**
 * The policy engine: one loaded WASM policy, evaluated many times, hot-reloaded safely.
 *
 * Owns: the `Decision` type and `PolicyEngine`. Loading verifies the bundle (manifest digests), sets
 * the data once, and runs a self-test (by default: an unsigned, tag-only artifact must be denied) before
 * the policy can serve. `reload` builds the new policy completely and swaps it in only after
 * its self-test passes; until then, and if it fails, the old policy keeps answering. `withData` builds a
 * separate engine on the same bundle with other data (a data reload), leaving this one untouched. Every decision
 * carries the bundle and data digests so callers can key caches and audit logs by them.
 * Evaluation results are checked strictly; anything unexpected is a POLICY_EVAL error, never an allow.
 * Keyless identity patterns in the data are compiled once per load and marked into each input
 * (identity-patterns.ts); a refused pattern fails the load with DATA_INVALID.
 */
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { digestOf, type Digest } from '../oci/digest.ts';
import type { ArtifactStore, CallOptions } from '../oci/store.ts';
import { loadBundle, loadBundleFromStore, type PolicyBundle } from './bundle.ts';
import { PolicyError } from './errors.ts';
import { compileDataIdentityPatterns, markIdentityPatterns, type DataIdentityPatterns } from './identity-patterns.ts';
import { buildPolicyInput, type PolicyInput, type PolicyInputEvidence } from './input.ts';
import { validatePolicyData, validatePolicyInput } from './schema.ts';
import { isRecord } from '../evidence/json.ts';

export interface Reason {
  readonly code: string;
  readonly message: string;
}

export interface AppliedException {
  readonly id: string;
  readonly approvedBy: string;
  readonly reason: string;
  readonly expires: string;
  readonly waived: readonly string[];
}

interface DecisionCommon {
  readonly warnings: readonly Reason[];
  /** Exceptions that waived at least one deny for this input (auditable). */
  readonly exceptions: readonly AppliedException[];
  /** The policy's own version string (e.g. modelgate.dev/default-policy/v1). */
  readonly policy: string;
  readonly bundleDigest: Digest;
  readonly dataDigest: Digest;
}

export type Decision =
  | (DecisionCommon & { readonly allow: true; readonly reasons: readonly [] })
  | (DecisionCommon & { readonly allow: false; readonly reasons: readonly [Reason, ...Reason[]] });

export interface SelfTestCase {
  readonly name: string;
  readonly input: unknown;
  readonly expect: { readonly allow: boolean; /** every code listed must be among the deny codes */ readonly codes?: readonly string[] };
}

export interface EngineOptions {
  /** Replace the bundle's data.json (e.g. cluster allowlists). Default: the bundle's data. */
  readonly data?: unknown;
  /** Validate data against data.v1.schema.json (default true; set false for custom policies). */
  readonly validateData?: boolean;
  /** Validate every input against input.v1.schema.json before evaluating (default false: inputs from buildPolicyInput are typed). */
  readonly validateInput?: boolean;
  /** Decisions a policy must give before it may serve. Default: DEFAULT_SELF_TEST. */
  readonly selfTest?: readonly SelfTestCase[];
}

/** An unsigned OCI artifact referenced by tag: any sane policy denies it. */
export const DEFAULT_SELF_TEST: readonly SelfTestCase[] = [
  {
    name: 'unsigned tag-only artifact is denied',
    input: buildPolicyInput({
      artifact: { uri: 'oci://selftest.invalid/modelgate/selftest:latest' },
      context: { mode: 'cli', time: new Date(0) },
    }),
    expect: { allow: false },
  },
];

interface Loaded {
  readonly policy: LoadedPolicy;
  readonly entrypoint: string;
  readonly bundle: PolicyBundle;
  readonly dataDigest: Digest;
  /** `signers.identityPatterns` compiled once with the data (marked into each input, not run in Rego). */
  readonly identityPatterns: DataIdentityPatterns | undefined;
}

type Json = Record<string, unknown>;

function evalError(why: string): never {
  throw new PolicyError('POLICY_EVAL', `policy returned a malformed decision: ${why}`);
}

function parseReasons(value: unknown, field: string): Reason[] {
  if (!Array.isArray(value)) evalError(`${field} is not a list`);
  return value.map((r) => {
    if (!isRecord(r) || typeof r.code !== 'string' || typeof r.message !== 'string') evalError(`${field} entries need string code and message`);
    return { code: r.code, message: r.message };
  });
}

function toDecision(raw: unknown, loaded: Loaded): Decision {
  if (!Array.isArray(raw) || raw.length !== 1 || !isRecord(raw[0])) evalError('expected exactly one result (is the decision rule defined?)');
  const result = raw[0].result;
  if (!isRecord(result)) evalError('result is not an object');
  if (typeof result.allow !== 'boolean') evalError('allow is not a boolean');
  const reasons = parseReasons(result.deny, 'deny');
  const warnings = result.warnings === undefined ? [] : parseReasons(result.warnings, 'warnings');
  const exceptions = (result.exceptions ?? []) as unknown;
  if (!Array.isArray(exceptions)) evalError('exceptions is not a list');
  const common = {
    warnings,
    exceptions: exceptions as AppliedException[],
    policy: typeof result.policy === 'string' ? result.policy : 'unknown',
    bundleDigest: loaded.bundle.digest,
    dataDigest: loaded.dataDigest,
  };
  // Fail closed: allow only when the policy says allow AND gives no deny reason.
  if (result.allow && reasons.length === 0) return { ...common, allow: true, reasons: [] };
  if (reasons.length === 0) evalError('allow is false but no deny reason was given');
  return { ...common, allow: false, reasons: reasons as [Reason, ...Reason[]] };
}

async function instantiate(bundle: PolicyBundle, options: EngineOptions): Promise<Loaded> {
  const data = options.data === undefined ? bundle.data : options.data;
  if (options.validateData !== false) validatePolicyData(data);
  const identityPatterns = compileDataIdentityPatterns(data);
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicy(bundle.wasm, { initial: 32, maximum: 2048 });
  } catch (err) {
    throw new PolicyError('POLICY_LOAD', `policy bundle ${bundle.source}: wasm cannot be loaded: ${describe(err)}`, { cause: err });
  }
  const entrypoint = bundle.manifest.entrypoint;
  if (!(entrypoint in (policy.entrypoints as Record<string, number>))) {
    throw new PolicyError('POLICY_LOAD', `policy bundle ${bundle.source}: wasm has no entrypoint ${entrypoint}`);
  }
  const dataBytes = Buffer.from(JSON.stringify(data));
  try {
    policy.setData(data as object);
  } catch (err) {
    throw new PolicyError('POLICY_LOAD', `policy bundle ${bundle.source}: setData failed: ${describe(err)}`, { cause: err });
  }
  return { policy, entrypoint, bundle, dataDigest: digestOf(dataBytes), identityPatterns };
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (isRecord(err) && typeof err.message === 'string') return err.message; // opa-wasm throws plain objects
  return String(err);
}

function evaluateWith(loaded: Loaded, input: unknown): Decision {
  let raw: unknown;
  try {
    raw = loaded.policy.evaluate(markIdentityPatterns(input, loaded.identityPatterns), loaded.entrypoint);
  } catch (err) {
    throw new PolicyError('POLICY_EVAL', `policy evaluation failed: ${describe(err)}`, { cause: err });
  }
  return toDecision(raw, loaded);
}

function runSelfTest(loaded: Loaded, cases: readonly SelfTestCase[]): void {
  for (const test of cases) {
    let decision: Decision;
    try {
      decision = evaluateWith(loaded, test.input);
    } catch (err) {
      throw new PolicyError('SELF_TEST_FAILED', `policy bundle ${loaded.bundle.source}: self-test "${test.name}" failed: ${describe(err)}`, { cause: err });
    }
    const codes = new Set(decision.reasons.map((r) => r.code));
    const missing = (test.expect.codes ?? []).filter((c) => !codes.has(c));
    if (decision.allow !== test.expect.allow || missing.length > 0) {
      throw new PolicyError(
        'SELF_TEST_FAILED',
        `policy bundle ${loaded.bundle.source}: self-test "${test.name}" expected ${test.expect.allow ? 'allow' : 'deny'}` +
          `${missing.length > 0 ? ` with ${missing.join(', ')}` : ''}, got ${decision.allow ? 'allow' : `deny (${[...codes].join(', ')})`}`,
      );
    }
  }
}

export class PolicyEngine {
  #loaded: Loaded;
  readonly #options: EngineOptions;

  private constructor(loaded: Loaded, options: EngineOptions) {
    this.#loaded = loaded;
    this.#options = options;
  }

  /** Instantiate a verified bundle, set its data and run the self-test. */
  static async fromBundle(bundle: PolicyBundle, options: EngineOptions = {}): Promise<PolicyEngine> {
    const loaded = await instantiate(bundle, options);
    runSelfTest(loaded, options.selfTest ?? DEFAULT_SELF_TEST);
    return new PolicyEngine(loaded, options);
  }

  /** Load a bundle (directory, manifest.json or tar archive) and start an engine on it. */
  static async load(path: string, options: EngineOptions = {}): Promise<PolicyEngine> {
    return PolicyEngine.fromBundle(await loadBundle(path), options);
  }

  /** Load a bundle pushed as an OCI artifact (by manifest digest) and start an engine on it. */
  static async fromStore(store: ArtifactStore, digest: Digest, options: EngineOptions & CallOptions = {}): Promise<PolicyEngine> {
    return PolicyEngine.fromBundle(await loadBundleFromStore(store, digest, options), options);
  }

  /** sha256 of the bundle manifest (pins policy.wasm and data.json). */
  get bundleDigest(): Digest {
    return this.#loaded.bundle.digest;
  }

  /** sha256 of the data document actually set (differs from the bundle's when `data` was given). */
  get dataDigest(): Digest {
    return this.#loaded.dataDigest;
  }

  get bundle(): PolicyBundle {
    return this.#loaded.bundle;
  }

  /** The data document in effect (the `data` option, else the bundle's data.json); read-only. */
  get data(): unknown {
    return this.#options.data === undefined ? this.#loaded.bundle.data : this.#options.data;
  }

  /** Build the input from verified evidence (buildPolicyInput) and evaluate it: what `verify`, admission and init call. */
  decide(evidence: PolicyInputEvidence): Decision {
    return this.evaluate(buildPolicyInput(evidence));
  }

  /** Evaluate one input. Synchronous; ≈ tens of µs for the default policy. */
  evaluate(input: PolicyInput | unknown): Decision {
    if (this.#options.validateInput === true) validatePolicyInput(input);
    return evaluateWith(this.#loaded, input);
  }

  /**
   * A new engine on the same bundle with `data` (undefined: the bundle's data.json) in place of the
   * current data, validated and self-tested like at load time. This engine is left as it is: callers
   * swap to the new one only once it exists (a refused data document throws DATA_INVALID or
   * SELF_TEST_FAILED and nothing changes).
   */
  async withData(data: unknown): Promise<PolicyEngine> {
    const { data: _current, ...options } = this.#options;
    return PolicyEngine.fromBundle(this.#loaded.bundle, data === undefined ? options : { ...options, data });
  }

  /**
   * Replace the policy with `next` (a bundle or a path) once it has loaded and passed the self-test.
   * Returns false when `next` has the same digest (nothing to do). On failure it throws and the
   * current policy stays in place.
   */
  async reload(next: PolicyBundle | string): Promise<boolean> {
    const bundle = typeof next === 'string' ? await loadBundle(next) : next;
    if (bundle.digest === this.#loaded.bundle.digest) return false;
    const loaded = await instantiate(bundle, this.#options);
    runSelfTest(loaded, this.#options.selfTest ?? DEFAULT_SELF_TEST);
    this.#loaded = loaded;
    return true;
  }
}
