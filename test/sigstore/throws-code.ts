/** Test helper: assert that a synchronous call throws a VerificationError with the given code. */
import { VerificationError } from '../../src/sigstore/errors.ts';

interface Asserter {
  ok(value: any, ...rest: any[]): unknown;
  fail(...rest: any[]): unknown;
}

export function throwsCode(t: Asserter, fn: () => unknown, code: string, what: string): void {
  try {
    fn();
    t.fail(`${what}: expected ${code}, nothing thrown`);
  } catch (err) {
    t.ok(err instanceof VerificationError && err.code === code, `${what}: ${code}`, { found: String(err) });
  }
}
