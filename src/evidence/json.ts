/**
 * Parsed JSON, looked at before it is trusted.
 *
 * Owns: `isRecord`, the one test for "a JSON object" (not null, not an array) every parser of
 * evidence, policy data and configuration uses.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
