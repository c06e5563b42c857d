/**
 * The options of the commands that run the verification pipeline once on one reference (`verify`,
 * `explain`), and building the pipeline's dependencies from them.
 *
 * Owns: the option declarations `--policy`, `--data`, `--key`, `--certificate-identity`,
 * `--certificate-oidc-issuer`, `--key-tlog-threshold`, `--timeout` (plus the shared trust and store
 * options), and `loadPipelineDeps`: keys, keyless identities, the policy engine, trust material (a
 * Sigstore root only when something needs one: keys alone verify without a transparency log) and
 * registry credentials. Heavy modules are imported when a command runs, not when it registers.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { PipelineDeps } from '../pipeline/decide.ts';
import { DEFAULT_BUNDLE_DIR } from '../policy/bundle.ts';
import { collect, integer, pairIdentities, readText } from './option-values.ts';
import { addStoreOptions, type StoreCliOptions } from './store-options.ts';
import { addTrustOptions, resolveTrust, type TrustCliOptions } from './trust-options.ts';

export interface PipelineCliOptions extends StoreCliOptions, TrustCliOptions {
  readonly policy: string;
  readonly data?: string;
  readonly key: readonly string[];
  readonly certificateIdentity: readonly string[];
  readonly certificateOidcIssuer: readonly string[];
  readonly keyTlogThreshold: string;
  readonly timeout: string;
}

/** Add the pipeline options (policy, signers, trust, registry access) to a command. */
export function addPipelineOptions(command: Command): Command {
  command
    .option('--policy <dir>', 'policy bundle directory, manifest.json or tar archive', DEFAULT_BUNDLE_DIR)
    .option('--data <file>', 'policy data JSON replacing the bundle data.json (trusted signers, builders, sources, datasets, revocations)')
    .option('--key <file>', 'PEM public key whose signatures are checked (repeatable)', collect, [])
    .option('--certificate-identity <san>', 'exact certificate SAN of a keyless signer whose signatures are checked (repeatable)', collect, [])
    .option('--certificate-oidc-issuer <url>', 'exact OIDC issuer of the keyless signer(s) (one for all, or one per identity)', collect, [])
    .option('--key-tlog-threshold <n>', 'verified Rekor entries required of key-signed evidence (needs a trust root when above 0)', '0')
    .option('--timeout <ms>', 'deadline of each registry call', '30000');
  return addStoreOptions(addTrustOptions(command));
}

/** The pipeline dependencies the options describe (policy engine loaded, trust resolved, credentials read). */
export async function loadPipelineDeps(options: PipelineCliOptions): Promise<PipelineDeps> {
  const [{ parsePublicKey }, { PolicyEngine }, { KEYS_ONLY_TRUST, storeProvider }, { defaultDockerConfigPath, loadDockerConfig }] = await Promise.all([
    import('../sigstore/keys.ts'),
    import('../policy/engine.ts'),
    import('../pipeline/deps.ts'),
    import('../oci/credentials.ts'),
  ]);
  const keys = await Promise.all(options.key.map(async (path) => parsePublicKey(await readText(path, 'public key'))));
  const identities = pairIdentities(options.certificateIdentity, options.certificateOidcIssuer);
  const timeoutMs = integer(options.timeout, '--timeout', 1);
  const keyTlogThreshold = integer(options.keyTlogThreshold, '--key-tlog-threshold', 0);
  let data: unknown;
  if (options.data !== undefined) {
    const text = await readText(options.data, 'policy data');
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UsageError('USAGE', `policy data ${options.data} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const engine = await PolicyEngine.load(options.policy, data === undefined ? {} : { data });
  const needsRoot =
    options.trustedRoot !== undefined || identities.length > 0 || keyTlogThreshold > 0 || options.staging === true || options.tufMirror !== undefined || options.tufRoot !== undefined;
  const trust = needsRoot ? await resolveTrust(options) : KEYS_ONLY_TRUST;
  if (options.dockerConfig !== undefined && !existsSync(options.dockerConfig)) {
    throw new UsageError('CONFIG', `docker config ${options.dockerConfig} does not exist`);
  }
  const credentials = await loadDockerConfig(options.dockerConfig ?? defaultDockerConfigPath());
  const stores = storeProvider({ registry: { credentials, plainHttpRegistries: options.plainHttp ?? [], timeoutMs } });
  return { stores, trust, signers: { keys, identities }, engine, timeoutMs, keyTlogThreshold };
}
