/**
 * The subset of Go's `golang.org/x/mod/semver` that slsa-verifier's tag checks rely on.
 *
 * Owns: `isValid`, `canonical`, `major`, `prerelease`, `build` with Go's exact semantics: a leading
 * `v` is required, `vMAJOR` and `vMAJOR.MINOR` shorthands are valid (without pre-release/build) and
 * canonicalise to `.0`, build metadata is dropped by `canonical`. Written by hand because the npm
 * `semver` package has different rules (no `v` requirement, no shorthands, loose/coerce modes).
 */

interface Parsed {
  major: string;
  minor: string;
  patch: string;
  short: string; // '.0.0' or '.0' appended for shorthands
  prerelease: string; // including the leading '-'
  build: string; // including the leading '+'
}

function isNum(s: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(s);
}

function isIdentList(s: string, allowLeadingZeros: boolean): boolean {
  if (s.length === 0) return false;
  return s.split('.').every((id) => {
    if (!/^[0-9A-Za-z-]+$/.test(id)) return false;
    if (!allowLeadingZeros && /^[0-9]+$/.test(id) && !isNum(id)) return false;
    return true;
  });
}

function parse(v: string): Parsed | undefined {
  const m = /^v([0-9]+)(?:\.([0-9]+)(?:\.([0-9]+)(?:-([^+]*))?(?:\+(.*))?)?)?$/.exec(v);
  if (m === null) return undefined;
  const [, major = '', minor, patch, pre, build] = m;
  if (!isNum(major)) return undefined;
  if (minor === undefined) {
    return { major, minor: '0', patch: '0', short: '.0.0', prerelease: '', build: '' };
  }
  if (!isNum(minor)) return undefined;
  if (patch === undefined) {
    return { major, minor, patch: '0', short: '.0', prerelease: '', build: '' };
  }
  if (!isNum(patch)) return undefined;
  if (pre !== undefined && !isIdentList(pre, false)) return undefined;
  if (build !== undefined && !isIdentList(build, true)) return undefined;
  return { major, minor, patch, short: '', prerelease: pre === undefined ? '' : `-${pre}`, build: build === undefined ? '' : `+${build}` };
}

export function isValid(v: string): boolean {
  return parse(v) !== undefined;
}

/** `v1` → `v1.0.0`, `v1.2.3+meta` → `v1.2.3`; '' when invalid. */
export function canonical(v: string): string {
  const p = parse(v);
  if (p === undefined) return '';
  return `v${p.major}.${p.minor}.${p.patch}${p.prerelease}`;
}

/** `v1.2.3` → `v1`; '' when invalid. */
export function major(v: string): string {
  const p = parse(v);
  return p === undefined ? '' : `v${p.major}`;
}

export function prerelease(v: string): string {
  return parse(v)?.prerelease ?? '';
}

export function build(v: string): string {
  return parse(v)?.build ?? '';
}
