/**
 * Parsing of command-specific option values (the pipeline settings are read by `src/config/`):
 * repeatable options, bounded integers, durations, and bounded reads of small files named by options.
 */
import { readFile } from 'node:fs/promises';
import { UsageError, type UsageErrorCode } from '../errors.ts';

/** commander accumulator for repeatable options. */
export function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

/** An integer option value ≥ `min`, or a USAGE error naming the option. */
export function integer(value: string, what: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError('USAGE', `${what} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration option value (`500ms`, `90s`, `10m`, `720h`, `365d`) in milliseconds, ≥ `minMs`.
 * Hand-written: one regular expression; no dependency of the project parses durations.
 */
export function duration(value: string, what: string, minMs = 1): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  const ms = match === null ? NaN : Number(match[1]) * DURATION_UNITS[match[2]!]!;
  if (!Number.isSafeInteger(ms) || ms < minMs) throw new UsageError('USAGE', `${what} must be a duration like 90s, 10m, 720h or 365d (at least ${minMs} ms), got "${value}"`);
  return ms;
}

const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** A small text file (key, predicate) named by an option, read whole, at most 16 MiB; errors name the file and what it is for. */
export async function readText(path: string, what: string, code: UsageErrorCode = 'USAGE'): Promise<string> {
  try {
    const bytes = await readFile(path);
    if (bytes.byteLength > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    return bytes.toString('utf8');
  } catch (err) {
    throw new UsageError(code, `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}
