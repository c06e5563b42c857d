/**
 * The packages of a training environment, read from the lockfiles at the top of its source tree.
 *
 * Owns: `readEnvironmentPackages` and one small parser per lockfile format: npm `package-lock.json`
 * (v2/v3 `packages`, with their `license`), pip `requirements*.txt` (only `name==version` pins),
 * `Pipfile.lock`, `poetry.lock` and `uv.lock` (TOML, `smol-toml`), conda `environment.yml` (conda
 * `name=version[=build]` specs and its `pip:` pins) and `conda-lock.yml` (`yaml`). Which files count as
 * lockfiles is `source-tree.ts`'s `findLockfiles`; formats it lists that are not parsed here
 * (pnpm-lock.yaml, yarn.lock, Cargo.lock, go.sum) are reported as skipped, never guessed at. A
 * lockfile that cannot be parsed is a LOCKFILE error naming it: an SBOM that silently lacks a
 * lockfile's packages would be wrong.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { EmitError } from './errors.ts';
import { findLockfiles } from './source-tree.ts';
import { isRecord } from '../evidence/json.ts';

export type Ecosystem = 'npm' | 'pypi' | 'conda';

export interface EnvironmentPackage {
  readonly ecosystem: Ecosystem;
  readonly name: string;
  readonly version: string;
  /** SPDX expression or licence name, when the lockfile records one (npm). */
  readonly license?: string;
  /** The lockfile it came from. */
  readonly lockfile: string;
}

export interface EnvironmentPackages {
  readonly packages: readonly EnvironmentPackage[];
  /** Lockfiles read, with their sha256. */
  readonly lockfiles: readonly { readonly name: string; readonly sha256: string }[];
  /** Lockfiles found but of a format not parsed. */
  readonly skipped: readonly string[];
}

type Json = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

type Parser = (text: string, lockfile: string) => EnvironmentPackage[];

function npmLock(text: string, lockfile: string): EnvironmentPackage[] {
  const lock = JSON.parse(text) as unknown;
  if (!isRecord(lock) || !isRecord(lock.packages)) throw new Error('no "packages" map (lockfileVersion 2 or 3 is needed)');
  return Object.entries(lock.packages).flatMap(([path, entry]): EnvironmentPackage[] => {
    const at = path.lastIndexOf('node_modules/');
    if (at < 0 || !isRecord(entry) || entry.link === true) return [];
    const name = str(entry.name) ?? path.slice(at + 'node_modules/'.length);
    const version = str(entry.version);
    if (version === undefined) return [];
    const license = str(entry.license);
    return [{ ecosystem: 'npm', name, version, lockfile, ...(license === undefined ? {} : { license }) }];
  });
}

const PIP_PIN = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*([^\s;#\\]+)/;

function pipPins(lines: readonly string[], ecosystem: Ecosystem, lockfile: string): EnvironmentPackage[] {
  return lines.flatMap((line): EnvironmentPackage[] => {
    const match = PIP_PIN.exec(line.trim());
    return match === null ? [] : [{ ecosystem, name: match[1]!.toLowerCase(), version: match[2]!, lockfile }];
  });
}

const requirements: Parser = (text, lockfile) => pipPins(text.split(/\r?\n/), 'pypi', lockfile);

function pipfileLock(text: string, lockfile: string): EnvironmentPackage[] {
  const lock = JSON.parse(text) as unknown;
  if (!isRecord(lock)) throw new Error('not a JSON object');
  return ['default', 'develop'].flatMap((section) =>
    Object.entries(isRecord(lock[section]) ? lock[section] : {}).flatMap(([name, entry]): EnvironmentPackage[] => {
      const version = isRecord(entry) ? str(entry.version)?.replace(/^==/, '') : undefined;
      return version === undefined ? [] : [{ ecosystem: 'pypi', name: name.toLowerCase(), version, lockfile }];
    }),
  );
}

/** poetry.lock and uv.lock: `[[package]]` tables with `name` and `version`. */
function tomlPackages(text: string, lockfile: string): EnvironmentPackage[] {
  const doc = parseToml(text) as Json;
  const packages = Array.isArray(doc.package) ? doc.package : [];
  return packages.flatMap((entry): EnvironmentPackage[] => {
    const name = isRecord(entry) ? str(entry.name) : undefined;
    const version = isRecord(entry) ? str(entry.version) : undefined;
    return name === undefined || version === undefined ? [] : [{ ecosystem: 'pypi', name: name.toLowerCase(), version, lockfile }];
  });
}

/** environment.yml: conda specs `name=version[=build]` / `name==version`, and pip pins under `pip:`. */
function condaEnvironment(text: string, lockfile: string): EnvironmentPackage[] {
  const doc = parseYaml(text) as unknown;
  const dependencies = isRecord(doc) && Array.isArray(doc.dependencies) ? doc.dependencies : [];
  return dependencies.flatMap((dep): EnvironmentPackage[] => {
    if (isRecord(dep) && Array.isArray(dep.pip)) return pipPins(dep.pip.filter((p): p is string => typeof p === 'string'), 'pypi', lockfile);
    if (typeof dep !== 'string') return [];
    const match = /^(?:[\w.-]+::)?([A-Za-z0-9][\w.-]*)\s*==?\s*([^=\s]+)/.exec(dep.trim());
    return match === null ? [] : [{ ecosystem: 'conda', name: match[1]!.toLowerCase(), version: match[2]!, lockfile }];
  });
}

/** conda-lock.yml: `package: [{ name, version, manager: conda | pip }]`. */
function condaLock(text: string, lockfile: string): EnvironmentPackage[] {
  const doc = parseYaml(text) as unknown;
  const packages = isRecord(doc) && Array.isArray(doc.package) ? doc.package : [];
  return packages.flatMap((entry): EnvironmentPackage[] => {
    if (!isRecord(entry)) return [];
    const name = str(entry.name);
    const version = str(entry.version);
    const ecosystem: Ecosystem = entry.manager === 'pip' ? 'pypi' : 'conda';
    return name === undefined || version === undefined ? [] : [{ ecosystem, name: name.toLowerCase(), version, lockfile }];
  });
}

function parserFor(name: string): Parser | undefined {
  if (name === 'package-lock.json') return npmLock;
  if (/^requirements.*\.txt$/.test(name)) return requirements;
  if (name === 'Pipfile.lock') return pipfileLock;
  if (name === 'poetry.lock' || name === 'uv.lock') return tomlPackages;
  if (/^environment\.ya?ml$/.test(name)) return condaEnvironment;
  if (/^conda-lock\.ya?ml$/.test(name)) return condaLock;
  return undefined;
}

/** Every package the lockfiles at the top of `dir` pin, deduplicated (first lockfile wins), sorted. */
export function readEnvironmentPackages(dir: string): EnvironmentPackages {
  const found = findLockfiles(dir);
  const seen = new Map<string, EnvironmentPackage>();
  const skipped: string[] = [];
  const read: { name: string; sha256: string }[] = [];
  for (const lockfile of found) {
    const parse = parserFor(lockfile.name);
    if (parse === undefined) {
      skipped.push(lockfile.name);
      continue;
    }
    let packages: EnvironmentPackage[];
    try {
      packages = parse(readFileSync(join(dir, lockfile.name), 'utf8'), lockfile.name);
    } catch (err) {
      throw new EmitError('LOCKFILE', `lockfile ${join(dir, lockfile.name)} cannot be parsed: ${(err as Error).message}`, { cause: err });
    }
    read.push(lockfile);
    for (const p of packages) {
      const key = `${p.ecosystem}\u0000${p.name}\u0000${p.version}`;
      if (!seen.has(key)) seen.set(key, p);
    }
  }
  const packages = [...seen.values()].sort((a, b) => a.ecosystem.localeCompare(b.ecosystem) || a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  return { packages, lockfiles: read, skipped };
}
