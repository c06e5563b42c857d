/**
 * Registry credentials of one admission review from Kubernetes pull secrets (`--k8s-pull-secrets`).
 *
 * Owns: `KubePullSecrets` — for the object under review, the service account it runs as
 * (`spec.predictor.serviceAccountName`, default `default`) and its `imagePullSecrets`, plus the
 * object's own `spec.predictor.imagePullSecrets`; those Secrets are read in the review's namespace
 * only (type `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`, parsed by
 * `oci/credentials.ts`), cached with a TTL (lru-cache, one read in flight per key), and chained in
 * front of the mounted Docker config. Each distinct set of secrets gets its own store provider
 * (registry tokens are per credentials) and a credentials *scope* — namespace, secret names and
 * resourceVersions, never their content — that the reviewer puts into its cache keys, so a decision
 * made with one namespace's credentials is never reused for another's.
 * Secrets that do not exist or have another type are skipped (as the kubelet does) and reported;
 * a failed read (403, timeout, API down) throws its coded K8sError and the reviewer denies the
 * review's OCI locations with that code (fail closed). Secret values are never logged: the parsed
 * credentials hold them as `Secret`s.
 */
import { LRUCache } from 'lru-cache';
import type { StoreProvider } from '../pipeline/decide.ts';
import { chainCredentials, parseDockerConfig, type CredentialSource, type DockerConfigCredentials } from '../oci/credentials.ts';
import type { KubeClient } from './client.ts';
import { isRecord } from '../evidence/json.ts';

export interface ReviewCredentials {
  /** Part of every cache key of the review's decisions. */
  readonly scope: string;
  readonly stores: StoreProvider;
}

export interface KubePullSecretsOptions {
  readonly client: Pick<KubeClient, 'readServiceAccount' | 'readSecret'>;
  /** The mounted Docker config (asked after the pull secrets) and its scope and store provider. */
  readonly base: { readonly credentials: CredentialSource; readonly scope: string; readonly stores: StoreProvider };
  /** A store provider over the given credentials (same registry options as the base one). */
  readonly makeStores: (credentials: CredentialSource) => StoreProvider;
  /** How long service accounts and secrets are reused (default 30 s). */
  readonly ttlMs?: number;
  /** Entries kept per cache (default 1000). */
  readonly max?: number;
  readonly onProblem?: (problem: { namespace: string; code: string; message: string }) => void;
}

interface ParsedSecret {
  readonly version: string;
  readonly credentials: DockerConfigCredentials | undefined;
}

const PULL_SECRET_TYPES: Readonly<Record<string, string>> = {
  'kubernetes.io/dockerconfigjson': '.dockerconfigjson',
  'kubernetes.io/dockercfg': '.dockercfg',
};

/** Names listed in an `imagePullSecrets` array (malformed entries ignored). */
function secretNames(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry) => (isRecord(entry) && typeof entry['name'] === 'string' && entry['name'] !== '' ? [entry['name']] : []));
}

/** `spec.predictor` of the reviewed object, if any. */
function predictorOf(object: unknown): Record<string, unknown> | undefined {
  const spec = isRecord(object) ? object['spec'] : undefined;
  const predictor = isRecord(spec) ? spec['predictor'] : undefined;
  return isRecord(predictor) ? predictor : undefined;
}

const namespacedKey = (namespace: string, name: string): string => JSON.stringify([namespace, name]);

/** An LRU with TTL whose values are read by `read(namespace, name)`, one read in flight per key. */
function namespacedCache<V extends {}>(max: number, ttl: number, read: (namespace: string, name: string) => Promise<V>): LRUCache<string, V> {
  return new LRUCache<string, V>({
    max,
    ttl,
    fetchMethod: async (key) => {
      const [namespace, name] = JSON.parse(key) as [string, string];
      return read(namespace, name);
    },
  });
}

export class KubePullSecrets {
  readonly #options: KubePullSecretsOptions;
  readonly #accounts: LRUCache<string, { names: string[] }>;
  readonly #secrets: LRUCache<string, ParsedSecret>;
  readonly #stores: LRUCache<string, StoreProvider>;

  constructor(options: KubePullSecretsOptions) {
    this.#options = options;
    const { client, onProblem } = options;
    const ttl = options.ttlMs ?? 30_000;
    const max = options.max ?? 1000;
    this.#accounts = namespacedCache(max, ttl, async (namespace, name) => {
      const account = await client.readServiceAccount(namespace, name);
      return { names: secretNames(account?.imagePullSecrets) };
    });
    this.#secrets = namespacedCache(max, ttl, async (namespace, name): Promise<ParsedSecret> => {
      const secret = await client.readSecret(namespace, name);
      const field = secret?.type === undefined ? undefined : PULL_SECRET_TYPES[secret.type];
      const value = field === undefined ? undefined : secret?.data?.[field];
      if (secret === undefined || value === undefined) {
        onProblem?.({ namespace, code: 'PULL_SECRET_SKIPPED', message: secret === undefined ? `pull secret ${namespace}/${name} does not exist` : `pull secret ${namespace}/${name} is of type ${secret.type ?? '(none)'} without its docker config: skipped` });
        return { version: secret === undefined ? 'missing' : `skipped@${secret.metadata?.resourceVersion ?? ''}`, credentials: undefined };
      }
      try {
        return { version: secret.metadata?.resourceVersion ?? '', credentials: parseDockerConfig(Buffer.from(value, 'base64'), `secret ${namespace}/${name}`) };
      } catch (err) {
        // The parser's messages never quote the secret's content.
        onProblem?.({ namespace, code: 'PULL_SECRET_SKIPPED', message: (err as Error).message });
        return { version: `invalid@${secret.metadata?.resourceVersion ?? ''}`, credentials: undefined };
      }
    });
    this.#stores = new LRUCache({ max: Math.min(max, 256) });
  }

  /** The credentials and store provider for a review of `object` in `namespace`. Throws coded K8sErrors. */
  async forReview(namespace: string, object: unknown): Promise<ReviewCredentials> {
    const { base } = this.#options;
    if (namespace === '') return base;
    const predictor = predictorOf(object);
    const accountName = typeof predictor?.['serviceAccountName'] === 'string' && predictor['serviceAccountName'] !== '' ? predictor['serviceAccountName'] : 'default';
    const account = await this.#accounts.fetch(namespacedKey(namespace, accountName));
    const names = [...new Set([...secretNames(predictor?.['imagePullSecrets']), ...(account?.names ?? [])])];
    if (names.length === 0) return base;
    const secrets = await Promise.all(names.map(async (name) => ({ name, parsed: await this.#secrets.fetch(namespacedKey(namespace, name)) })));
    const usable = secrets.filter((s) => s.parsed?.credentials !== undefined);
    if (usable.length === 0) return base;
    const scope = JSON.stringify([base.scope, 'k8s', namespace, ...usable.map((s) => `${s.name}@${s.parsed!.version}`)]);
    let stores = this.#stores.get(scope);
    if (stores === undefined) {
      stores = this.#options.makeStores(chainCredentials(...usable.map((s) => s.parsed!.credentials!), base.credentials));
      this.#stores.set(scope, stores);
    }
    return { scope, stores };
  }
}
