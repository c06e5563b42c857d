/**
 * Certificate identity patterns: cosign's `--certificate-identity-regexp` /
 * `--certificate-oidc-issuer-regexp` and the policy data's `signers.identityPatterns`.
 *
 * Owns: compiling an `IdentityPattern` (the type is `src/evidence/signers.ts`'s: a pattern compiled once, matched against whole SANs / issuers),
 * `compileIdentityPattern` (the acceptance rules) and `identityMatches` (exact string or pattern).
 * Rules: a pattern must be written anchored (`^…$`), so what it trusts is visible where it is
 * written; it is compiled as `^(?:…)$`, so a top-level alternation cannot escape the anchors. Patterns
 * that may backtrack catastrophically (nested or overlapping quantifiers, per `safe-regex2`), that do
 * not compile, or that are longer than 1,024 characters are refused. Callers decide the error class
 * (`fail`): USAGE for command-line flags, DATA_INVALID for policy data.
 */
import { createRequire } from 'node:module';
import type { IdentityPattern } from '../evidence/signers.ts';

export const MAX_IDENTITY_PATTERN_LENGTH = 1024;

// safe-regex2 (and its regex parser, a dozen modules) is loaded on the first pattern compiled, not by
// every command that reads settings: most configurations name no identity pattern at all.
let safeRegexCheck: ((regex: RegExp) => boolean) | undefined;
function isSafeRegex(regex: RegExp): boolean {
  safeRegexCheck ??= createRequire(import.meta.url)('safe-regex2') as (regex: RegExp) => boolean;
  return safeRegexCheck(regex);
}

export type { IdentityPattern } from '../evidence/signers.ts';

/** Whether the `$` at the end of `source` is an anchor (not escaped by an odd run of backslashes). */
function endsWithAnchor(source: string): boolean {
  if (!source.endsWith('$')) return false;
  let backslashes = 0;
  for (let i = source.length - 2; i >= 0 && source[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** Compile `source` or call `fail` with why it is refused (never returns a pattern that is unsafe or unanchored). */
export function compileIdentityPattern(source: string, fail: (why: string) => never): IdentityPattern {
  const shown = JSON.stringify(source);
  if (source.length > MAX_IDENTITY_PATTERN_LENGTH) fail(`identity pattern ${shown.slice(0, 80)}… is longer than ${MAX_IDENTITY_PATTERN_LENGTH} characters`);
  if (!source.startsWith('^') || !endsWithAnchor(source) || source.length < 2) {
    fail(`identity pattern ${shown} is not anchored: write it as ^…$ so it matches the whole identity (e.g. ^https://github\\.com/acme/.+$)`);
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${source.slice(1, -1)})$`);
  } catch (err) {
    fail(`identity pattern ${shown} is not a valid regular expression: ${(err as Error).message}`);
  }
  if (!isSafeRegex(regex)) fail(`identity pattern ${shown} may backtrack catastrophically (nested or repeated quantifiers); simplify it`);
  return { source, regex };
}

/** An exact value or a compiled pattern, matched against the whole `actual`. */
export function identityMatches(expected: string | IdentityPattern, actual: string): boolean {
  return typeof expected === 'string' ? actual === expected : expected.regex.test(actual);
}

/** How an expected identity is shown in messages: the exact value, or `/pattern/`. */
export function describeExpected(expected: string | IdentityPattern): string {
  return typeof expected === 'string' ? JSON.stringify(expected) : `pattern ${expected.source}`;
}
