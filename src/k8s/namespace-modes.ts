/**
 * Admission mode per namespace from a namespace label (`--namespace-mode-label`, default
 * `modelgate.dev/mode`).
 *
 * Owns: `NamespaceLabelModes` — reading the label through `KubeClient.readNamespace`, cached per
 * namespace with a short TTL (lru-cache, one read in flight per namespace). The answer:
 *  - label `enforce` | `warn` | `audit` → that mode;
 *  - no label (or no such namespace) → `undefined`: the caller uses the global `--mode`;
 *  - any other value → `enforce`, with a warning (a typo must not weaken admission);
 *  - the namespace cannot be read (403, timeout, API down) → `enforce`, with a warning, remembered
 *    for `errorTtlMs` only. The fallback is the stricter of the global mode and enforce, which is
 *    always enforce: the webhook never fails open because the API server is unreachable.
 * The static `--namespace-mode NS=MODE` map is applied by the reviewer before this is asked.
 */
import { LRUCache } from 'lru-cache';
import { ADMISSION_MODES, type AdmissionMode } from '../admission/review.ts';
import { ModelgateError } from '../errors.ts';
import type { KubeClient } from './client.ts';

export const DEFAULT_MODE_LABEL = 'modelgate.dev/mode';

export interface NamespaceLabelModesOptions {
  readonly client: Pick<KubeClient, 'readNamespace'>;
  readonly labelKey?: string;
  /** How long a label read is reused (default 30 s). */
  readonly ttlMs?: number;
  /** How long a failed read (answered with enforce) is reused (default 2 s). */
  readonly errorTtlMs?: number;
  /** Namespaces kept (default 1000). */
  readonly max?: number;
  /** Called when a label is invalid or cannot be read (the answer is then enforce). */
  readonly onProblem?: (problem: { namespace: string; code: string; message: string }) => void;
}

interface Entry {
  readonly mode: AdmissionMode | undefined;
}

export class NamespaceLabelModes {
  readonly #cache: LRUCache<string, Entry>;
  readonly #labelKey: string;
  readonly #errorTtlMs: number;

  constructor(options: NamespaceLabelModesOptions) {
    this.#labelKey = options.labelKey ?? DEFAULT_MODE_LABEL;
    this.#errorTtlMs = options.errorTtlMs ?? 2_000;
    const { client, onProblem } = options;
    this.#cache = new LRUCache<string, Entry>({
      max: options.max ?? 1000,
      ttl: options.ttlMs ?? 30_000,
      fetchMethod: async (namespace, _stale, { options: setOptions }) => {
        try {
          const found = await client.readNamespace(namespace);
          const value = found?.metadata?.labels?.[this.#labelKey];
          if (value === undefined) return { mode: undefined };
          if ((ADMISSION_MODES as readonly string[]).includes(value)) return { mode: value as AdmissionMode };
          onProblem?.({ namespace, code: 'INVALID_MODE_LABEL', message: `label ${this.#labelKey}=${JSON.stringify(value.slice(0, 64))} on namespace ${namespace} is not enforce|warn|audit: enforcing` });
          return { mode: 'enforce' };
        } catch (err) {
          const code = err instanceof ModelgateError ? err.code : 'K8S_UNAVAILABLE';
          onProblem?.({ namespace, code, message: `cannot read the mode label of namespace ${namespace}: ${(err as Error).message}; enforcing` });
          setOptions.ttl = this.#errorTtlMs;
          return { mode: 'enforce' };
        }
      },
    });
  }

  /** The mode the namespace's label asks for, `enforce` when it cannot be read, `undefined` without a label. */
  async modeOf(namespace: string): Promise<AdmissionMode | undefined> {
    if (namespace === '') return undefined; // cluster-scoped objects have no namespace
    const entry = await this.#cache.fetch(namespace);
    return entry === undefined ? 'enforce' : entry.mode;
  }
}
