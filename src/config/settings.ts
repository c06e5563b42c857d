/**
 * The pipeline's settings table: every setting the verifying commands (`verify`, `explain`,
 * `webhook`, `init`, and the trust/registry part of the other verify commands) share, with its flag,
 * its `MODELGATE_*` environment variable, its default and its meaning. Precedence is always: the flag,
 * then the variable, then the default (`read.ts`).
 *
 * Owns: `SETTINGS` (the one table), `declareSettings` (puts a group of them on a commander command)
 * and `settingsTableMarkdown` (the README's configuration table is this table; a test compares them).
 * Inline variables (`*_JSON`, `*_PEM`) exist for model pods: KServe gives a storage container only its
 * env and args, no ConfigMap volume, so the chart renders keys, policy data and the trust root inline.
 */
import type { Command } from 'commander';
import { DEFAULT_BUNDLE_DIR } from '../policy/package-paths.ts';

export type SettingKey =
  | 'policy'
  | 'data'
  | 'dataJson'
  | 'key'
  | 'keysPem'
  | 'certificateIdentity'
  | 'certificateOidcIssuer'
  | 'certificateIdentityRegexp'
  | 'certificateOidcIssuerRegexp'
  | 'keyTlogThreshold'
  | 'trustedRoot'
  | 'trustedRootJson'
  | 'staging'
  | 'tufMirror'
  | 'tufRoot'
  | 'tufCache'
  | 'tufTimeout'
  | 'dockerConfig'
  | 'dockerConfigJson'
  | 'plainHttp'
  | 'timeout'
  | 'cacheDir'
  | 'cacheMaxBytes'
  | 'cacheLockStale'
  | 'variant'
  | 'accelerator';

/** text: one value; list: repeatable flag, comma-separated variable; switch: flag without value, variable `true`/`false`. */
export type SettingKind = 'text' | 'list' | 'switch';

/** Which commands declare a group: pipeline = verify, explain, webhook, init; trust/registry also the other verify commands; cache and variant: init. */
export type SettingGroup = 'policy' | 'signers' | 'trust' | 'registry' | 'timeout' | 'cache' | 'variant';

export interface SettingSpec {
  readonly key: SettingKey;
  readonly group: SettingGroup;
  readonly kind: SettingKind;
  /** `--flag <arg>`; absent for inline-only settings (environment only). */
  readonly flag?: string;
  readonly env?: string;
  /** The default as documented (applied by `read.ts`, never by commander, so a flag's source is known). */
  readonly default?: string;
  /** The default as `--help` shows it on this installation, when it is a path (else `default`). */
  readonly helpDefault?: () => string;
  readonly help: string;
}

export const SETTINGS: readonly SettingSpec[] = [
  { key: 'policy', group: 'policy', kind: 'text', flag: '--policy <dir>', env: 'MODELGATE_POLICY', default: 'the bundle shipped in the package (build/policy)', helpDefault: () => DEFAULT_BUNDLE_DIR, help: 'policy bundle directory, manifest.json or tar archive (the webhook watches it)' },
  { key: 'data', group: 'policy', kind: 'text', flag: '--data <file>', env: 'MODELGATE_POLICY_DATA', help: 'policy data JSON replacing the bundle data.json: trusted signers, builders, sources, datasets, revocations (the webhook watches it)' },
  { key: 'dataJson', group: 'policy', kind: 'text', env: 'MODELGATE_POLICY_DATA_JSON', help: 'the same policy data inline, as JSON text (what the chart gives model pods)' },
  { key: 'key', group: 'signers', kind: 'list', flag: '--key <file>', env: 'MODELGATE_KEYS', help: 'PEM public key file, or k8s://NAMESPACE/SECRET (its cosign.pub), whose signatures are checked (repeatable; the variable is comma separated); without policy data, these keys are the trusted signers' },
  { key: 'keysPem', group: 'signers', kind: 'text', env: 'MODELGATE_KEYS_PEM', help: 'the same public keys inline: one or more concatenated PEM blocks (what the chart gives model pods)' },
  { key: 'certificateIdentity', group: 'signers', kind: 'list', flag: '--certificate-identity <san>', env: 'MODELGATE_CERTIFICATE_IDENTITY', help: 'exact certificate SAN of a keyless signer whose signatures are checked (repeatable / comma separated)' },
  { key: 'certificateOidcIssuer', group: 'signers', kind: 'list', flag: '--certificate-oidc-issuer <url>', env: 'MODELGATE_CERTIFICATE_OIDC_ISSUER', help: 'exact OIDC issuer of the keyless signer(s): one for all, or one per identity' },
  { key: 'certificateIdentityRegexp', group: 'signers', kind: 'list', flag: '--certificate-identity-regexp <re>', env: 'MODELGATE_CERTIFICATE_IDENTITY_REGEXP', help: 'anchored pattern (^…$) of certificate SANs of keyless signers whose signatures are checked (repeatable / comma separated; cosign\'s flag)' },
  { key: 'certificateOidcIssuerRegexp', group: 'signers', kind: 'list', flag: '--certificate-oidc-issuer-regexp <re>', env: 'MODELGATE_CERTIFICATE_OIDC_ISSUER_REGEXP', help: 'anchored pattern of the OIDC issuer(s) of --certificate-identity-regexp: one for all, or one per pattern' },
  { key: 'keyTlogThreshold', group: 'signers', kind: 'text', flag: '--key-tlog-threshold <n>', env: 'MODELGATE_KEY_TLOG_THRESHOLD', default: '0', help: 'verified Rekor entries required of key-signed evidence (needs a trust root when above 0)' },
  { key: 'trustedRoot', group: 'trust', kind: 'text', flag: '--trusted-root <file>', env: 'MODELGATE_TRUSTED_ROOT', help: 'Sigstore trusted_root.json (no network); read only when keyless signers or a tlog threshold need it' },
  { key: 'trustedRootJson', group: 'trust', kind: 'text', env: 'MODELGATE_TRUSTED_ROOT_JSON', help: 'the same trusted root inline, as JSON text (what the chart gives model pods when keyless signers are configured)' },
  { key: 'staging', group: 'trust', kind: 'switch', flag: '--staging', env: 'MODELGATE_STAGING', default: 'false', help: 'use the Sigstore staging instance (its TUF mirror) instead of public-good' },
  { key: 'tufMirror', group: 'trust', kind: 'text', flag: '--tuf-mirror <url>', env: 'MODELGATE_TUF_MIRROR', default: 'https://tuf-repo-cdn.sigstore.dev', help: 'TUF repository to fetch trusted_root.json from when no trusted root is given' },
  { key: 'tufRoot', group: 'trust', kind: 'text', flag: '--tuf-root <file>', env: 'MODELGATE_TUF_ROOT', help: 'initial TUF root.json for the mirror (needed for any mirror but public-good and staging)' },
  { key: 'tufCache', group: 'trust', kind: 'text', flag: '--tuf-cache <dir>', env: 'MODELGATE_TUF_CACHE', default: '$XDG_CACHE_HOME/modelgate/tuf, else ~/.cache/modelgate/tuf', help: 'TUF cache directory' },
  { key: 'tufTimeout', group: 'trust', kind: 'text', flag: '--tuf-timeout <ms>', env: 'MODELGATE_TUF_TIMEOUT_MS', default: '20000', help: 'deadline for fetching TUF metadata' },
  { key: 'dockerConfig', group: 'registry', kind: 'text', flag: '--docker-config <file>', env: 'MODELGATE_DOCKER_CONFIG', default: '$DOCKER_CONFIG/config.json, else ~/.docker/config.json, if present', help: 'Docker config.json with registry credentials (never printed)' },
  { key: 'dockerConfigJson', group: 'registry', kind: 'text', env: 'MODELGATE_DOCKER_CONFIG_JSON', help: 'the same Docker config inline (e.g. from a kubernetes.io/dockerconfigjson Secret through secretKeyRef; never printed)' },
  { key: 'plainHttp', group: 'registry', kind: 'list', flag: '--plain-http <host>', env: 'MODELGATE_PLAIN_HTTP', help: 'reach this registry host[:port] over plain HTTP (repeatable / comma separated; loopback hosts always are)' },
  { key: 'timeout', group: 'timeout', kind: 'text', flag: '--timeout <ms>', env: 'MODELGATE_TIMEOUT_MS', default: '30000', help: 'deadline of each registry call (init: also the longest stall of a download; webhook: at most the review deadline)' },
  { key: 'cacheDir', group: 'cache', kind: 'text', flag: '--cache-dir <dir>', env: 'MODELGATE_CACHE_DIR', default: 'none: every pull is pod-local and not cached', help: 'node cache of verified blobs (init); a cache that cannot be used is a warning, never a failed pod' },
  { key: 'cacheMaxBytes', group: 'cache', kind: 'text', flag: '--cache-max-bytes <n>', env: 'MODELGATE_CACHE_MAX_BYTES', default: 'unbounded', help: 'evict least recently used cached blobs above this size (init)' },
  { key: 'cacheLockStale', group: 'cache', kind: 'text', flag: '--cache-lock-stale <ms>', env: 'MODELGATE_CACHE_LOCK_STALE_MS', default: '30000', help: 'a cache lease not refreshed for this long belongs to a dead holder and is taken over (init)' },
  { key: 'variant', group: 'variant', kind: 'text', flag: '--variant <name>', env: 'MODELGATE_VARIANT', default: 'the variant that fits the node (platform, accelerator)', help: 'variant of a model index to pull when the storage URI names none with #variant=NAME (init)' },
  { key: 'accelerator', group: 'variant', kind: 'text', flag: '--accelerator <name>', env: 'MODELGATE_ACCELERATOR', default: 'nvidia when /dev/nvidiactl exists, else none', help: 'the node\'s accelerator, matched against dev.modelgate.variant.accelerator when a variant is chosen (init)' },
];

/** The spec of one setting. */
export function settingSpec(key: SettingKey): SettingSpec {
  const spec = SETTINGS.find((s) => s.key === key);
  if (spec === undefined) throw new Error(`unknown setting ${key}`);
  return spec;
}

function appendValue(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Declare the flags of the settings in `groups` on `command` (no commander defaults: `read.ts` applies them). */
export function declareSettings(command: Command, groups: readonly SettingGroup[]): Command {
  for (const spec of SETTINGS) {
    if (spec.flag === undefined || !groups.includes(spec.group)) continue;
    const notes = [spec.env !== undefined ? `env ${spec.env}` : '', spec.default !== undefined ? `default ${spec.helpDefault?.() ?? spec.default}` : ''].filter((n) => n !== '').join('; ');
    const help = notes === '' ? spec.help : `${spec.help} (${notes})`;
    if (spec.kind === 'list') command.option(spec.flag, help, appendValue);
    else command.option(spec.flag, help);
  }
  return command;
}

/** The pipeline groups: what verify, explain, webhook and init declare. */
export const PIPELINE_GROUPS: readonly SettingGroup[] = ['policy', 'signers', 'trust', 'registry', 'timeout'];

/** The README's configuration table, generated from `SETTINGS`. */
export function settingsTableMarkdown(): string {
  const rows = SETTINGS.map((s) => `| ${s.flag === undefined ? '—' : `\`${s.flag.split(' ')[0]}\``} | ${s.env === undefined ? '—' : `\`${s.env}\``} | ${s.default ?? '—'} | ${s.help} |`);
  return ['| flag | environment | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
