/**
 * The webhook's configuration files, reloaded without a restart (revocations take effect in seconds);
 * `load.ts` builds its sources from the settings (`loadWatchedConfiguration`).
 *
 * Owns: `ConfigReloader` — the policy bundle (`--policy`), the policy data JSON (`--data`) and the
 * signer public keys (`--key`: PEM files, or directories of them such as a mounted Secret) read as one
 * immutable `ConfigSnapshot` (a self-tested `PolicyEngine` on that bundle and data, and the parsed
 * keys), then watched. Built for kubelet's ConfigMap / Secret volumes
 * (../shared/reference/kubernetes-volumes.md): a key path is a symlink through `..data`, which kubelet
 * swaps atomically, so no inode is ever watched. Every `intervalMs` (≤ 1 s), and on an event of the
 * directories holding the files that names one of them (or kubelet's `..` entries), the paths are resolved again and compared with the snapshot's: the
 * content of the data and key files, the inode / size / mtime of the bundle files — so a kubelet swap
 * and an in-place write are both seen. A poll first compares stat stamps (resolved path, inode, size,
 * mtime and ctime of every file) and reads no content when they equal the snapshot's, unless a file
 * changed within RACY_WINDOW_MS of the stamps being taken: a file system with coarse timestamps could
 * then hide a second write of the same size (git's "racily clean" rule), so the content is read again.
 * A change is applied whole or not at all: every file is re-read; the versions read must be one (the
 * resolved paths did not move while reading and building, else it reads again); the keys are parsed
 * (`parsePublicKey`), the data validated against the schema and the policy self-tested on it
 * (`PolicyEngine.withData`, or a new engine when the bundle changed). Only then does `onReload` get
 * the new snapshot. A refused version keeps the last good snapshot; it is reported once (`onError`
 * and the `configRefused` metric, by error code) and tried again when the files change again.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelgateError, UsageError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { BUNDLE_FILES, loadBundle } from '../policy/bundle.ts';
import { PolicyEngine, type EngineOptions } from '../policy/engine.ts';
import { PolicyError } from '../policy/errors.ts';
import { keyId, parsePublicKey } from '../sigstore/keys.ts';
import { systemClock, type Clock } from '../time/clock.ts';

/** The files of the configuration. */
export interface ConfigSources {
  /** Policy bundle: directory, manifest.json or tar archive (as `PolicyEngine.load`). */
  readonly bundle: string;
  /** Policy data JSON replacing the bundle's data.json (undefined: the bundle's). */
  readonly data?: string | undefined;
  /** PEM public keys: files, or directories whose every file not starting with `.` is one key. */
  readonly keys: readonly string[];
  /** Keys given inline (`MODELGATE_KEYS_PEM`): fixed for the process, appended to the files' keys. */
  readonly inlineKeys?: readonly KeyObject[];
  /** Policy data given inline (`MODELGATE_POLICY_DATA_JSON`, fixed for the process) when there is no data file. */
  readonly inlineData?: unknown;
  /**
   * The data when neither a file nor inline data is given (`src/config/load.ts` `dataTrustingSigners`:
   * the configured signers trusted, as `verify --key` does); undefined keeps the bundle's.
   */
  readonly dataWithoutFile?: (bundleData: unknown, keys: readonly KeyObject[]) => unknown;
}

/** One consistent version of the configuration. Immutable: a reload makes a new one. */
export interface ConfigSnapshot {
  /** The policy on this version's bundle and data, self-tested. */
  readonly engine: PolicyEngine;
  /** The signer keys, in the order of `ConfigSources.keys` (a directory's files by name). */
  readonly keys: readonly KeyObject[];
  readonly bundleDigest: Digest;
  readonly dataDigest: Digest;
  /** sha256 over the sorted key ids (`keyId`): changes exactly when the key set changes. */
  readonly keysDigest: string;
  /** 1 for the first load, +1 per reload applied. */
  readonly generation: number;
  /** When it was loaded (ms since the epoch, from the injected clock). */
  readonly loadedAt: number;
}

export interface ConfigReloaderOptions {
  /** Engine options other than the data (self-test, validation). */
  readonly engine?: Omit<EngineOptions, 'data'>;
  /** How often the files are polled (default and maximum 1000 ms). */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  /**
   * A new snapshot was loaded (after `start`); swap to it (e.g. `reviewer.reconfigured(...)` installed
   * with `WebhookServer.setReviewer`). Must not throw (an exception is swallowed by the poll).
   */
  readonly onReload?: (snapshot: ConfigSnapshot, previous: ConfigSnapshot) => void;
  /** A changed version was refused; `previous` keeps serving. Reported once per version. */
  readonly onError?: (err: ModelgateError, previous: ConfigSnapshot) => void;
  /** `AdmissionMetrics` fits. */
  readonly metrics?: {
    configLoaded(config: { readonly bundleDigest: string; readonly dataDigest: string; readonly keysDigest: string }, initial?: boolean): void;
    configRefused(code: string): void;
  };
}

export type CheckResult = 'unchanged' | 'applied' | 'refused';

/** Data and key files are small; anything larger is refused, not read. */
const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;
/** Reads of a version that moved underneath (a swap mid-read) before it is judged anyway. */
const MAX_ATTEMPTS = 3;
/** A stamp is trusted only when every file it covers last changed at least this long before it was taken. */
const RACY_WINDOW_MS = 2000;

interface FileRead {
  readonly path: string;
  readonly resolved: string;
  readonly bytes: Buffer;
}

/** What was read of one version, with what identifies it. */
interface Version {
  /** sha256 over the bundle stamp, the data bytes and every key path and bytes. */
  readonly fingerprint: string;
  /** Resolved path, inode, size and mtime of each bundle file (not read unless changed). */
  readonly bundleStamp: string;
  readonly data: FileRead | undefined;
  readonly keys: readonly FileRead[];
  /** Every resolved path read (the version is one if they have not moved after the build). */
  readonly resolved: string;
  /** Stat stamps of every file, taken before reading (undefined when a file could not be stat'ed). */
  readonly stamps: FileStamps | undefined;
}

/** What `statStamps` saw: the stamps, and whether they may stand for the content (no racy change). */
interface FileStamps {
  readonly text: string;
  readonly settled: boolean;
}

interface Current {
  readonly snapshot: ConfigSnapshot;
  readonly version: Version;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The same error, its message prefixed with what was being read (code kept for metrics and callers). */
function naming(err: unknown, what: string): ModelgateError {
  if (err instanceof ModelgateError) return new ModelgateError(err.code, `${what}: ${err.message}`, { cause: err });
  return new ModelgateError('INTERNAL', `${what}: ${message(err)}`, { cause: err });
}

async function readConfigFile(path: string, what: string): Promise<FileRead> {
  try {
    const resolved = await realpath(path);
    const info = await stat(resolved);
    if (info.size > MAX_CONFIG_FILE_BYTES) throw new Error(`larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    return { path, resolved, bytes: await readFile(resolved) };
  } catch (err) {
    throw new UsageError('CONFIG', `cannot read ${what} ${path}: ${message(err)}`, { cause: err });
  }
}

/** The key files a key source names: itself, or a directory's visible regular files by name. */
async function keyFiles(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path); // follows symlinks (a mounted Secret's key is one)
  } catch (err) {
    throw new UsageError('CONFIG', `cannot read public key ${path}: ${message(err)}`, { cause: err });
  }
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((name) => !name.startsWith('.')).sort();
  const files: string[] = [];
  for (const name of names) {
    const file = join(path, name);
    if ((await stat(file).catch(() => undefined))?.isFile() === true) files.push(file);
  }
  if (files.length === 0) throw new UsageError('CONFIG', `public key directory ${path} holds no key file`);
  return files;
}

/** Stat stamps of the bundle files (a directory's manifest.json, policy.wasm, data.json; else the file). */
async function bundleStamp(path: string): Promise<{ stamp: string; resolved: string[]; changedMs: number[] }> {
  const stampOf = async (file: string): Promise<{ stamp: string; resolved: string; changedMs: number }> => {
    try {
      const resolved = await realpath(file);
      const info = await stat(resolved, { bigint: true });
      return { stamp: `${resolved} ${info.ino} ${info.size} ${info.mtimeNs}`, resolved, changedMs: Number((info.mtimeNs > info.ctimeNs ? info.mtimeNs : info.ctimeNs) / 1_000_000n) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { stamp: `${file} absent`, resolved: `${file} absent`, changedMs: 0 };
      throw new UsageError('CONFIG', `cannot read policy bundle ${file}: ${message(err)}`, { cause: err });
    }
  };
  const isDir = (await stat(path).catch(() => undefined))?.isDirectory() === true;
  const files = isDir ? ['manifest.json', ...BUNDLE_FILES].map((name) => join(path, name)) : [path];
  const stamps = await Promise.all(files.map(stampOf));
  return { stamp: stamps.map((s) => s.stamp).join('\n'), resolved: stamps.map((s) => s.resolved), changedMs: stamps.map((s) => s.changedMs) };
}

/**
 * Stat stamps of every file a version reads, without reading any: the bundle's, then the data file's
 * and each key file's resolved path, inode, size, mtime and ctime. Undefined when one cannot be
 * stat'ed (the full read reports why).
 */
async function statStamps(sources: ConfigSources, takenAt: number): Promise<FileStamps | undefined> {
  try {
    const bundle = await bundleStamp(sources.bundle);
    const files = sources.data === undefined ? [] : [sources.data];
    for (const source of sources.keys) files.push(...(await keyFiles(source)));
    let newestChangeMs = 0;
    const stamps = await Promise.all(files.map(async (file) => {
      const resolved = await realpath(file);
      const info = await stat(resolved, { bigint: true });
      newestChangeMs = Math.max(newestChangeMs, Number(info.mtimeNs / 1_000_000n), Number(info.ctimeNs / 1_000_000n));
      return `${file} ${resolved} ${info.ino} ${info.size} ${info.mtimeNs} ${info.ctimeNs}`;
    }));
    newestChangeMs = Math.max(newestChangeMs, ...bundle.changedMs);
    return { text: [bundle.stamp, ...stamps].join('\n'), settled: newestChangeMs < takenAt - RACY_WINDOW_MS };
  } catch {
    return undefined;
  }
}

/** Read one version; `taken`: stamps taken just before (else taken here, before reading). */
async function readVersion(sources: ConfigSources, now: number, taken?: FileStamps): Promise<Version> {
  const stamps = taken ?? (await statStamps(sources, now));
  const bundle = await bundleStamp(sources.bundle);
  const data = sources.data === undefined ? undefined : await readConfigFile(sources.data, 'policy data');
  const keys: FileRead[] = [];
  for (const source of sources.keys) for (const file of await keyFiles(source)) keys.push(await readConfigFile(file, 'public key'));
  const hash = createHash('sha256').update(bundle.stamp).update('\0data\0');
  if (data !== undefined) hash.update(data.bytes);
  for (const key of keys) hash.update(`\0key\0${key.path}\0`).update(key.bytes);
  const resolved = [...bundle.resolved, ...(data ? [data.resolved] : []), ...keys.map((k) => `${k.path} ${k.resolved}`)].join('\n');
  return { fingerprint: hash.digest('hex'), bundleStamp: bundle.stamp, data, keys, resolved, stamps };
}

/** Where the configuration's paths point now (cheap: no file is read). */
async function resolveAll(sources: ConfigSources): Promise<string | undefined> {
  try {
    const bundle = await bundleStamp(sources.bundle);
    const data = sources.data === undefined ? [] : [await realpath(sources.data)];
    const keys: string[] = [];
    for (const source of sources.keys) for (const file of await keyFiles(source)) keys.push(`${file} ${await realpath(file)}`);
    return [...bundle.resolved, ...data, ...keys].join('\n');
  } catch {
    return undefined;
  }
}

export function keysDigestOf(keys: readonly KeyObject[]): string {
  return createHash('sha256').update(keys.map((k) => keyId(k)).sort().join('\n')).digest('hex');
}

/**
 * The directories to watch and, for each, which event names wake a check: the configuration files
 * in it (any name in a key directory or the bundle directory) and kubelet's `..data` /
 * `..<timestamp>` entries. A log file or another busy neighbour must not make the webhook re-read
 * its configuration; a `null` name (the platform did not say) always wakes it.
 */
export function watchPlan(sources: ConfigSources): Map<string, (filename: string | null) => boolean> {
  const dirs = new Map<string, Set<string>>();
  const relevant = (dir: string, name: string): void => {
    dirs.set(dir, (dirs.get(dir) ?? new Set<string>()).add(name));
  };
  relevant(sources.bundle, '*');
  relevant(dirname(sources.bundle), basename(sources.bundle));
  if (sources.data !== undefined) relevant(dirname(sources.data), basename(sources.data));
  for (const key of sources.keys) {
    relevant(key, '*');
    relevant(dirname(key), basename(key));
  }
  return new Map([...dirs].map(([dir, names]) => [dir, (filename: string | null) => filename === null || names.has('*') || names.has(filename) || filename.startsWith('..')]));
}

export class ConfigReloader {
  readonly #sources: ConfigSources;
  readonly #options: ConfigReloaderOptions;
  readonly #clock: Clock;
  #current: Current;
  /** Fingerprint of the last version refused (reported once). */
  #refused: string | undefined;
  #checking: Promise<CheckResult> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #watchers: FSWatcher[] = [];

  private constructor(sources: ConfigSources, options: ConfigReloaderOptions, current: Current) {
    this.#sources = sources;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#current = current;
  }

  /**
   * Read and check the configuration once (not watched yet: `start`). Throws the coded error of the
   * first problem (CONFIG, KEY, DATA_INVALID, BUNDLE_*, SELF_TEST_FAILED), its message naming the file.
   */
  static async load(sources: ConfigSources, options: ConfigReloaderOptions = {}): Promise<ConfigReloader> {
    const outcome = await readAndBuild(sources, options, undefined, undefined, (options.clock ?? systemClock).now());
    if (outcome.kind === 'failed') throw outcome.error;
    if (outcome.kind !== 'built') throw new Error('unreachable: nothing to compare with on the first load');
    options.metrics?.configLoaded(outcome.current.snapshot, true);
    return new ConfigReloader(sources, options, outcome.current);
  }

  /** The snapshot in effect. */
  get current(): ConfigSnapshot {
    return this.#current.snapshot;
  }

  /** Poll every `intervalMs` and wake on directory events; idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    const intervalMs = Math.min(Math.max(this.#options.intervalMs ?? 1000, 10), 1000);
    const poll = (): void => void this.check().catch(() => undefined); // only a throwing callback rejects
    this.#timer = setInterval(poll, intervalMs);
    this.#timer.unref();
    for (const [dir, matters] of watchPlan(this.#sources)) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, filename) => {
          if (matters(filename)) poll();
        });
        watcher.on('error', () => undefined); // the poll still runs
        this.#watchers.push(watcher);
      } catch {
        // not a directory, or not watchable here: the poll covers it
      }
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
  }

  /**
   * Look at the files now and apply a changed version (what the poll calls). Checks never overlap: a
   * call during a check makes it look once more when it ends.
   */
  check(): Promise<CheckResult> {
    if (this.#checking !== undefined) {
      this.#again = true;
      return this.#checking;
    }
    const running = this.#checkOnce().finally(() => {
      this.#checking = undefined;
      if (this.#again) {
        this.#again = false;
        void this.check().catch(() => undefined);
      }
    });
    this.#checking = running;
    return running;
  }

  async #checkOnce(): Promise<CheckResult> {
    const previous = this.#current;
    const outcome = await readAndBuild(this.#sources, this.#options, previous, this.#refused, this.#clock.now());
    switch (outcome.kind) {
      case 'unchanged':
        // The same content read again: its newer stamps may now be settled, so later polls can stop reading.
        if (outcome.stamps !== undefined && this.#current === previous) this.#current = { ...previous, version: { ...previous.version, stamps: outcome.stamps } };
        return 'unchanged';
      case 'refused-before':
        return 'refused';
      case 'failed':
        if (outcome.fingerprint === this.#refused) return 'refused'; // already reported
        this.#refused = outcome.fingerprint;
        this.#options.metrics?.configRefused(outcome.error.code);
        this.#options.onError?.(outcome.error, previous.snapshot);
        return 'refused';
      case 'built':
        this.#current = outcome.current;
        this.#refused = undefined;
        this.#options.metrics?.configLoaded(outcome.current.snapshot);
        this.#options.onReload?.(outcome.current.snapshot, previous.snapshot);
        return 'applied';
    }
  }
}

type Outcome = { readonly kind: 'refused-before' } | { readonly kind: 'unchanged'; readonly stamps?: FileStamps | undefined } | { readonly kind: 'built'; readonly current: Current } | { readonly kind: 'failed'; readonly fingerprint: string; readonly error: ModelgateError };

/**
 * Read the version the files hold now and, when it differs from `previous` (and from the version
 * already `refused`), build its snapshot. A version whose paths moved while it was read and built (a
 * swap mid-read: possibly a mix, or a file gone) is read again, up to MAX_ATTEMPTS times.
 */
async function readAndBuild(sources: ConfigSources, options: ConfigReloaderOptions, previous: Current | undefined, refused: string | undefined, now: number): Promise<Outcome> {
  const known = previous?.version.stamps;
  // Stamps taken by the check below stand for the first read too (taken before it, as readVersion would).
  let taken: FileStamps | undefined;
  if (known?.settled === true && refused === undefined) {
    // Nothing to read when no file moved or changed since the snapshot's version was read.
    taken = await statStamps(sources, now);
    if (taken?.text === known.text) return { kind: 'unchanged' };
  }
  for (let attempt = 1; ; attempt++) {
    let version: Version | undefined;
    let outcome: Outcome;
    try {
      version = await readVersion(sources, now, attempt === 1 ? taken : undefined);
      if (version.fingerprint === previous?.version.fingerprint) return { kind: 'unchanged', stamps: version.stamps };
      if (version.fingerprint === refused) return { kind: 'refused-before' };
      const snapshot = await build(sources, options, version, previous, (previous?.snapshot.generation ?? 0) + 1, now);
      outcome = { kind: 'built', current: { snapshot, version } };
    } catch (err) {
      const error = err instanceof ModelgateError ? err : naming(err, 'configuration');
      outcome = { kind: 'failed', fingerprint: version?.fingerprint ?? `unreadable ${error.code} ${error.message}`, error };
    }
    const stable = version !== undefined && (await resolveAll(sources)) === version.resolved;
    if (stable || attempt >= MAX_ATTEMPTS) return outcome;
  }
}

/** Parse, validate and self-test one version; reuse what did not change from `previous`. */
async function build(sources: ConfigSources, options: ConfigReloaderOptions, version: Version, previous: Current | undefined, generation: number, now: number): Promise<ConfigSnapshot> {
  const keys = [
    ...version.keys.map((file) => {
      try {
        return parsePublicKey(file.bytes.toString('utf8'));
      } catch (err) {
        throw naming(err, `public key ${file.path}`);
      }
    }),
    ...(sources.inlineKeys ?? []),
  ];
  let data: unknown = sources.inlineData;
  if (version.data !== undefined) {
    try {
      data = JSON.parse(version.data.bytes.toString('utf8'));
    } catch (err) {
      throw new PolicyError('DATA_INVALID', `policy data ${version.data.path} is not valid JSON: ${message(err)}`, { cause: err });
    }
  }
  const sameBundle = previous !== undefined && previous.version.bundleStamp === version.bundleStamp;
  let engine: PolicyEngine;
  try {
    const bundle = sameBundle ? previous.snapshot.engine.bundle : await loadBundle(sources.bundle);
    if (data === undefined && sources.dataWithoutFile !== undefined) data = sources.dataWithoutFile(bundle.data, keys);
    const sameData = previous !== undefined && JSON.stringify(previous.snapshot.engine.data) === JSON.stringify(data ?? bundle.data);
    if (sameBundle && sameData) engine = previous.snapshot.engine;
    else if (sameBundle) engine = await previous.snapshot.engine.withData(data ?? bundle.data);
    else engine = await PolicyEngine.fromBundle(bundle, data === undefined ? { ...options.engine } : { ...options.engine, data });
  } catch (err) {
    throw naming(err, version.data !== undefined ? `policy bundle ${sources.bundle} with data ${version.data.path}` : `policy bundle ${sources.bundle}`);
  }
  return { engine, keys, bundleDigest: engine.bundleDigest, dataDigest: engine.dataDigest, keysDigest: keysDigestOf(keys), generation, loadedAt: now };
}
