/**
 * Loading the pipeline from its settings: the one place keys, policy data, the policy bundle, trust
 * material and registry credentials are read. verify, explain, webhook and init call
 * `loadPipeline`; the other verify commands call `loadTrust` / `loadCredentials`.
 *
 * Owns: `loadPipeline` (settings → `PipelineDeps` plus `AppliedConfiguration`, what was applied and
 * from where, for output and logs), `loadPolicyConfiguration` (bundle, data and key files through the
 * `ConfigReloader` of `reload.ts`, the one reader of those files), `loadInlineKeys`, `inlinePolicyData`,
 * `loadTrust`, `loadCredentials`, and
 * the rule that `--key`/`--certificate-identity` without policy data trusts exactly those signers
 * (cosign's meaning: data derived from the bundle's, signers replaced, provenance not required).
 * File read failures are CONFIG errors naming the file; bad inline values name their variable.
 */
import type { KeyObject } from 'node:crypto';
import { UsageError } from '../errors.ts';
import type { CredentialSource } from '../oci/credentials.ts';
import type { PipelineDeps, StoreProvider } from '../pipeline/decide.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import type { DataSource, DockerConfigSource, KeySource, PipelineSettings, TrustSource } from './read.ts';
import type { ConfigReloader, ConfigReloaderOptions } from './reload.ts';
import { isRecord } from '../evidence/json.ts';

const PEM_PUBLIC_KEYS = /-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|EC PUBLIC KEY)-----[\s\S]*?-----END \1-----/g;

/** What was applied, and from where (printed by verify/explain, logged by webhook and init). */
export interface AppliedConfiguration {
  /** e.g. `file /etc/modelgate/policy-data/data.json`, `MODELGATE_POLICY_DATA_JSON`, `bundle data.json`, `derived from --key`. */
  readonly data: string;
  readonly dataDigest: string;
  readonly bundleDigest: string;
  /** `sha256:<hex>` ids of the keys whose signatures are checked. */
  readonly keys: readonly string[];
  readonly identities: readonly { readonly san: string; readonly issuer: string }[];
  readonly trust: string;
}

export interface LoadedPipeline {
  readonly deps: PipelineDeps;
  readonly applied: AppliedConfiguration;
}

/** The public keys given inline (`MODELGATE_KEYS_PEM`: several concatenated PEM blocks); key files are read by `reload.ts`. */
export async function loadInlineKeys(sources: readonly KeySource[]): Promise<KeyObject[]> {
  const { parsePublicKey } = await import('../sigstore/keys.ts');
  const keys: KeyObject[] = [];
  for (const source of sources) {
    if (source.kind !== 'inline') continue;
    const blocks = source.pem.match(PEM_PUBLIC_KEYS) ?? [];
    if (blocks.length === 0) throw new UsageError('CONFIG', `${source.origin} holds no "-----BEGIN PUBLIC KEY-----" PEM block`);
    for (const [i, block] of blocks.entries()) {
      try {
        keys.push(parsePublicKey(block));
      } catch (err) {
        throw new UsageError('CONFIG', `${source.origin}: PEM block ${i + 1}: ${(err as Error).message}`);
      }
    }
  }
  return keys;
}

/** Public keys named by reference (`k8s://NAMESPACE/SECRET`: its `cosign.pub`; KMS: KMS_UNAVAILABLE). */
export async function loadReferencedKeys(sources: readonly KeySource[]): Promise<KeyObject[]> {
  const references = sources.filter((s) => s.kind === 'reference');
  if (references.length === 0) return [];
  const [{ readPublicKeyReference }, { parsePublicKey }] = await Promise.all([import('../sign/key-reference.ts'), import('../sigstore/keys.ts')]);
  return Promise.all(
    references.map(async (source) => {
      const pem = await readPublicKeyReference(source.uri, () => Promise.reject(new UsageError('CONFIG', `${source.uri} is not a key reference`)));
      try {
        return parsePublicKey(pem);
      } catch (err) {
        throw new UsageError('CONFIG', `public key ${source.uri}: ${(err as Error).message}`);
      }
    }),
  );
}

/** Policy data given inline (`MODELGATE_POLICY_DATA_JSON`); a data file is read by `reload.ts`. */
export function inlinePolicyData(source: DataSource): unknown {
  if (source.kind !== 'inline') return undefined;
  try {
    return JSON.parse(source.text);
  } catch (err) {
    throw new UsageError('CONFIG', `policy data in ${source.origin} is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Policy data trusting exactly the given signers (cosign's `--key` meaning): the bundle's data with
 * `signers` replaced and provenance not required. Undefined when the bundle's data is not the
 * modelgate shape (a custom policy keeps its own data).
 */
export function dataTrustingSigners(bundleData: unknown, keyIds: readonly string[], identities: readonly { san: string; issuer: string }[]): unknown {
  if (!isRecord(bundleData) || !isRecord(bundleData.modelgate_config) || !isRecord(bundleData.modelgate_config.signers)) return undefined;
  const config = bundleData.modelgate_config;
  const signers = config.signers as Record<string, unknown>;
  const byIssuer: Record<string, Record<string, object>> = {};
  for (const { san, issuer } of identities) (byIssuer[issuer] ??= {})[san] = {};
  const provenance = isRecord(config.provenance) ? { ...config.provenance, required: false } : { required: false, builders: {}, buildTypes: {} };
  return {
    ...bundleData,
    modelgate_config: {
      ...config,
      signers: { ...signers, threshold: 1, keys: Object.fromEntries(keyIds.map((id) => [id, {}])), identities: byIssuer },
      provenance,
    },
  };
}

/** Trust material of a source (`none`: keys only, nothing read or fetched); `offline`: a TUF root only from the local cache (cosign `--offline`). */
export async function loadTrust(source: TrustSource, options: { readonly offline?: boolean } = {}): Promise<TrustMaterial> {
  switch (source.kind) {
    case 'none':
      return (await import('../pipeline/deps.ts')).KEYS_ONLY_TRUST;
    case 'file':
      return (await import('../sigstore/trust.ts')).loadTrustedRootFile(source.path);
    case 'inline':
      return (await import('../sigstore/trust.ts')).trustFromBytes(Buffer.from(source.text, 'utf8'), source.origin);
    case 'tuf': {
      const { loadTrustedRootTuf } = await import('../sigstore/trust.ts');
      return loadTrustedRootTuf({
        mirrorURL: source.mirrorURL,
        cachePath: source.cachePath,
        timeoutMs: source.timeoutMs,
        ...(source.rootPath !== undefined ? { rootPath: source.rootPath } : {}),
        ...(options.offline === true ? { forceCache: true } : {}),
      });
    }
  }
}

/** Registry credentials of a source; a missing default file means none, a missing named file is CONFIG. */
export async function loadCredentials(source: DockerConfigSource): Promise<CredentialSource & { readonly origin: string }> {
  const { loadDockerConfig, parseDockerConfig } = await import('../oci/credentials.ts');
  if (source.kind === 'inline') return Object.assign(parseDockerConfig(source.text, source.origin), { origin: source.origin });
  if (source.kind === 'file') {
    const { existsSync } = await import('node:fs');
    if (!existsSync(source.path)) throw new UsageError('CONFIG', `docker config ${source.path} does not exist`);
  }
  return Object.assign(await loadDockerConfig(source.path), { origin: source.path });
}

function describeData(source: DataSource): string {
  switch (source.kind) {
    case 'bundle':
      return 'the policy bundle data.json';
    case 'file':
      return `file ${source.path}`;
    case 'inline':
      return source.origin;
  }
}

function derivedFrom(keys: readonly unknown[], identities: readonly unknown[]): string {
  const flags = [keys.length > 0 ? '--key' : '', identities.length > 0 ? '--certificate-identity' : ''].filter((f) => f !== '').join(' and ');
  return `derived from ${flags}: those signers are trusted, provenance not required (give --data to require more)`;
}

/**
 * The registry stores the settings describe (their credentials read once); `init` builds them early
 * to ask for its manifests while the rest of the pipeline loads, and hands them to `loadPipeline`.
 */
export async function storesOf(settings: PipelineSettings): Promise<StoreProvider> {
  const [{ storeProvider }, credentials] = await Promise.all([import('../pipeline/deps.ts'), loadCredentials(settings.registry.dockerConfig)]);
  return storeProvider({ registry: { credentials, plainHttpRegistries: settings.registry.plainHttp, timeoutMs: settings.registry.timeoutMs } });
}

/** Keys, policy engine, trust material and registry access, loaded once from the settings. */
export async function loadPipeline(settings: PipelineSettings, prepared: { readonly stores?: StoreProvider } = {}): Promise<LoadedPipeline> {
  const { keyId } = await import('../sigstore/keys.ts');
  const [{ reloader, data }, trust, stores] = await Promise.all([loadPolicyConfiguration(settings), loadTrust(settings.trust), prepared.stores ?? storesOf(settings)]);
  const { engine, keys } = reloader.current;
  return {
    deps: { stores, trust, signers: { keys, identities: settings.identities, identityPatterns: settings.identityPatterns }, engine, timeoutMs: settings.registry.timeoutMs, keyTlogThreshold: settings.keyTlogThreshold },
    applied: {
      data,
      dataDigest: engine.dataDigest,
      bundleDigest: engine.bundleDigest,
      keys: keys.map((k) => `sha256:${keyId(k)}`),
      identities: settings.identities,
      trust: trust.source,
    },
  };
}

/**
 * The policy configuration (bundle, data, signer keys) the settings name, read once by a
 * `ConfigReloader`: the one place key and data files are read. verify and init use its snapshot;
 * the webhook also `start`s it, so data and key files are watched (kubelet's ConfigMap updates).
 * Without data, `--key`/`--certificate-identity` signers are the trusted ones (`dataTrustingSigners`).
 * Inline keys and data (environment) are fixed for the process.
 */
export async function loadPolicyConfiguration(settings: PipelineSettings, options: ConfigReloaderOptions = {}): Promise<{ reloader: ConfigReloader; data: string }> {
  const [{ ConfigReloader }, { keyId }] = await Promise.all([import('./reload.ts'), import('../sigstore/keys.ts')]);
  // Inline keys and keys held elsewhere (k8s://) are read once; key files are read (and watched) by the reloader.
  const inlineKeys = [...(await loadInlineKeys(settings.keys)), ...(await loadReferencedKeys(settings.keys))];
  const inlineData = inlinePolicyData(settings.data);
  const signers = settings.keys.length + settings.identities.length > 0;
  const reloader = await ConfigReloader.load(
    {
      bundle: settings.policy,
      data: settings.data.kind === 'file' ? settings.data.path : undefined,
      keys: settings.keys.flatMap((k) => (k.kind === 'file' ? [k.path] : [])),
      inlineKeys,
      ...(inlineData !== undefined ? { inlineData } : {}),
      ...(signers ? { dataWithoutFile: (bundleData: unknown, keys: readonly KeyObject[]) => dataTrustingSigners(bundleData, keys.map((k) => `sha256:${keyId(k)}`), settings.identities) } : {}),
    },
    options,
  );
  return { reloader, data: settings.data.kind === 'bundle' && signers ? derivedFrom(settings.keys, settings.identities) : describeData(settings.data) };
}
