/**
 * `modelgate init URI DEST [URI DEST…]`: the KServe storage initializer (positional pairs, as KServe
 * passes them to a ClusterStorageContainer). Each model is verified through the one pipeline (context
 * `init`) before any layer is fetched, then pulled through the node cache and published atomically at
 * DEST with `DEST/.modelgate/receipt.json` (see `src/init/pull.ts`).
 *
 * Owns: the command's options and their environment variables (`MODELGATE_CACHE_DIR`,
 * `MODELGATE_CACHE_MAX_BYTES`, `MODELGATE_CACHE_LOCK_STALE_MS`, `MODELGATE_POLICY`, `MODELGATE_POLICY_DATA`, `MODELGATE_KEYS` (comma
 * separated), `MODELGATE_CERTIFICATE_IDENTITY` / `MODELGATE_CERTIFICATE_OIDC_ISSUER` (keyless signers, comma
 * separated), `MODELGATE_TRUSTED_ROOT`, `MODELGATE_TERMINATION_LOG`, `DOCKER_CONFIG`), JSON log lines
 * on stdout (progress: bytes, total, rate, ETA — or, when stderr is a terminal, only a bar there; `initLogger`), refusal reasons on stderr and in the termination log (`/dev/termination-log` by default).
 * Exit codes (`EXIT_CODE`): 0 published, 1 verification failed (deny, corrupted blob, unsafe archive),
 * 2 usage/invalid, 3 registry unavailable (transient), 4 registry refused (permanent).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ModelgateError, UsageError } from '../errors.ts';
import type { InitOutcome } from '../init/pull.ts';
import type { SignerIdentitySpec } from '../pipeline/decide.ts';
import { collect, integer, pairIdentities } from './option-values.ts';
import { addStoreOptions } from './store-options.ts';
import { addTrustOptions, resolveTrust } from './trust-options.ts';
import { loadPolicyEngine, loadSignerKeys, type PolicySignerCliOptions } from './pipeline-options.ts';
import { DEFAULT_BUNDLE_DIR } from '../policy/bundle.ts';
import { systemClock, type Clock } from '../time/clock.ts';

const TERMINATION_LOG_LIMIT = 4096; // Kubernetes keeps at most 4096 bytes of the termination message

interface InitOptions extends PolicySignerCliOptions {
  readonly cacheDir: string;
  readonly cacheMaxBytes?: string;
  readonly cacheLockStale?: string;
  readonly terminationLog: string;
  readonly concurrency: string;
  readonly timeout: string;
  readonly rehash?: boolean;
}

function listFromEnv(given: readonly string[], variable: string): string[] {
  if (given.length > 0) return [...given];
  return (process.env[variable] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** Keyless signers from the flags, else from the environment (comma separated), paired as `modelgate verify` pairs them. */
export function signerIdentities(options: Pick<InitOptions, 'certificateIdentity' | 'certificateOidcIssuer'>): SignerIdentitySpec[] {
  return pairIdentities(listFromEnv(options.certificateIdentity, 'MODELGATE_CERTIFICATE_IDENTITY'), listFromEnv(options.certificateOidcIssuer, 'MODELGATE_CERTIFICATE_OIDC_ISSUER'));
}

async function writeTerminationLog(path: string, text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8').subarray(0, TERMINATION_LOG_LIMIT);
  await writeFile(path, bytes).catch(() => {}); // best effort: outside Kubernetes the file may not exist
}

export function register(program: Command): void {
  const command = program
    .command('init')
    .description('KServe storage initializer: verify (signatures, provenance, policy) then pull and publish each model; args are URI DEST pairs (modelgate+oci://host/repo@sha256:… /mnt/models); exit 0 published, 1 verification failed, 2 error, 3 registry unavailable, 4 registry refused')
    .argument('<pairs...>', 'URI DEST [URI DEST…]')
    .option('--policy <dir>', 'policy bundle directory, manifest.json or tar archive (env MODELGATE_POLICY)', process.env.MODELGATE_POLICY ?? DEFAULT_BUNDLE_DIR)
    .option('--data <file>', 'policy data JSON replacing the bundle data.json (env MODELGATE_POLICY_DATA)', process.env.MODELGATE_POLICY_DATA)
    .option('--key <file>', 'PEM public key whose signatures are checked (repeatable; env MODELGATE_KEYS, comma separated)', collect, [])
    .option('--certificate-identity <san>', 'exact certificate SAN of a keyless signer whose signatures are checked (repeatable; env MODELGATE_CERTIFICATE_IDENTITY, comma separated)', collect, [])
    .option('--certificate-oidc-issuer <url>', 'exact OIDC issuer of the keyless signer(s): one for all, or one per identity (env MODELGATE_CERTIFICATE_OIDC_ISSUER)', collect, [])
    .option('--cache-dir <dir>', 'node cache of verified blobs (env MODELGATE_CACHE_DIR)', process.env.MODELGATE_CACHE_DIR ?? join(tmpdir(), 'modelgate-cache'))
    .option('--cache-max-bytes <n>', 'evict least recently used blobs above this size (env MODELGATE_CACHE_MAX_BYTES)', process.env.MODELGATE_CACHE_MAX_BYTES)
    .option('--cache-lock-stale <ms>', 'a cache lease not refreshed for this long belongs to a dead holder and is taken over (default 30000; env MODELGATE_CACHE_LOCK_STALE_MS)', process.env.MODELGATE_CACHE_LOCK_STALE_MS)
    .option('--rehash', 're-hash every cached blob first and drop the ones that changed')
    .option('--termination-log <file>', 'where refusal reasons are written for Kubernetes (env MODELGATE_TERMINATION_LOG)', process.env.MODELGATE_TERMINATION_LOG ?? '/dev/termination-log')
    .option('--concurrency <n>', 'layers pulled at once', '4')
    .option('--timeout <ms>', 'deadline of each registry call, longest stall of a download', '30000');
  addStoreOptions(addTrustOptions(command)).action(async (pairs: string[], options: InitOptions) => {
    try {
      process.exitCode = await run(pairs, options);
    } catch (err) {
      const message = err instanceof ModelgateError ? `${err.code}: ${err.message}` : String(err);
      await writeTerminationLog(options.terminationLog, `modelgate init: ${message}\n`);
      throw err;
    }
  });
}

export interface ProgressEvent {
  readonly bytes: number;
  readonly total: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | null;
}

/** One progress-bar line for a terminal: `[#######-------]  45%  0.90/2.00 GiB  120 MB/s  ETA 9 s` (`ETA ?` while unknown). */
export function progressBar(event: ProgressEvent, width = 30): string {
  const fraction = event.total > 0 ? Math.min(1, Math.max(0, event.bytes / event.total)) : 1;
  const filled = Math.round(fraction * width);
  const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(2);
  const eta = event.etaSeconds === null ? '?' : `${event.etaSeconds} s`;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${`${Math.floor(fraction * 100)}%`.padStart(4)}  ${gib(event.bytes)}/${gib(event.total)} GiB  ${Math.round(event.bytesPerSecond / 1e6)} MB/s  ETA ${eta}`;
}

export interface InitLoggerOptions {
  /** stderr is a terminal: progress is a bar redrawn there, and never a JSON line on stdout. */
  readonly terminal: boolean;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  readonly clock?: Clock;
}

/**
 * The init log: JSON lines on stdout. Progress events are JSON lines too, except when stderr is a
 * terminal: then they are only a bar redrawn in place on stderr (a terminal shows both streams, so
 * JSON and bar would interleave), and the bar's line is ended before any other line is written. The
 * bar's rate and ETA are measured from the first progress event it saw (the meter's own first rate
 * includes the verification before the download): until a later event shows bytes moving, the ETA
 * is `?`, never a guess from a few bytes.
 */
export function initLogger(options: InitLoggerOptions): (event: Record<string, unknown>) => void {
  const stdout = options.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = options.stderr ?? ((text: string) => void process.stderr.write(text));
  const clock = options.clock ?? systemClock;
  let barShown = false;
  let first: { bytes: number; at: number } | undefined;
  return (event) => {
    if (options.terminal && event.event === 'progress') {
      const progress = event as unknown as ProgressEvent;
      const now = clock.now();
      first ??= { bytes: progress.bytes, at: now };
      const seconds = (now - first.at) / 1000;
      const rate = seconds > 0 ? (progress.bytes - first.bytes) / seconds : 0;
      const etaSeconds = progress.bytes >= progress.total ? 0 : rate > 0 ? Math.round((progress.total - progress.bytes) / rate) : null;
      stderr(`\r${progressBar({ ...progress, bytesPerSecond: rate, etaSeconds })}\u001b[K`);
      barShown = true;
      return;
    }
    if (barShown) {
      stderr('\n');
      barShown = false;
    }
    stdout(`${JSON.stringify({ time: new Date(clock.now()).toISOString(), ...event })}\n`);
  };
}

/** Report a refusal on stderr, in the termination log and as a log line; returns its exit code. */
async function refuse(uri: string, dest: string, outcome: Extract<InitOutcome, { kind: 'refused' }>, options: InitOptions, log: (event: Record<string, unknown>) => void): Promise<number> {
  const lines = outcome.reasons.map((r) => `modelgate init: refused ${uri}${outcome.digest ? ` (${outcome.digest})` : ''}: ${r.code}: ${r.message}`);
  process.stderr.write(`${lines.join('\n')}\n`);
  await writeTerminationLog(options.terminationLog, `${lines.join('\n')}\n`);
  log({ event: 'refused', uri, dest, digest: outcome.digest, exitCode: outcome.exitCode, reasons: outcome.reasons });
  return outcome.exitCode;
}

async function run(pairs: readonly string[], options: InitOptions): Promise<number> {
  if (pairs.length % 2 !== 0) throw new UsageError('USAGE', `arguments are URI DEST pairs, got ${pairs.length} argument(s)`);
  const timeoutMs = integer(options.timeout, '--timeout', 1);
  const concurrency = integer(options.concurrency, '--concurrency', 1);
  const cacheMaxBytes = options.cacheMaxBytes === undefined ? undefined : integer(options.cacheMaxBytes, '--cache-max-bytes', 0);
  const lockStaleMs = options.cacheLockStale === undefined ? undefined : integer(options.cacheLockStale, '--cache-lock-stale', 100);
  const { initModel, refusalOfUri } = await import('../init/pull.ts');
  const log = initLogger({ terminal: process.stderr.isTTY === true });
  // Malformed or unpinned URIs are refused before any configuration is loaded.
  for (let i = 0; i < pairs.length; i += 2) {
    const refusal = refusalOfUri(pairs[i]!);
    if (refusal !== undefined) return refuse(pairs[i]!, pairs[i + 1]!, refusal, options, log);
  }
  const [{ KEYS_ONLY_TRUST, storeProvider }, { defaultDockerConfigPath, loadDockerConfig }, { BlobCache }] = await Promise.all([
    import('../pipeline/deps.ts'),
    import('../oci/credentials.ts'),
    import('../init/cache.ts'),
  ]);
  const identities = signerIdentities(options);
  const [keys, engine] = await Promise.all([loadSignerKeys(listFromEnv(options.key, 'MODELGATE_KEYS'), 'CONFIG'), loadPolicyEngine(options.policy, options.data, 'CONFIG')]);
  const trustedRoot = options.trustedRoot ?? process.env.MODELGATE_TRUSTED_ROOT;
  // Keyless signers need a Sigstore root: the given trusted_root.json, else the public-good (or staging) root through TUF.
  const trust =
    trustedRoot !== undefined && trustedRoot !== ''
      ? await resolveTrust({ ...options, trustedRoot })
      : identities.length > 0 || options.staging === true || options.tufMirror !== undefined
        ? await resolveTrust(options)
        : KEYS_ONLY_TRUST;
  if (options.dockerConfig !== undefined && !existsSync(options.dockerConfig)) throw new UsageError('CONFIG', `docker config ${options.dockerConfig} does not exist`);
  const credentials = await loadDockerConfig(options.dockerConfig ?? defaultDockerConfigPath());
  const stores = storeProvider({ registry: { credentials, plainHttpRegistries: options.plainHttp ?? [], timeoutMs } });
  const cache = new BlobCache(options.cacheDir, { ...(cacheMaxBytes !== undefined ? { maxBytes: cacheMaxBytes } : {}), ...(lockStaleMs !== undefined ? { lockStaleMs } : {}) });
  if (options.rehash === true) {
    await cache.init();
    const started = performance.now();
    const { checked, bytes, dropped } = await cache.rehash();
    const seconds = (performance.now() - started) / 1000;
    log({ event: 'rehash', checked, bytes, seconds: Number(seconds.toFixed(3)), bytesPerSecond: Math.round(bytes / Math.max(seconds, 0.001)), dropped });
  }
  for (let i = 0; i < pairs.length; i += 2) {
    const uri = pairs[i]!;
    const dest = pairs[i + 1]!;
    const outcome = await initModel(uri, dest, { pipeline: { stores, trust, signers: { keys, identities }, engine, timeoutMs }, cache, concurrency, timeoutMs, log });
    if (outcome.kind === 'refused') return refuse(uri, dest, outcome, options, log);
    log({ event: 'published', uri, dest, digest: outcome.digest, reused: outcome.reused });
  }
  return 0;
}
