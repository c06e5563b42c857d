/**
 * The clock every time-dependent decision reads (cache expiry, policy exceptions, cache leases,
 * review deadlines, token lifetimes). Production code takes a `Clock` (default `systemClock`);
 * tests inject a `ManualClock` and move it instead of waiting on wall time.
 *
 * Owns: the `Clock` interface, the system clock and the manual test clock. Elapsed-time measurements
 * for logs and metrics (rates, durations) may use `performance.now()` directly: no decision rests on them.
 */

/** Milliseconds since the Unix epoch, as `Date.now()` gives them. */
export interface Clock {
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to (tests). */
export class ManualClock implements Clock {
  #now: number;
  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Move forward by `ms` (never backwards). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`a clock moves forward only, got ${ms} ms`);
    this.#now += ms;
  }
  /** Jump to an absolute time (tests of fixed instants such as a validity boundary). */
  set(epochMs: number): void {
    this.#now = epochMs;
  }
}
