/**
 * Test helper: assert that a promise rejects with a ModelgateError carrying one of the given codes
 * (tap's `t.rejects` treats a predicate function as a constructor, so it cannot check codes).
 */
import { ModelgateError, type ErrorCode } from '../../src/errors.ts';

interface Asserter {
  ok(value: any, ...rest: any[]): unknown;
  fail(...rest: any[]): unknown;
}

/** Resolves with the error so callers can check its message too. */
export async function rejectsWith(t: Asserter, promise: Promise<unknown>, codes: readonly ErrorCode[], message?: string): Promise<ModelgateError | undefined> {
  try {
    await promise;
  } catch (err) {
    const code = err instanceof ModelgateError ? err.code : undefined;
    t.ok(code !== undefined && codes.includes(code), message ?? `rejects with ${codes.join(' or ')}`, {
      found: err instanceof Error ? `${err.name} ${code ?? ''}: ${err.message}` : String(err),
    });
    return err instanceof ModelgateError ? err : undefined;
  }
  t.fail(message ?? `expected a rejection with ${codes.join(' or ')}, but it resolved`);
  return undefined;
}
