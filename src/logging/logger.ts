/**
 * The one logger of modelgate's long-running modes (`webhook`, `init`): pino, one line per event.
 *
 * Owns: the log line's shape — `time` (ISO 8601, from the injected clock), `level` (a label), `service`,
 * `event` (a stable name: `decision`, `refused`, `warning`, `ready`, `reload`, …; README "Logs" lists
 * them), the event's fields, and `msg` (human, may change) — and what is never written: credentials
 * (authorization headers, passwords, tokens, private keys, passphrases) are redacted by field name
 * (`redactSecrets`) before a line is formatted. Lines are JSON unless the destination is a terminal, where they are one
 * human-readable line each. One-shot commands do not log: they print results.
 *
 * The webhook's lines go to stdout asynchronously, one write per event-loop turn (`TurnBatchedLines`).
 *
 * pino is loaded on the first `createLogger` call (not when this module is imported), so commands
 * that never log — and `--version` — do not load it.
 */
import { createRequire } from 'node:module';
import type { Logger, LoggerOptions as PinoOptions } from 'pino';
import { systemClock, type Clock } from '../time/clock.ts';

export type { Logger };

/** Field names never written (their value becomes `[redacted]`), wherever they stand in a line (`redactSecrets`). */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'Authorization',
  'password',
  'passphrase',
  'token',
  'accessToken',
  'identityToken',
  'registryToken',
  'bearer',
  'auth',
  'privateKey',
  'keyPem',
  'cookie',
]);
const CENSOR = '[redacted]';

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Objects nested deeper than this in a log line are not looked into (lines are flat by design). */
const REDACT_DEPTH = 4;

/**
 * The log object with every secret field (a `SECRET_KEYS` name, in objects up to four levels deep, e.g.
 * `err.headers.authorization`) replaced by `[redacted]`; the same object when it has none, so the
 * common line costs a key scan and no copy. (pino's path-based `redact` did this at about a tenth of
 * the webhook's CPU per review.)
 */
export function redactSecrets(object: Record<string, unknown>, depth = 1): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in object) {
    const value = object[key];
    const replacement = SECRET_KEYS.has(key) ? CENSOR : depth < REDACT_DEPTH && isPlainObject(value) ? redactSecrets(value, depth + 1) : value;
    if (replacement !== value) (out ??= { ...object })[key] = replacement;
  }
  return out ?? object;
}

export interface LoggerOptions {
  /** `service` field of every line, e.g. `modelgate-webhook`. */
  readonly service: string;
  /** pino level name (default `info`). */
  readonly level?: string;
  /** Where lines go (default: stdout). */
  readonly write?: (line: string) => void;
  /** Human-readable lines instead of JSON (default: when writing to stdout and stdout is a terminal). */
  readonly pretty?: boolean;
  /**
   * Default stdout, JSON: false writes asynchronously (a line waits for the write in flight and goes out
   * with the next; nothing waits on a write(2) per line; what is buffered is flushed at exit).
   */
  readonly sync?: boolean;
  readonly clock?: Clock;
}

const require = createRequire(import.meta.url);

export function createLogger(options: LoggerOptions): Logger {
  const { pino } = require('pino') as typeof import('pino');
  const clock = options.clock ?? systemClock;
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const pretty = options.pretty ?? (options.write === undefined && process.stdout.isTTY === true);
  let stampedAt = Number.NaN;
  let stamp = '';
  const settings: PinoOptions = {
    level: options.level ?? 'info',
    base: { service: options.service },
    timestamp: () => {
      // Lines of the same millisecond share one formatted time (a busy webhook logs many per ms).
      const now = clock.now();
      if (now !== stampedAt) stamp = `,"time":"${new Date((stampedAt = now)).toISOString()}"`;
      return stamp;
    },
    formatters: { level: (label) => ({ level: label }), log: (object) => redactSecrets(object) },
  };
  if (options.write === undefined && !pretty && options.sync === false) {
    // The batcher's exit hook is registered before pino's own (on creating the destination), so lines
    // of the last turn reach the destination before it is flushed.
    const lines = new TurnBatchedLines();
    lines.into(pino.destination({ dest: 1, sync: false }));
    return pino(settings, lines);
  }
  return pino(settings, { write: pretty ? (line: string) => write(humanLine(line)) : write });
}

/** Where `TurnBatchedLines` hands its lines: pino's asynchronous destination (sonic-boom). */
export interface LineDestination {
  write(text: string): unknown;
  flushSync?(): void;
}

/**
 * A pino destination that collects the lines logged during one event-loop turn and hands them to the
 * real destination as one write when the turn ends (`setImmediate`); what is pending at process exit
 * is handed over and flushed synchronously. Under load a turn answers tens of reviews: sonic-boom
 * appends each write to its pending buffer and measures that whole buffer again (`Buffer.byteLength`)
 * on every call, so a line per call cost more than its formatting; one call per turn does not. Lines
 * keep their order and are never held past the turn they were logged in.
 */
export class TurnBatchedLines {
  #lines: string[] = [];
  #dest: LineDestination | undefined;
  #scheduled = false;
  readonly #flushTurn = (): void => {
    this.#scheduled = false;
    this.#handOver();
  };

  constructor() {
    process.once('exit', () => this.flushSync());
  }

  /** Set the destination (once, before the first line). */
  into(dest: LineDestination): this {
    this.#dest = dest;
    return this;
  }

  write(line: string): void {
    this.#lines.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushTurn);
    }
  }

  /** Hand the pending lines over now and flush the destination synchronously (exit). */
  flushSync(): void {
    this.#handOver();
    try {
      this.#dest?.flushSync?.();
    } catch {
      // Exiting: a destination that cannot flush (closed, not open yet) loses what it holds, as before.
    }
  }

  #handOver(): void {
    if (this.#lines.length === 0 || this.#dest === undefined) return;
    const text = this.#lines.length === 1 ? this.#lines[0]! : this.#lines.join('');
    this.#lines = [];
    this.#dest.write(text);
  }
}

/** `2026-12-06T10:00:00.000Z info  decision message key=value …` from one JSON line. */
export function humanLine(json: string): string {
  const { time, level, service: _service, event, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${[time, String(level).padEnd(5), event, msg, ...rest].filter((p) => p !== undefined && p !== '').join(' ')}\n`;
}
