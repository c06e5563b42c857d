/**
 * Manifests fetched by digest, shared by every decision of a long-running shell (the admission webhook).
 *
 * Owns: `ManifestCache` — a size-bounded LRU with a time-to-live and single-flight of manifests read
 * *by digest* (content-addressed: the store has verified the bytes against the digest, so one fetch
 * serves every decision naming that digest, whatever its usage site, user or policy). Tags are never
 * looked up here (`MemoStore` only asks for digest selectors): what a tag names is resolved afresh by
 * every decision. Keyed by (repository, digest): the same digest in another repository is another
 * question (it may not exist there). Not keyed by credentials: like the evidence cache, a decision
 * grants no pull access (the model's pod pulls with its own credentials). Failures of the registry
 * (not found, unauthorised, 5xx, timeouts) are kept for the short `negativeTtlMs` only, so a failing
 * registry is asked once per window instead of once per decision; an aborted caller is never cached.
 * The shared fetch runs under its own timeout, not a caller's signal: a caller whose deadline passes
 * stops waiting (ABORTED) without failing the others. Time comes from the injected `Clock`.
 */
import { LRUCache } from 'lru-cache';
import { hasCode, OciError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { FetchedManifest } from '../oci/manifest.ts';
import { systemClock, type Clock } from '../time/clock.ts';

export interface ManifestCacheOptions {
  /** Bytes of manifests kept (default 64 MiB; a manifest is typically a few KiB). */
  readonly maxBytes?: number;
  /** How long a fetched manifest is reused (default 60 s). Its bytes never change; this bounds how long a deleted one is still seen. */
  readonly ttlMs?: number;
  /** How long a failed fetch is remembered (default 1 s; 0 keeps none). */
  readonly negativeTtlMs?: number;
  readonly clock?: Clock;
}

type Entry = { readonly manifest: FetchedManifest } | { readonly error: unknown };

/** Stop waiting for `promise` when `signal` aborts (the work behind it goes on for the others; also used by `datasets.ts`). */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new OciError('ABORTED', `${what}: aborted`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new OciError('ABORTED', `${what}: aborted`));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class ManifestCache {
  readonly #lru: LRUCache<string, Entry>;
  readonly #inflight = new Map<string, Promise<FetchedManifest>>();
  readonly #negativeTtlMs: number;
  #fetches = 0;

  constructor(options: ManifestCacheOptions = {}) {
    this.#negativeTtlMs = options.negativeTtlMs ?? 1_000;
    this.#lru = new LRUCache<string, Entry>({
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (entry) => ('manifest' in entry ? Math.max(1, entry.manifest.bytes.byteLength) : 1),
      ttl: options.ttlMs ?? 60_000,
      ttlResolution: 0,
      perf: options.clock ?? systemClock,
    });
  }

  /**
   * The manifest `digest` of `repository`: kept, being fetched (joined), else `fetch()`ed. `fetch`
   * must ask for exactly that digest (its result is verified against it by the store) and bound itself
   * with a timeout; `signal` only stops this caller's wait.
   */
  async get(repository: string, digest: Digest, fetch: () => Promise<FetchedManifest>, signal?: AbortSignal): Promise<FetchedManifest> {
    const key = `${repository}@${digest}`;
    const kept = this.#lru.get(key);
    if (kept !== undefined) {
      if ('manifest' in kept) return kept.manifest;
      throw kept.error;
    }
    let running = this.#inflight.get(key);
    if (running === undefined) {
      this.#fetches++;
      running = fetch().then(
        (manifest) => {
          if (manifest.descriptor.digest === digest) this.#lru.set(key, { manifest });
          return manifest;
        },
        (error: unknown) => {
          if (this.#negativeTtlMs > 0 && error instanceof OciError && !hasCode(error, OciError, 'ABORTED')) this.#lru.set(key, { error }, { ttl: this.#negativeTtlMs });
          throw error;
        },
      );
      const settled = running.finally(() => this.#inflight.delete(key));
      settled.catch(() => undefined);
      this.#inflight.set(key, running);
    }
    return unlessAborted(running, signal, `manifest ${key}`);
  }

  /** Fetches started (misses that were not joined to a running fetch): for tests and metrics. */
  get fetches(): number {
    return this.#fetches;
  }

  get size(): number {
    return this.#lru.size;
  }
}
