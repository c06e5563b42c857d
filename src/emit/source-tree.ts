/**
 * Facts about the training source tree read straight from disk (no `git` binary): the checked-out
 * commit and origin URL from `.git`, and the digests of dependency lockfiles.
 *
 * Owns: finding `.git` (a directory, or a `gitdir:` file for worktrees/submodules) from a directory
 * upwards; resolving `HEAD` (detached hash, loose ref, or `packed-refs`); `remote "origin"` `url`
 * from `.git/config`; and the lockfile names recognised (`requirements*.txt`, `uv.lock`,
 * `poetry.lock`, `Pipfile.lock`, `package-lock.json`, `pnpm-lock.yaml`, `yarn.lock`, `Cargo.lock`,
 * `go.sum`, `conda-lock.yml`, `environment.yml`) at the top of the source tree.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { EmitError } from './errors.ts';

export interface GitCheckout {
  /** 40 (SHA-1) or 64 (SHA-256) lowercase hex. */
  readonly commit: string;
  /** `refs/heads/…` when HEAD is a symbolic ref. */
  readonly ref: string | undefined;
  /** `remote "origin"` url, if configured. */
  readonly originUrl: string | undefined;
  /** The work tree's root directory. */
  readonly root: string;
}

const COMMIT = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function findGitDir(start: string): { gitDir: string; commonDir: string; root: string } | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const candidate = join(dir, '.git');
    let isDir = false;
    try {
      isDir = statSync(candidate).isDirectory();
    } catch {
      if (dirname(dir) === dir) return undefined;
      continue;
    }
    let gitDir = candidate;
    if (!isDir) {
      const pointer = /^gitdir:\s*(.+)$/m.exec(readText(candidate) ?? '');
      if (pointer === null) throw new EmitError('SOURCE', `${candidate} is neither a directory nor a "gitdir:" file`);
      gitDir = isAbsolute(pointer[1]!.trim()) ? pointer[1]!.trim() : resolve(dir, pointer[1]!.trim());
    }
    const common = readText(join(gitDir, 'commondir'))?.trim();
    return { gitDir, commonDir: common === undefined ? gitDir : resolve(gitDir, common), root: dir };
  }
}

function resolveRef(gitDir: string, commonDir: string, ref: string): string | undefined {
  for (const dir of [gitDir, commonDir]) {
    const loose = readText(join(dir, ref))?.trim();
    if (loose !== undefined && COMMIT.test(loose)) return loose;
  }
  for (const line of (readText(join(commonDir, 'packed-refs')) ?? '').split('\n')) {
    const [hash, name] = line.trim().split(' ');
    if (name === ref && hash !== undefined && COMMIT.test(hash)) return hash;
  }
  return undefined;
}

function originUrl(commonDir: string): string | undefined {
  const config = readText(join(commonDir, 'config')) ?? '';
  const section = /\[remote "origin"\]([^[]*)/.exec(config);
  return section === null ? undefined : /^\s*url\s*=\s*(.+?)\s*$/m.exec(section[1]!)?.[1];
}

/** The checkout containing `dir`, or undefined when it is not in a git work tree. */
export function readGitCheckout(dir: string): GitCheckout | undefined {
  const found = findGitDir(dir);
  if (found === undefined) return undefined;
  const head = readText(join(found.gitDir, 'HEAD'))?.trim();
  if (head === undefined) throw new EmitError('SOURCE', `${found.gitDir}/HEAD cannot be read`);
  if (COMMIT.test(head)) return { commit: head, ref: undefined, originUrl: originUrl(found.commonDir), root: found.root };
  const symbolic = /^ref:\s*(\S+)$/.exec(head);
  if (symbolic === null) throw new EmitError('SOURCE', `${found.gitDir}/HEAD is neither a commit nor a ref`);
  const commit = resolveRef(found.gitDir, found.commonDir, symbolic[1]!);
  if (commit === undefined) throw new EmitError('SOURCE', `${symbolic[1]} in ${found.gitDir} has no commit yet (or cannot be read)`);
  return { commit, ref: symbolic[1], originUrl: originUrl(found.commonDir), root: found.root };
}

const LOCKFILE = /^(requirements.*\.txt|uv\.lock|poetry\.lock|Pipfile\.lock|package-lock\.json|pnpm-lock\.yaml|yarn\.lock|Cargo\.lock|go\.sum|conda-lock\.ya?ml|environment\.ya?ml)$/;

export interface Lockfile {
  readonly name: string;
  /** Hex sha256 of the file. */
  readonly sha256: string;
}

/** Lockfiles at the top of `dir`, sorted by name. */
export function findLockfiles(dir: string): Lockfile[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && LOCKFILE.test(e.name)).map((e) => e.name);
  } catch {
    return [];
  }
  return names.sort().map((name) => ({ name, sha256: createHash('sha256').update(readFileSync(join(dir, name))).digest('hex') }));
}
