/**
 * Reading the settings: flags, then `MODELGATE_*` environment, then defaults, into one typed
 * `PipelineSettings`. Nothing is loaded here (no file is read, no network is used); `load.ts` turns
 * the settings into pipeline dependencies.
 *
 * Owns: `readPipelineSettings` and the source types (`DataSource`, `KeySource`, `TrustSource`,
 * `DockerConfigSource`) whose variants make "both a file and inline text" or "a trust root nobody
 * needs" unrepresentable. Bad values are USAGE errors naming the flag and the variable.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { SignerIdentityPatternSpec, SignerIdentitySpec } from '../evidence/signers.ts';
import { compileIdentityPattern, type IdentityPattern } from '../sigstore/identity-pattern.ts';
import { defaultDockerConfigPath } from '../oci/credentials.ts';
import { DEFAULT_BUNDLE_DIR } from '../policy/package-paths.ts';
import { PUBLIC_GOOD_TUF_MIRROR, STAGING_TUF_MIRROR } from '../sigstore/tuf-mirrors.ts';
import { settingSpec, type SettingKey } from './settings.ts';

/** Where a value came from, for messages ("--data", "MODELGATE_POLICY_DATA"). */
export type Origin = string;

/** A value given as a file to read, or inline as text (an `*_JSON` / `*_PEM` variable); never both. */
export type FileOrInline = { readonly kind: 'file'; readonly path: string; readonly origin: Origin } | { readonly kind: 'inline'; readonly text: string; readonly origin: Origin };

export type DataSource = { readonly kind: 'bundle' } /* the bundle's own data.json */ | FileOrInline;

/** `reference`: a key held elsewhere (`k8s://NAMESPACE/SECRET`), read once at start-up. */
export type KeySource =
  | { readonly kind: 'file'; readonly path: string; readonly origin: Origin }
  | { readonly kind: 'inline'; readonly pem: string; readonly origin: Origin }
  | { readonly kind: 'reference'; readonly uri: string; readonly origin: Origin };

export interface TufSource {
  readonly kind: 'tuf';
  readonly mirrorURL: string;
  readonly rootPath?: string;
  readonly cachePath: string;
  readonly timeoutMs: number;
}

/** `none`: keys alone verify without a transparency log, so no root is read or fetched. */
export type TrustSource = { readonly kind: 'none' } | FileOrInline | TufSource;

/** `default`: the Docker default path, where a missing file means no credentials. */
export type DockerConfigSource = { readonly kind: 'default'; readonly path: string } | FileOrInline;

export interface RegistrySettings {
  readonly dockerConfig: DockerConfigSource;
  readonly plainHttp: readonly string[];
  readonly timeoutMs: number;
}

export interface CacheSettings {
  /** undefined: no node cache (pod-local pulls). */
  readonly dir: string | undefined;
  readonly maxBytes?: number;
  readonly lockStaleMs?: number;
}

/** How init chooses a variant of a model index (`src/modelpack/variants.ts`). */
export interface VariantSettings {
  /** The variant to pull when the storage URI names none. */
  readonly name: string | undefined;
  /** The node's accelerator; undefined: detected. */
  readonly accelerator: string | undefined;
}

export interface PipelineSettings {
  readonly policy: string;
  readonly data: DataSource;
  readonly keys: readonly KeySource[];
  readonly identities: readonly SignerIdentitySpec[];
  /** Keyless signers matched by anchored pattern (compiled once, here). */
  readonly identityPatterns: readonly SignerIdentityPatternSpec[];
  readonly keyTlogThreshold: number;
  readonly trust: TrustSource;
  readonly registry: RegistrySettings;
  readonly cache: CacheSettings;
  readonly variant: VariantSettings;
}

/** Commander's parsed options: any subset of the settings' keys. */
export type SettingFlags = { readonly [K in SettingKey]?: string | readonly string[] | boolean };

/** One setting's raw value: the flag when given, else the variable when set and not empty, else undefined. */
class RawSettings {
  readonly #flags: SettingFlags;
  readonly #env: NodeJS.ProcessEnv;
  constructor(flags: SettingFlags, env: NodeJS.ProcessEnv) {
    this.#flags = flags;
    this.#env = env;
  }

  text(key: SettingKey): { value: string; origin: Origin } | undefined {
    const spec = settingSpec(key);
    const flag = this.#flags[key];
    if (typeof flag === 'string') return { value: flag, origin: spec.flag!.split(' ')[0]! };
    const variable = spec.env === undefined ? undefined : this.#env[spec.env];
    if (variable !== undefined && variable !== '') return { value: variable, origin: spec.env! };
    return undefined;
  }

  list(key: SettingKey): { values: string[]; origin: Origin } {
    const spec = settingSpec(key);
    const flag = this.#flags[key];
    if (Array.isArray(flag) && flag.length > 0) return { values: [...(flag as string[])], origin: spec.flag!.split(' ')[0]! };
    const variable = spec.env === undefined ? undefined : this.#env[spec.env];
    const values = (variable ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
    return { values, origin: spec.env ?? '' };
  }

  switch(key: SettingKey): boolean {
    const spec = settingSpec(key);
    if (this.#flags[key] === true) return true;
    const variable = spec.env === undefined ? undefined : this.#env[spec.env];
    if (variable === undefined || variable === '') return false;
    if (variable === 'true' || variable === '1') return true;
    if (variable === 'false' || variable === '0') return false;
    throw new UsageError('USAGE', `${spec.env} must be true or false, got "${variable}"`);
  }

  integer(key: SettingKey, min: number): number | undefined {
    const raw = this.text(key);
    if (raw === undefined) {
      const fallback = settingSpec(key).default;
      return fallback !== undefined && /^\d+$/.test(fallback) ? Number(fallback) : undefined;
    }
    const n = Number(raw.value);
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError('USAGE', `${raw.origin} must be an integer ≥ ${min}, got "${raw.value}"`);
    return n;
  }
}

/** Keyless signers: SANs paired with one issuer for all, or one issuer each, in order. */
export function pairIdentities(sans: readonly string[], issuers: readonly string[]): SignerIdentitySpec[] {
  if (sans.length === 0 && issuers.length === 0) return [];
  if (sans.length === 0 || issuers.length === 0) throw new UsageError('USAGE', '--certificate-identity and --certificate-oidc-issuer go together');
  if (issuers.length !== 1 && issuers.length !== sans.length) {
    throw new UsageError('USAGE', `give one --certificate-oidc-issuer for all identities or one per --certificate-identity (got ${issuers.length} for ${sans.length})`);
  }
  return sans.map((san, i) => ({ san, issuer: issuers.length === 1 ? issuers[0]! : issuers[i]! }));
}

function compilePattern(source: string, origin: Origin): IdentityPattern {
  return compileIdentityPattern(source, (why) => {
    throw new UsageError('USAGE', `${origin}: ${why}`);
  });
}

/** Keyless signer patterns: SAN patterns paired with one issuer pattern for all, or one each, each checked and compiled once. */
export function pairIdentityPatterns(sans: { values: readonly string[]; origin: Origin }, issuers: { values: readonly string[]; origin: Origin }): SignerIdentityPatternSpec[] {
  if (sans.values.length === 0 && issuers.values.length === 0) return [];
  if (sans.values.length === 0 || issuers.values.length === 0) throw new UsageError('USAGE', '--certificate-identity-regexp and --certificate-oidc-issuer-regexp go together');
  if (issuers.values.length !== 1 && issuers.values.length !== sans.values.length) {
    throw new UsageError('USAGE', `give one --certificate-oidc-issuer-regexp for all identity patterns or one per --certificate-identity-regexp (got ${issuers.values.length} for ${sans.values.length})`);
  }
  const issuerPatterns = issuers.values.map((i) => compilePattern(i, issuers.origin));
  return sans.values.map((san, i) => ({ san: compilePattern(san, sans.origin), issuer: issuerPatterns.length === 1 ? issuerPatterns[0]! : issuerPatterns[i]! }));
}

/** The TUF cache directory: the setting, else $XDG_CACHE_HOME/modelgate/tuf, else ~/.cache/modelgate/tuf. */
function defaultTufCache(env: NodeJS.ProcessEnv): string {
  if (env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '') return join(env.XDG_CACHE_HOME, 'modelgate', 'tuf');
  try {
    return join(homedir(), '.cache', 'modelgate', 'tuf');
  } catch {
    throw new UsageError('CONFIG', 'no home directory for the TUF cache (HOME is not set and this uid has no passwd entry): set --tuf-cache or MODELGATE_TUF_CACHE');
  }
}

/** The file setting or its inline twin, at most one of them. */
function fileOrInline(raw: RawSettings, what: string, fileKey: SettingKey, inlineKey: SettingKey): FileOrInline | undefined {
  const file = raw.text(fileKey);
  const inline = raw.text(inlineKey);
  if (file !== undefined && inline !== undefined) throw new UsageError('USAGE', `${what}: give ${file.origin} or ${inline.origin}, not both`);
  if (file !== undefined) return { kind: 'file', path: file.value, origin: file.origin };
  if (inline !== undefined) return { kind: 'inline', text: inline.value, origin: inline.origin };
  return undefined;
}

/** The trust source: a root is read only when keyless signers, a tlog threshold or explicit trust settings ask for one. */
function trustSource(raw: RawSettings, env: NodeJS.ProcessEnv, needed: boolean): TrustSource {
  const given = fileOrInline(raw, 'trusted root', 'trustedRoot', 'trustedRootJson');
  const staging = raw.switch('staging');
  const mirror = raw.text('tufMirror');
  const root = raw.text('tufRoot');
  if (given !== undefined && (staging || mirror !== undefined || root !== undefined)) {
    throw new UsageError('USAGE', `${given.origin} cannot be combined with --staging or --tuf-mirror/--tuf-root`);
  }
  if (given !== undefined) return given;
  if (!needed && !staging && mirror === undefined && root === undefined) return { kind: 'none' };
  const timeoutMs = raw.integer('tufTimeout', 1)!;
  return {
    kind: 'tuf',
    mirrorURL: mirror?.value ?? (staging ? STAGING_TUF_MIRROR : PUBLIC_GOOD_TUF_MIRROR),
    ...(root !== undefined ? { rootPath: root.value } : {}),
    cachePath: raw.text('tufCache')?.value ?? defaultTufCache(env),
    timeoutMs,
  };
}

/** The trust and registry settings alone (the verify-* commands that take a bundle or a reference). */
export function readTrustSettings(flags: SettingFlags, env: NodeJS.ProcessEnv = process.env, needed = true): TrustSource {
  return trustSource(new RawSettings(flags, env), env, needed);
}

export function readRegistrySettings(flags: SettingFlags, env: NodeJS.ProcessEnv = process.env): RegistrySettings {
  const raw = new RawSettings(flags, env);
  const dockerConfig: DockerConfigSource = fileOrInline(raw, 'docker config', 'dockerConfig', 'dockerConfigJson') ?? { kind: 'default', path: defaultDockerConfigPath(env) };
  return { dockerConfig, plainHttp: raw.list('plainHttp').values, timeoutMs: raw.integer('timeout', 1)! };
}

/** All pipeline settings (verify, explain, webhook, init). */
export function readPipelineSettings(flags: SettingFlags, env: NodeJS.ProcessEnv = process.env): PipelineSettings {
  const raw = new RawSettings(flags, env);
  const data: DataSource = fileOrInline(raw, 'policy data', 'data', 'dataJson') ?? { kind: 'bundle' };
  const keyFiles = raw.list('key');
  const keysPem = raw.text('keysPem');
  const keys: KeySource[] = [
    ...keyFiles.values.map((path): KeySource => (/^[a-z0-9]+:\/\//.test(path) ? { kind: 'reference', uri: path, origin: keyFiles.origin } : { kind: 'file', path, origin: keyFiles.origin })),
    ...(keysPem === undefined ? [] : [{ kind: 'inline' as const, pem: keysPem.value, origin: keysPem.origin }]),
  ];
  const identities = pairIdentities(raw.list('certificateIdentity').values, raw.list('certificateOidcIssuer').values);
  const identityPatterns = pairIdentityPatterns(raw.list('certificateIdentityRegexp'), raw.list('certificateOidcIssuerRegexp'));
  const keyTlogThreshold = raw.integer('keyTlogThreshold', 0)!;
  const cacheDir = raw.text('cacheDir');
  const cacheMaxBytes = raw.integer('cacheMaxBytes', 0);
  const lockStaleMs = raw.text('cacheLockStale') === undefined ? undefined : raw.integer('cacheLockStale', 100);
  return {
    policy: raw.text('policy')?.value ?? DEFAULT_BUNDLE_DIR,
    data,
    keys,
    identities,
    identityPatterns,
    keyTlogThreshold,
    trust: trustSource(raw, env, identities.length + identityPatterns.length > 0 || keyTlogThreshold > 0),
    registry: readRegistrySettings(flags, env),
    cache: {
      dir: cacheDir?.value,
      ...(cacheMaxBytes !== undefined ? { maxBytes: cacheMaxBytes } : {}),
      ...(lockStaleMs !== undefined ? { lockStaleMs } : {}),
    },
    variant: { name: raw.text('variant')?.value, accelerator: raw.text('accelerator')?.value },
  };
}
