/**
 * Atomic publication of a model directory at DEST.
 *
 * Owns: the staging directory (on DEST's file system: a sibling of DEST, or inside DEST when DEST is
 * a mount point such as KServe's `emptyDir` at `/mnt/models`), the commit and the receipt location.
 *  - Sibling mode: the model and its receipt are assembled in `.<name>.modelgate-staging-<pid>-<rand>`
 *    and renamed onto DEST (absent or empty) in one step: a crash leaves the previous state.
 *  - In-place mode (DEST is a mount point, or the rename is refused with EBUSY): a marker
 *    `DEST/.modelgate-incomplete` listing the names is written first, the entries are renamed into DEST,
 *    `.modelgate/` (the receipt) last, then the marker is removed. A crash leaves the marker; the next
 *    run removes what it lists, so DEST goes back to empty: never a partial model without a marker.
 * Staging directories of dead processes are removed on the next run.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { InitError, localFailure } from './errors.ts';
import { processAlive } from './holder.ts';

export const RECEIPT_DIR = '.modelgate';
export const RECEIPT_FILE = 'receipt.json';
const INCOMPLETE_MARKER = '.modelgate-incomplete';
const STAGING_INFIX = 'modelgate-staging';

export interface Staging {
  /** Where to assemble the model. */
  readonly dir: string;
  readonly dest: string;
  readonly mode: 'sibling' | 'in-place';
}

function ioError(what: string, err: unknown): unknown {
  const coded = localFailure(err, what);
  return coded instanceof InitError ? coded : new InitError('INIT_IO', `${what}: ${(err as Error).message}`, { cause: err });
}

/**
 * Remove staging directories in `dir` named with `prefix` whose process is gone. Staging directories
 * live beside DEST, which one pod's init container writes, so a PID is meaningful here.
 */
async function removeStale(dir: string, prefix: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number.parseInt(name.slice(prefix.length).split('-')[0] ?? '', 10);
    if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || processAlive(pid))) continue;
    await rm(join(dir, name), { recursive: true, force: true });
  }
}

/** Undo an interrupted in-place commit: remove every name its marker lists, then the marker. */
async function recoverInPlace(dest: string): Promise<void> {
  let names: string[];
  try {
    names = JSON.parse(await readFile(join(dest, INCOMPLETE_MARKER), 'utf8')) as string[];
  } catch {
    return;
  }
  for (const name of names) if (name !== '' && !name.includes('/') && name !== '.' && name !== '..') await rm(join(dest, name), { recursive: true, force: true });
  await rm(join(dest, INCOMPLETE_MARKER), { force: true });
}

/** The receipt published at DEST, if a complete model is there. */
export async function readReceipt(dest: string): Promise<Record<string, unknown> | undefined> {
  try {
    await stat(join(dest, INCOMPLETE_MARKER));
    return undefined;
  } catch {
    /* no interrupted commit */
  }
  try {
    return JSON.parse(await readFile(join(dest, RECEIPT_DIR, RECEIPT_FILE), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function visibleEntries(dest: string): Promise<string[]> {
  return (await readdir(dest)).filter((n) => !n.startsWith(`.${STAGING_INFIX}-`) && n !== INCOMPLETE_MARKER);
}

/** True for a top-level name of DEST that is init's bookkeeping (receipt, staging, marker), not the model. */
export function isBookkeeping(name: string): boolean {
  return name === RECEIPT_DIR || name === INCOMPLETE_MARKER || name.startsWith(`.${STAGING_INFIX}-`);
}

/**
 * Take a published model back out of DEST (its bytes no longer match the receipt): the marker lists
 * everything first, so a crash midway is finished by the next run's recovery, never a partial model.
 */
export async function unpublish(dest: string): Promise<void> {
  try {
    await writeFileAtomic(join(dest, INCOMPLETE_MARKER), JSON.stringify(await visibleEntries(dest)), { overwrite: true });
    await recoverInPlace(dest);
  } catch (err) {
    throw ioError(`cannot remove the changed model from ${dest}`, err);
  }
}

export interface PrepareStagingOptions {
  /**
   * `auto` (default): in place only when DEST is a mount point (another device than its parent).
   * `in-place`: always assemble inside an existing DEST (for file systems where the mount cannot be seen).
   */
  readonly mode?: 'auto' | 'in-place';
}

/** Create a staging directory for DEST, which must be absent or empty (after crash recovery). */
export async function prepareStaging(dest: string, options: PrepareStagingOptions = {}): Promise<Staging> {
  const parent = dirname(dest);
  const siblingPrefix = `.${basename(dest)}.${STAGING_INFIX}-`;
  const suffix = `${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await mkdir(parent, { recursive: true });
    await removeStale(parent, siblingPrefix);
    let destStat;
    try {
      destStat = await stat(dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (destStat !== undefined) {
      if (!destStat.isDirectory()) throw new InitError('DEST_NOT_EMPTY', `${dest} exists and is not a directory`);
      await recoverInPlace(dest);
      await removeStale(dest, `.${STAGING_INFIX}-`);
      if ((await visibleEntries(dest)).length > 0) throw new InitError('DEST_NOT_EMPTY', `${dest} is not empty and holds no model published by modelgate for this URI`);
      if (options.mode === 'in-place' || destStat.dev !== (await stat(parent)).dev) {
        const dir = join(dest, `.${STAGING_INFIX}-${suffix}`);
        await mkdir(dir, { mode: 0o755 });
        return { dir, dest, mode: 'in-place' };
      }
    }
    const dir = join(parent, `${siblingPrefix}${suffix}`);
    await mkdir(dir, { mode: 0o755 });
    return { dir, dest, mode: 'sibling' };
  } catch (err) {
    if (err instanceof InitError) throw err;
    throw ioError(`cannot prepare ${dest}`, err);
  }
}

async function commitInPlace(staging: Staging): Promise<void> {
  const names = (await readdir(staging.dir)).sort((a, b) => Number(a === RECEIPT_DIR) - Number(b === RECEIPT_DIR));
  await writeFileAtomic(join(staging.dest, INCOMPLETE_MARKER), JSON.stringify(names), { overwrite: true });
  for (const name of names) await rename(join(staging.dir, name), join(staging.dest, name));
  await rmdir(staging.dir);
  await rm(join(staging.dest, INCOMPLETE_MARKER), { force: true });
}

/** Publish the staged model (its receipt included) at DEST. */
export async function commitStaging(staging: Staging): Promise<void> {
  try {
    if (staging.mode === 'in-place') return await commitInPlace(staging);
    try {
      await rename(staging.dir, staging.dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY') throw err;
      await commitInPlace(staging); // DEST is a mount point on the same device
    }
  } catch (err) {
    throw ioError(`cannot publish ${staging.dest}`, err);
  }
}

export async function discardStaging(staging: Staging): Promise<void> {
  await rm(staging.dir, { recursive: true, force: true }).catch(() => {}); // best effort: the next run removes what is left (removeStale)
}
