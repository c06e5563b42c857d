/**
 * The files that make up a model on disk, as model_signing serialises them.
 *
 * Owns: walking a model directory (or taking a single file), the ignore rules (top-level git
 * metadata `.git` `.gitattributes` `.github` `.gitignore` unless disabled, the signature file,
 * caller and signer `ignore_paths`, each matching a path and everything under it), symlink policy
 * (rejected unless allowed; an allowed link must stay inside the model root, and a MODEL_PATH that is
 * itself a link inside the directory holding it), rejecting special
 * files, and naming each file by its POSIX path relative to the root (`.` for a single-file model).
 */
import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ModelSignatureError } from './errors.ts';

export const GIT_PATHS: readonly string[] = ['.git', '.gitattributes', '.github', '.gitignore'];

export interface ModelFile {
  /** POSIX path relative to the model root; `.` when the model is a single file. */
  readonly name: string;
  /** Absolute path to read. */
  readonly path: string;
  readonly size: number;
}

export interface ModelWalkOptions {
  readonly allowSymlinks: boolean;
  /** Relative POSIX paths under the model root; each excludes itself and everything below it. */
  readonly ignorePaths: readonly string[];
}

function pathError(message: string): ModelSignatureError {
  return new ModelSignatureError('MODEL_PATH', message);
}

function isIgnored(name: string, ignore: readonly string[]): boolean {
  return ignore.some((p) => name === p || name.startsWith(`${p}/`));
}

/** Normalise an ignore path given relative to the model root: strip `./`, trailing `/`; reject escapes. */
export function normalizeIgnorePath(path: string): string | undefined {
  const parts = path.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  return parts.join('/');
}

/**
 * Resolve a caller-given ignore path the way model_signing's CLI does: relative to the current
 * directory (or absolute), then made relative to the model root; a relative path that does not land
 * inside the model is taken as relative to the model root instead (the OMS spec's reading).
 * Returns undefined for paths outside the model.
 */
export function resolveIgnorePath(modelPath: string, path: string, cwd = process.cwd()): string | undefined {
  const root = resolve(modelPath);
  const candidate = isAbsolute(path) ? resolve(path) : resolve(cwd, path);
  const rel = relative(root, candidate);
  if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  return isAbsolute(path) ? undefined : normalizeIgnorePath(path);
}

/** `path` is `dir` or lies below it (both real paths). */
function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** List the model's files after exclusions. Throws MODEL_PATH for unusable paths or an empty result. */
export function listModelFiles(modelPath: string, options: ModelWalkOptions): ModelFile[] {
  const root = resolve(modelPath);
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch (err) {
    throw pathError(`model path ${modelPath} cannot be read: ${(err as Error).message}`);
  }
  if (top.isSymbolicLink()) {
    if (!options.allowSymlinks) throw pathError(`model path ${modelPath} is a symlink (allow symlinks to follow it)`);
    // The containment rule for links inside a model, applied to the model path itself: a link may
    // not leave the directory it lives in (here: the one holding MODEL_PATH).
    let target: string;
    try {
      target = realpathSync(root);
      top = statSync(root);
    } catch (err) {
      throw pathError(`model path ${modelPath} is a broken symlink: ${(err as Error).message}`);
    }
    if (!inside(target, realpathSync(dirname(root)))) throw pathError(`model path ${modelPath} links outside its directory (${target})`);
  }
  if (top.isFile()) return [{ name: '.', path: root, size: top.size }];
  if (!top.isDirectory()) throw pathError(`model path ${modelPath} is neither a file nor a directory`);

  const realRoot = realpathSync(root);
  const files: ModelFile[] = [];
  const visitedDirs = new Set<string>([realRoot]);
  const walk = (dir: string, prefix: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw pathError(`cannot list ${dir}: ${(err as Error).message}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (isIgnored(name, options.ignorePaths)) continue;
      const full = join(dir, entry.name);
      let stats: Stats = lstatSync(full);
      if (stats.isSymbolicLink()) {
        if (!options.allowSymlinks) throw pathError(`${name} is a symlink (allow symlinks to include it)`);
        let target: string;
        try {
          target = realpathSync(full);
          stats = statSync(full);
        } catch (err) {
          throw pathError(`${name} is a broken symlink: ${(err as Error).message}`);
        }
        if (!inside(target, realRoot)) throw pathError(`${name} links outside the model directory (${target})`);
        if (stats.isDirectory()) {
          if (visitedDirs.has(target)) continue; // a link back into a directory already walked
          visitedDirs.add(target);
        }
      }
      if (stats.isDirectory()) walk(full, name);
      else if (stats.isFile()) files.push({ name, path: full, size: stats.size });
      else throw pathError(`${name} is not a regular file or directory (socket, FIFO or device)`);
    }
  };
  walk(root, '');
  if (files.length === 0) throw pathError(`model ${modelPath} contains no regular files after applying exclusions`);
  return files;
}
