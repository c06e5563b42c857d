/**
 * Listing the regular files of a dataset directory, with their portable manifest paths.
 *
 * Owns: the walk and its refusals. A manifest path is the file's path relative to the root,
 * `/`-separated, exactly the UTF-8 bytes of the names on disk (no Unicode normalisation; a name that
 * is not valid UTF-8 is refused: BAD_PATH). Only regular files are listed; directories are
 * descended into and not recorded themselves (so empty directories leave no trace).
 * Symlinks: refused by default (UNSUPPORTED_ENTRY). With `symlinks: 'follow'` a symlink is
 * recorded as what it points to: a file's content under the link's path, or a directory's files
 * under the link's path; a link to a directory already on the current walk stack (a cycle) fails
 * SYMLINK_LOOP; dangling links fail IO. The root itself may be a symlink to a directory.
 * FIFOs, sockets and devices are always refused (reading them could block or never end).
 */
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './errors.ts';

export type SymlinkPolicy = 'refuse' | 'follow';

export interface DatasetFile {
  /** Manifest path: relative, `/`-separated, valid UTF-8. */
  readonly path: string;
  /** Path to open on this machine. */
  readonly absolutePath: string;
  /** Size when listed. */
  readonly size: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const STAT_CONCURRENCY = 64;

/** Compare two strings by their UTF-8 bytes (the manifest's sort order; not locale, not UTF-16). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function kindOf(stats: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file or directory';
}

function ioError(err: unknown, what: string): DatasetError {
  const code = (err as NodeJS.ErrnoException).code;
  return new DatasetError('IO', `cannot read ${what}: ${code ?? (err as Error).message}`, { cause: err });
}

/** Every regular file under `root`, sorted by the UTF-8 bytes of its manifest path. */
export async function listDatasetFiles(root: string, options: { symlinks?: SymlinkPolicy } = {}): Promise<DatasetFile[]> {
  const policy = options.symlinks ?? 'refuse';
  let rootStats;
  try {
    rootStats = await stat(root);
  } catch (err) {
    throw ioError(err, `dataset directory ${root}`);
  }
  if (!rootStats.isDirectory()) throw new DatasetError('IO', `${root} is not a directory`);
  const files: DatasetFile[] = [];
  const stack = new Set<string>([await realpath(root)]);
  await walk(root, '', policy, stack, files);
  files.sort((a, b) => compareUtf8(a.path, b.path));
  return files;
}

async function walk(directory: string, prefix: string, policy: SymlinkPolicy, stack: Set<string>, files: DatasetFile[]): Promise<void> {
  let entries: Dirent<Buffer>[];
  try {
    entries = await readdir(directory, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    throw ioError(err, `directory ${prefix === '' ? directory : prefix}`);
  }
  const named = entries.map((entry) => {
    let name: string;
    try {
      name = strictUtf8.decode(entry.name);
    } catch {
      throw new DatasetError('BAD_PATH', `a file name under ${prefix === '' ? '.' : prefix} is not valid UTF-8 (bytes ${entry.name.toString('hex')}); rename it`);
    }
    return { path: prefix === '' ? name : `${prefix}/${name}`, absolutePath: join(directory, name) };
  });
  // lstat a directory's entries concurrently (bounded): serial stats dominate on large flat datasets.
  const allStats: Stats[] = [];
  for (let i = 0; i < named.length; i += STAT_CONCURRENCY) {
    const batch = named.slice(i, i + STAT_CONCURRENCY);
    allStats.push(
      ...(await Promise.all(
        batch.map(({ path, absolutePath }) =>
          lstat(absolutePath).catch((err: unknown) => {
            throw ioError(err, path);
          }),
        ),
      )),
    );
  }
  for (const [index, { path, absolutePath }] of named.entries()) {
    const stats = allStats[index] as Stats;
    if (stats.isSymbolicLink()) {
      if (policy === 'refuse') {
        throw new DatasetError('UNSUPPORTED_ENTRY', `${path} is a symbolic link; symlinks are refused (use --follow-symlinks to record what they point to)`);
      }
      let target;
      try {
        target = await stat(absolutePath);
      } catch (err) {
        throw ioError(err, `${path} (symbolic link target)`);
      }
      if (target.isDirectory()) {
        const real = await realpath(absolutePath);
        if (stack.has(real)) throw new DatasetError('SYMLINK_LOOP', `${path} is a symbolic link to a directory that contains it (${real})`);
        stack.add(real);
        await walk(absolutePath, path, policy, stack, files);
        stack.delete(real);
      } else if (target.isFile()) {
        files.push({ path, absolutePath, size: target.size });
      } else {
        throw new DatasetError('UNSUPPORTED_ENTRY', `${path} is a symbolic link to ${kindOf(target)}`);
      }
    } else if (stats.isDirectory()) {
      const real = await realpath(absolutePath);
      stack.add(real);
      await walk(absolutePath, path, policy, stack, files);
      stack.delete(real);
    } else if (stats.isFile()) {
      files.push({ path, absolutePath, size: stats.size });
    } else {
      throw new DatasetError('UNSUPPORTED_ENTRY', `${path} is ${kindOf(stats)}; only regular files and directories can be in a dataset`);
    }
  }
}
