/**
 * The one logger of modelgate's long-running modes (`webhook`, `init`): pino, one line per event.
 *
 * Owns: the log line's shape — `time` (ISO 8601, from the injected clock), `level` (a label), `service`,
 * `event` (a stable name: `decision`, `refused`, `warning`, `ready`, `reload`, …; README "Logs" lists
 * them), the event's fields, and `msg` (human, may change) — and what is never written: credentials
 * (authorization headers, passwords, tokens, private keys, passphrases) are redacted by path before a
 * line is formatted. Lines are JSON unless the destination is a terminal, where they are one
 * human-readable line each. One-shot commands do not log: they print results.
 *
 * pino is loaded on the first `createLogger` call (not when this module is imported), so commands
 * that never log — and `--version` — do not load it.
 */
import { createRequire } from 'node:module';
import type { Logger, LoggerOptions as PinoOptions } from 'pino';
import { systemClock, type Clock } from '../time/clock.ts';

export type { Logger };

/** Field paths never written (their value becomes `[redacted]`), at the top level and one object down. */
const SECRET_KEYS = [
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
];
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
];

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
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
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
