/**
 * Registry credentials: where they come from and how they are kept out of logs.
 *
 * Owns: the `CredentialSource` interface (the webhook plugs Kubernetes pull secrets in through it),
 * `Secret` (a string that prints as `[REDACTED]` through toString, JSON and util.inspect), and parsing
 * of Docker `config.json`, Kubernetes `.dockerconfigjson` (same format) and legacy `.dockercfg`
 * (the `auths` map on its own). Host keys are matched with or without scheme and path, and the Docker
 * Hub aliases (`https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io`) count as
 * `docker.io`. Credential helpers (`credHelpers`, `credsStore`) are not run.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { UsageError } from '../errors.ts';
import { isRecord } from '../evidence/json.ts';

/** A secret string. Only `reveal()` gives the value; every other way of printing it shows `[REDACTED]`. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[REDACTED]';
  }
  toJSON(): string {
    return '[REDACTED]';
  }
  [inspect.custom](): string {
    return '[REDACTED]';
  }
}

export type RegistryCredential =
  /** Username and password (or a personal access token used as password). */
  | { readonly kind: 'basic'; readonly username: string; readonly password: Secret }
  /** An OAuth2 refresh token (`identitytoken` in Docker's config), exchanged at the token realm. */
  | { readonly kind: 'identity-token'; readonly username: string | undefined; readonly token: Secret };

export interface CredentialSource {
  /** Credentials for a registry host (`host[:port]`, lower case, `docker.io` for Docker Hub), if any. */
  credentialsFor(registry: string): Promise<RegistryCredential | undefined>;
}

/** No credentials at all (anonymous access). */
export const ANONYMOUS: CredentialSource = { credentialsFor: async () => undefined };

/** Fixed credentials for one host. */
export function staticCredentials(registry: string, credential: RegistryCredential): CredentialSource {
  const host = normalizeRegistryKey(registry);
  return { credentialsFor: async (asked) => (normalizeRegistryKey(asked) === host ? credential : undefined) };
}

/** Ask each source in turn; the first that has credentials for the host wins. */
export function chainCredentials(...sources: CredentialSource[]): CredentialSource {
  return {
    async credentialsFor(registry) {
      for (const source of sources) {
        const found = await source.credentialsFor(registry);
        if (found) return found;
      }
      return undefined;
    },
  };
}

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** `https://index.docker.io/v1/` → `docker.io`; `http://Reg.example:5000/v2` → `reg.example:5000`. */
export function normalizeRegistryKey(key: string): string {
  let host = key.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
}

/** Credentials parsed from a Docker config (`{auths: {...}}`) or a legacy `.dockercfg` (the map itself). */
export class DockerConfigCredentials implements CredentialSource {
  readonly #byHost: Map<string, RegistryCredential>;
  /** Where the config came from, for messages (never its content). */
  readonly origin: string;

  constructor(entries: Map<string, RegistryCredential>, origin: string) {
    this.#byHost = entries;
    this.origin = origin;
  }

  /** Hosts that have credentials (normalised). */
  get hosts(): string[] {
    return [...this.#byHost.keys()];
  }

  async credentialsFor(registry: string): Promise<RegistryCredential | undefined> {
    return this.#byHost.get(normalizeRegistryKey(registry));
  }

  [inspect.custom](): string {
    return `DockerConfigCredentials(${this.origin}: ${this.hosts.join(', ')})`;
  }
}

function configError(origin: string, why: string): UsageError {
  return new UsageError('CONFIG', `docker config ${origin}: ${why}`);
}

function parseEntry(host: string, entry: unknown, origin: string): RegistryCredential | undefined {
  if (!isRecord(entry)) throw configError(origin, `entry for "${host}" must be an object`);
  const { auth, username, password, identitytoken } = entry;
  let user = typeof username === 'string' && username !== '' ? username : undefined;
  let pass = typeof password === 'string' && password !== '' ? password : undefined;
  if (typeof auth === 'string' && auth !== '') {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // The message must not quote the decoded value: it is the secret.
    if (colon < 0) throw configError(origin, `"auth" for "${host}" is not base64 of "user:password"`);
    user = decoded.slice(0, colon);
    pass = decoded.slice(colon + 1);
  }
  if (typeof identitytoken === 'string' && identitytoken !== '') {
    return { kind: 'identity-token', username: user, token: new Secret(identitytoken) };
  }
  if (user !== undefined && pass !== undefined) return { kind: 'basic', username: user, password: new Secret(pass) };
  return undefined;
}

/**
 * Parse Docker config JSON text: `config.json`, Kubernetes `.dockerconfigjson` (`{auths: …}`) or
 * legacy `.dockercfg` (`{host: {auth, …}}`). `origin` names the source in errors.
 */
export function parseDockerConfig(text: string | Uint8Array, origin: string): DockerConfigCredentials {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch {
    // JSON.parse messages quote the input, which may hold credentials: keep them out.
    throw configError(origin, 'not valid JSON');
  }
  if (!isRecord(doc)) throw configError(origin, 'must be a JSON object');
  const auths = 'auths' in doc ? doc.auths : doc;
  if (auths !== undefined && !isRecord(auths)) throw configError(origin, '"auths" must be an object');
  const entries = new Map<string, RegistryCredential>();
  for (const [key, entry] of Object.entries(auths ?? {})) {
    if (!('auths' in doc) && !isRecord(entry)) continue; // legacy file with unrelated top-level keys
    const credential = parseEntry(key, entry, origin);
    const host = normalizeRegistryKey(key);
    if (credential && !entries.has(host)) entries.set(host, credential);
  }
  return new DockerConfigCredentials(entries, origin);
}

/**
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. A process with no home (no HOME and a uid
 * without a passwd entry, as in a container run as an arbitrary uid) has no default config: `/nonexistent`.
 */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER_CONFIG !== undefined && env.DOCKER_CONFIG !== '') return join(env.DOCKER_CONFIG, 'config.json');
  let home: string;
  try {
    home = homedir();
  } catch {
    return '/nonexistent/.docker/config.json';
  }
  return join(home, '.docker', 'config.json');
}

/** Read a Docker config file; a missing file means no credentials. */
export async function loadDockerConfig(path: string = defaultDockerConfigPath()): Promise<DockerConfigCredentials> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new DockerConfigCredentials(new Map(), path);
    throw new UsageError('CONFIG', `cannot read docker config ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseDockerConfig(text, path);
}

/** A Basic credential for tests and programmatic use. */
export function basicCredential(username: string, password: string): RegistryCredential {
  return { kind: 'basic', username, password: new Secret(password) };
}
