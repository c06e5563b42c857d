/**
 * `modelgate init URI DEST [URI DEST…]`: the KServe storage initializer (positional pairs, as KServe
 * passes them to a ClusterStorageContainer). Each model is verified through the one pipeline (context
 * `init`) before any layer is fetched, then pulled through the node cache and published atomically at
 * DEST with `DEST/.modelgate/receipt.json` (see `src/init/pull.ts`).
 *
 * Owns: the command's own options (`--termination-log` / `MODELGATE_TERMINATION_LOG`, `--concurrency`,
 * `--rehash`); its pipeline and cache settings come from the one settings table and loader
 * (`src/config/`: flags, then `MODELGATE_*`, then defaults; inline `MODELGATE_KEYS_PEM`,
 * `MODELGATE_POLICY_DATA_JSON`, `MODELGATE_TRUSTED_ROOT_JSON` are what the chart renders into the
 * storage container, since KServe gives it no ConfigMap volume). JSON log lines
 * on stdout (progress: bytes, total, rate, ETA — or, when stderr is a terminal, only a bar there; `initLogger`), refusal reasons on stderr and in the termination log (`/dev/termination-log` by default).
 * Exit codes (`EXIT_CODE`): 0 published, 1 verification failed (deny, corrupted blob, unsafe archive),
 * 2 usage/invalid, 3 registry unavailable (transient), 4 registry refused (permanent).
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { SettingFlags } from '../config/read.ts';
import { ModelgateError, UsageError } from '../errors.ts';
import type { InitOutcome } from '../init/pull.ts';
import { integer } from './option-values.ts';
import { addPipelineOptions, loadPipelineFromOptions, pipelineSettingsOf } from './pipeline-options.ts';
import type { PipelineSettings } from '../config/read.ts';
import type { ManifestCache } from '../pipeline/manifest-cache.ts';
import type { StoreProvider } from '../pipeline/decide.ts';
import { systemClock, type Clock } from '../time/clock.ts';
import { createLogger } from '../logging/logger.ts';

const TERMINATION_LOG_LIMIT = 4096;
/** How long init waits for its early manifest requests to be written before loading the verifier. */
const EARLY_WRITE_WAIT_MS = 50; // Kubernetes keeps at most 4096 bytes of the termination message

type InitOptions = SettingFlags & {
  readonly terminationLog: string;
  readonly concurrency: string;
  readonly rehash?: boolean;
};

async function writeTerminationLog(path: string, text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8').subarray(0, TERMINATION_LOG_LIMIT);
  await writeFile(path, bytes).catch(() => {}); // best effort: outside Kubernetes the file may not exist
}

export function register(program: Command): void {
  const command = program
    .command('init')
    .description('KServe storage initializer: verify (signatures, provenance, policy) then pull and publish each model; args are URI DEST pairs (modelgate+oci://host/repo@sha256:… /mnt/models); exit 0 published, 1 verification failed, 2 error, 3 registry unavailable, 4 registry refused')
    .argument('<pairs...>', 'URI DEST [URI DEST…]')
    .option('--rehash', 're-hash every cached blob first and drop the ones that changed')
    .option('--termination-log <file>', 'where refusal reasons are written for Kubernetes (env MODELGATE_TERMINATION_LOG)', process.env.MODELGATE_TERMINATION_LOG ?? '/dev/termination-log')
    .option('--concurrency <n>', 'layers of 1 MiB or more pulled at once (smaller layers: 4 × this)', '4');
  addPipelineOptions(command, ['cache', 'variant']).action(async (pairs: string[], options: InitOptions) => {
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
 * The init log: the logger of every long-running mode (`src/logging/logger.ts`, service
 * `modelgate-init`) on stdout, one line per event (JSON unless stdout is a terminal). Progress events are JSON lines too, except when stderr is a
 * terminal: then they are only a bar redrawn in place on stderr (a terminal shows both streams, so
 * JSON and bar would interleave), and the bar's line is ended before any other line is written. The
 * bar's rate and ETA are measured from the first progress event it saw (the meter's own first rate
 * includes the verification before the download): until a later event shows bytes moving, the ETA
 * is `?`, never a guess from a few bytes.
 */
export function initLogger(options: InitLoggerOptions): (event: Record<string, unknown>) => void {
  const stderr = options.stderr ?? ((text: string) => void process.stderr.write(text));
  const clock = options.clock ?? systemClock;
  const logger = createLogger({ service: 'modelgate-init', clock, ...(options.stdout !== undefined ? { write: options.stdout } : {}) });
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
    if (event.event === 'refused' || event.event === 'warning' || event.event === 'reuse-refused') logger.warn(event);
    else logger.info(event);
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

/**
 * The first registry round trip does not wait for the configuration or the verification code: each
 * model's manifest is asked for while they load, into the manifest cache the pipeline then reads
 * (the store verifies the answer against the pinned digest, as on any fetch). Returns once the
 * requests are written (at most EARLY_WRITE_WAIT_MS): loading the verification code blocks the event
 * loop for ≈ 0.1 s, and a request still waiting for its connection would only be written after it.
 * Never throws: a URI or setting that cannot be read here is refused, as before, by the normal path;
 * a request that fails is not kept (the pipeline asks again and reports the failure itself).
 */
async function requestManifestsEarly(pairs: readonly string[], options: InitOptions): Promise<{ settings?: PipelineSettings; cache?: ManifestCache; stores?: StoreProvider }> {
  try {
    const [settings, { ManifestCache }, { storesOf }, { locationOfUri }, { repositoryName }, { requestsWritten }] = await Promise.all([
      pipelineSettingsOf(options),
      import('../pipeline/manifest-cache.ts'),
      import('../config/load.ts'),
      import('../init/storage-uri.ts'),
      import('../oci/reference.ts'),
      import('../oci/http.ts'),
    ]);
    const cache = new ManifestCache({ negativeTtlMs: 0 });
    // The pipeline uses these same stores: one credentials read, one token per repository.
    const stores = await storesOf(settings);
    const refs = Array.from({ length: pairs.length / 2 }, (_, i) => locationOfUri(pairs[2 * i]!).ref);
    const remote = refs.filter((ref) => ref.kind === 'registry'); // an oci-layout:// model is read from disk
    const manifestPaths = new Set(remote.map((ref) => `/manifests/${ref.digest!}`));
    const requests = new Set(remote.map((ref) => `${repositoryName(ref)}@${ref.digest!}`)).size; // the cache asks once per model
    const written = requestsWritten((path) => manifestPaths.has(path.slice(path.lastIndexOf('/manifests/'))), requests, EARLY_WRITE_WAIT_MS);
    for (const ref of refs) {
      const digest = ref.digest!;
      cache.get(repositoryName(ref), digest, () => stores(ref).fetchManifest(digest, { timeoutMs: settings.registry.timeoutMs })).catch(() => undefined);
    }
    await written;
    return { settings, cache, stores };
  } catch {
    return {};
  }
}

async function run(pairs: readonly string[], options: InitOptions): Promise<number> {
  if (pairs.length % 2 !== 0) throw new UsageError('USAGE', `arguments are URI DEST pairs, got ${pairs.length} argument(s)`);
  const concurrency = integer(options.concurrency, '--concurrency', 1);
  // The requests go out before the verification code loads (module loading shares this thread).
  const early = await requestManifestsEarly(pairs, options);
  const { initModel, refusalOfUri } = await import('../init/pull.ts');
  const log = initLogger({ terminal: process.stderr.isTTY === true });
  // Malformed or unpinned URIs are refused before any configuration is loaded.
  for (let i = 0; i < pairs.length; i += 2) {
    const refusal = refusalOfUri(pairs[i]!);
    if (refusal !== undefined) return refuse(pairs[i]!, pairs[i + 1]!, refusal, options, log);
  }
  // One loader for every verifying command: flags, then MODELGATE_* (the chart renders keys, policy
  // data and, for keyless signers, the trust root inline into the storage container's env), then defaults.
  const { settings: read, cache: manifestCache, stores } = early;
  const [{ BlobCache }, loaded] = await Promise.all([import('../init/cache.ts'), loadPipelineFromOptions(options, process.env, read, stores === undefined ? {} : { stores })]);
  const { applied, settings } = loaded;
  const deps = manifestCache === undefined ? loaded.deps : { ...loaded.deps, manifestCache };
  const { dir: cacheDir, maxBytes, lockStaleMs } = settings.cache;
  // No cache directory (or an empty one): no node cache, a pod-local pull (the receipt says `cached: false`).
  const cache = cacheDir === undefined || cacheDir === '' ? undefined : new BlobCache(cacheDir, { ...(maxBytes !== undefined ? { maxBytes } : {}), ...(lockStaleMs !== undefined ? { lockStaleMs } : {}) });
  const timeoutMs = settings.registry.timeoutMs;
  const { nodePlatform, detectAccelerator } = await import('../modelpack/variants.ts');
  const variant = { ...(settings.variant.name !== undefined ? { name: settings.variant.name } : {}), node: { ...nodePlatform(), accelerator: settings.variant.accelerator ?? detectAccelerator() } };
  log({ event: 'configuration', ...applied, cache: cache?.root ?? null });
  if (options.rehash === true && cache === undefined) throw new UsageError('USAGE', '--rehash needs a cache: give --cache-dir or MODELGATE_CACHE_DIR');
  if (options.rehash === true && cache !== undefined) {
    try {
      await cache.init();
      const started = performance.now();
      const { checked, bytes, dropped } = await cache.rehash();
      const seconds = (performance.now() - started) / 1000;
      log({ event: 'rehash', checked, bytes, seconds: Number(seconds.toFixed(3)), bytesPerSecond: Math.round(bytes / Math.max(seconds, 0.001)), dropped });
    } catch (err) {
      log({ event: 'warning', code: 'CACHE', message: `cannot re-hash the node cache ${cache.root}: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  for (let i = 0; i < pairs.length; i += 2) {
    const uri = pairs[i]!;
    const dest = pairs[i + 1]!;
    const outcome = await initModel(uri, dest, { pipeline: deps, cache, concurrency, timeoutMs, log, variant });
    if (outcome.kind === 'refused') return refuse(uri, dest, outcome, options, log);
    log({ event: 'published', uri, dest, digest: outcome.digest, reused: outcome.reused, cached: outcome.receipt.cached });
  }
  return 0;
}
