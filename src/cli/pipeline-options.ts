/**
 * The options of the commands that run the verification pipeline once on one reference (`verify`,
 * `explain`), and building the pipeline's dependencies from them.
 *
 * Owns: the option declarations `--policy`, `--data`, `--key`, `--certificate-identity`,
 * `--certificate-oidc-issuer` (and their `-regexp` forms), `--key-tlog-threshold`, `--timeout` (plus the shared trust and store
 * options), and `loadPipelineDeps`: keys, keyless identities, the policy engine, trust material (a
 * Sigstore root only when something needs one: keys alone verify without a transparency log) and
 * registry credentials. Heavy modules are imported when a command runs, not when it registers.
 */
import { existsSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { PipelineDeps } from '../pipeline/decide.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { DEFAULT_BUNDLE_DIR } from '../policy/bundle.ts';
import { identityPatternsOf } from './identity-pattern-options.ts';
import { collect, integer, pairIdentities, readText } from './option-values.ts';
import { addStoreOptions, type StoreCliOptions } from './store-options.ts';
import { addTrustOptions, resolveTrust, type TrustCliOptions } from './trust-options.ts';

/** The policy and signer options every verifying command has (`verify`, `explain`, `webhook`, `init`). */
export interface PolicySignerCliOptions extends StoreCliOptions, TrustCliOptions {
  readonly policy: string;
  readonly data?: string;
  readonly key: readonly string[];
  readonly certificateIdentity: readonly string[];
  readonly certificateOidcIssuer: readonly string[];
  readonly certificateIdentityRegexp?: readonly string[];
  readonly certificateOidcIssuerRegexp?: readonly string[];
}

export interface PipelineCliOptions extends PolicySignerCliOptions {
  readonly keyTlogThreshold: string;
  readonly timeout: string;
}

/** Add the pipeline options (policy, signers, trust, registry access) to a command. */
export function addPipelineOptions(command: Command): Command {
  addPolicyOptions(command, 'policy bundle directory, manifest.json or tar archive');
  addSignerOptions(command);
  command
    .option('--key-tlog-threshold <n>', 'verified Rekor entries required of key-signed evidence (needs a trust root when above 0)', '0')
    .option('--timeout <ms>', 'deadline of each registry call', '30000');
  return addStoreOptions(addTrustOptions(command));
}

/** `--policy` and `--data` (the webhook says its bundle is watched; init takes defaults from the environment). */
export function addPolicyOptions(command: Command, policyHelp: string, defaults: { policy?: string; data?: string } = {}): Command {
  return command
    .option('--policy <dir>', policyHelp, defaults.policy ?? DEFAULT_BUNDLE_DIR)
    .option('--data <file>', 'policy data JSON replacing the bundle data.json (trusted signers, builders, sources, datasets, revocations)', defaults.data);
}

/** `--key`, `--certificate-identity`, `--certificate-oidc-issuer`: whose signatures are checked. */
export function addSignerOptions(command: Command, envNote = ''): Command {
  return command
    .option('--key <file>', `PEM public key (or k8s://NAMESPACE/SECRET: its cosign.pub) whose signatures are checked (repeatable${envNote})`, collect, [])
    .option('--certificate-identity <san>', `exact certificate SAN of a keyless signer whose signatures are checked (repeatable${envNote})`, collect, [])
    .option('--certificate-oidc-issuer <url>', `exact OIDC issuer of the keyless signer(s): one for all, or one per identity${envNote}`, collect, [])
    .option('--certificate-identity-regexp <re>', `anchored pattern (^…$) of certificate SANs whose signatures are checked (repeatable${envNote})`, collect, [])
    .option('--certificate-oidc-issuer-regexp <re>', `anchored pattern of the OIDC issuer(s) of --certificate-identity-regexp: one for all, or one per pattern${envNote}`, collect, []);
}

/** The public keys in PEM files or k8s Secrets (`code` names a bad file: USAGE for commands, CONFIG for init). */
export async function loadSignerKeys(paths: readonly string[], code: 'USAGE' | 'CONFIG' = 'USAGE'): Promise<KeyObject[]> {
  const { parsePublicKey } = await import('../sigstore/keys.ts');
  const { readPublicKeyReference } = await import('../sign/key-reference.ts');
  return Promise.all(paths.map(async (path) => parsePublicKey(await readPublicKeyReference(path, (file) => readText(file, 'public key', code)))));
}

/** The policy engine: the bundle, with `--data` replacing its data when given. */
export async function loadPolicyEngine(policy: string, dataPath: string | undefined, code: 'USAGE' | 'CONFIG' = 'USAGE'): Promise<PolicyEngine> {
  const { PolicyEngine } = await import('../policy/engine.ts');
  let data: unknown;
  if (dataPath !== undefined && dataPath !== '') {
    const text = await readText(dataPath, 'policy data', code);
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UsageError(code, `policy data ${dataPath} is not valid JSON: ${(err as Error).message}`);
    }
  }
  return PolicyEngine.load(policy, data === undefined ? {} : { data });
}

/** Whether a Sigstore trust root is needed: keys alone verify without a transparency log. */
export function needsSigstoreRoot(options: TrustCliOptions, identities: readonly unknown[], keyTlogThreshold: number): boolean {
  return (
    options.trustedRoot !== undefined ||
    identities.length > 0 ||
    keyTlogThreshold > 0 ||
    options.staging === true ||
    options.tufMirror !== undefined ||
    options.tufRoot !== undefined
  );
}

/** The pipeline dependencies the options describe (policy engine loaded, trust resolved, credentials read). */
export async function loadPipelineDeps(options: PipelineCliOptions): Promise<PipelineDeps> {
  const [{ KEYS_ONLY_TRUST, storeProvider }, { defaultDockerConfigPath, loadDockerConfig }] = await Promise.all([import('../pipeline/deps.ts'), import('../oci/credentials.ts')]);
  const identities = pairIdentities(options.certificateIdentity, options.certificateOidcIssuer);
  const identityPatterns = identityPatternsOf(options);
  const timeoutMs = integer(options.timeout, '--timeout', 1);
  const keyTlogThreshold = integer(options.keyTlogThreshold, '--key-tlog-threshold', 0);
  const [keys, engine] = await Promise.all([loadSignerKeys(options.key), loadPolicyEngine(options.policy, options.data)]);
  const trust = needsSigstoreRoot(options, [...identities, ...identityPatterns], keyTlogThreshold) ? await resolveTrust(options) : KEYS_ONLY_TRUST;
  if (options.dockerConfig !== undefined && !existsSync(options.dockerConfig)) {
    throw new UsageError('CONFIG', `docker config ${options.dockerConfig} does not exist`);
  }
  const credentials = await loadDockerConfig(options.dockerConfig ?? defaultDockerConfigPath());
  const stores = storeProvider({ registry: { credentials, plainHttpRegistries: options.plainHttp ?? [], timeoutMs } });
  return { stores, trust, signers: { keys, identities, identityPatterns }, engine, timeoutMs, keyTlogThreshold };
}
