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
  const settings: PinoOptions = {
    level: options.level ?? 'info',
    base: { service: options.service },
    timestamp: () => `,"time":"${new Date(clock.now()).toISOString()}"`,
    formatters: { level: (label) => ({ level: label }), log: (object) => redactSecrets(object) },
  };
  if (options.write === undefined && !pretty && options.sync === false) return pino(settings, pino.destination({ dest: 1, sync: false }));
  return pino(settings, { write: pretty ? (line: string) => write(humanLine(line)) : write });
}

/** `2026-12-06T10:00:00.000Z info  decision message key=value …` from one JSON line. */
export function humanLine(json: string): string {
  const { time, level, service: _service, event, msg, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${[time, String(level).padEnd(5), event, msg, ...rest].filter((p) => p !== undefined && p !== '').join(' ')}\n`;
}
