/**
 * Safe extraction of tar layers (plain, gzip, zstd) into a staging directory that only this process
 * writes.
 *
 * Owns: `ExtractionScope` (the per-model registry of published paths, symlinks and the byte budget,
 * shared by every layer of one model so names cannot collide across layers) and `extractTar`.
 * Refused with `UNSAFE_ENTRY`: names that break `src/fs/entry-name.ts` (absolute, `..`, control
 * characters, not UTF-8, too long); symlinks whose target is
 * absolute or leaves the destination; hardlinks to anything but a regular file already extracted for
 * this model; entries written through a symlink; devices, fifos and unknown entry types;
 * setuid/setgid/sticky bits; two names that collide after Unicode (NFC) and case normalisation.
 * Refused with `INIT_TOO_LARGE`: more bytes than the budget the verified manifest allows.
 * Files are created with O_EXCL (`wx`), so nothing already present is ever followed or overwritten.
 * Image layers (KServe modelcar images, files under `models/`) are extracted top layer first with
 * OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`): an upper layer's entry or whiteout shadows the lower ones.
 */
import { createReadStream, createWriteStream, linkSync, mkdirSync, openSync, symlinkSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { posix, join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ModelgateError } from '../errors.ts';
import { characterProblem, entryNameProblem, escapeName, normalisedEntryName } from '../fs/entry-name.ts';
import { InitError, localFailure } from './errors.ts';

export type TarCompression = 'none' | 'gzip' | 'zstd';

/** The model being assembled in `root`: every path claimed so far, symlinks, and the byte budget. */
export class ExtractionScope {
  readonly root: string;
  #remaining: number;
  readonly #claimed = new Map<string, 'file' | 'directory' | 'symlink'>();
  readonly #files = new Set<string>();

  constructor(root: string, maxBytes: number) {
    this.root = root;
    this.#remaining = maxBytes;
  }

  /** Charge `bytes` against the budget. */
  spend(bytes: number, what: string): void {
    this.#remaining -= bytes;
    if (this.#remaining < 0) throw new InitError('INIT_TOO_LARGE', `${what}: extracted content exceeds the size the verified manifest allows`);
  }

  /** Claim `relative` (already made safe) for an entry of `kind`; refuses collisions and paths through symlinks. */
  claim(relative: string, kind: 'file' | 'directory' | 'symlink'): void {
    const segments = relative.split('/');
    for (let i = 1; i < segments.length; i++) {
      const prefix = collisionKey(segments.slice(0, i).join('/'));
      const seen = this.#claimed.get(prefix);
      if (seen === 'symlink' || seen === 'file') throw new InitError('UNSAFE_ENTRY', `${relative}: its parent ${segments.slice(0, i).join('/')} is a ${seen}`);
      if (seen === undefined) this.#claimed.set(prefix, 'directory');
    }
    const key = collisionKey(relative);
    const seen = this.#claimed.get(key);
    if (seen !== undefined && !(seen === 'directory' && kind === 'directory')) {
      throw new InitError('UNSAFE_ENTRY', `${relative}: collides with another entry of the model (after normalisation)`);
    }
    this.#claimed.set(key, kind);
    if (kind === 'file') this.#files.add(relative);
  }

  isExtractedFile(relative: string): boolean {
    return this.#files.has(relative);
  }

  // Image layers (modelcar) are extracted top layer first: what an upper layer holds or whites out
  // shadows the same path (and everything below it) in the layers beneath.
  readonly #upper = new Map<string, 'directory' | 'other' | 'whiteout' | 'opaque'>();
  readonly #layer = new Map<string, 'directory' | 'other' | 'whiteout' | 'opaque'>();

  /** True when an upper layer already decided `relative` (an entry of a lower layer is then skipped). */
  isShadowed(relative: string, isDirectory: boolean): boolean {
    const segments = relative.split('/');
    for (let i = 1; i < segments.length; i++) {
      const upper = this.#upper.get(collisionKey(segments.slice(0, i).join('/')));
      if (upper !== undefined && upper !== 'directory') return true;
    }
    const upper = this.#upper.get(collisionKey(relative));
    if (upper === undefined) return false;
    if (upper === 'directory' || upper === 'opaque') return !isDirectory;
    return true;
  }

  /** Record what the current layer holds at `relative`. */
  recordLayerEntry(relative: string, kind: 'directory' | 'other' | 'whiteout' | 'opaque'): void {
    const key = collisionKey(relative);
    if (kind === 'directory' && this.#layer.has(key)) return;
    this.#layer.set(key, kind);
  }

  /** The current layer is done: its entries now shadow the layers beneath. */
  endLayer(): void {
    for (const [key, kind] of this.#layer) if (!this.#upper.has(key) || kind === 'opaque') this.#upper.set(key, kind);
    this.#layer.clear();
  }
}

function collisionKey(relative: string): string {
  return relative.normalize('NFC').toLowerCase();
}

/**
 * A relative POSIX path inside the destination, or `UNSAFE_ENTRY` naming the escaped name (the rules
 * of `src/fs/entry-name.ts`). `''` means the root itself (`./`, allowed for directory entries only).
 */
export function safeRelativePath(name: string): string {
  if (normalisedEntryName(name) === '' && !name.startsWith('/')) return '';
  const problem = entryNameProblem(name);
  if (problem !== undefined) throw new InitError('UNSAFE_ENTRY', `entry name ${escapeName(name)} ${problem}`);
  return normalisedEntryName(name);
}

/** The target of a symlink at `relative`, checked to stay inside the destination. */
function safeSymlinkTarget(relative: string, target: string): string {
  if (target === '' || target.includes('\0') || target.startsWith('/')) throw new InitError('UNSAFE_ENTRY', `${escapeName(relative)}: symlink to absolute or empty target ${escapeName(target)}`);
  const problem = characterProblem(target);
  if (problem !== undefined) throw new InitError('UNSAFE_ENTRY', `${escapeName(relative)}: symlink target ${escapeName(target)} ${problem}`);
  const resolved = posix.normalize(posix.join(posix.dirname(relative), target));
  if (resolved === '..' || resolved.startsWith('../')) throw new InitError('UNSAFE_ENTRY', `${escapeName(relative)}: symlink target ${escapeName(target)} leaves the destination`);
  return target;
}

const SPECIAL_BITS = 0o7000;

export interface ExtractTarOptions {
  readonly compression: TarCompression;
  /** Only entries under this directory are extracted, with the prefix removed (modelcar images: `models/`). */
  readonly stripPrefix?: string;
  /** Label for messages (layer digest). */
  readonly what: string;
  /** An image layer (modelcar): OCI whiteouts apply and upper layers shadow this one (see `isShadowed`). */
  readonly layered?: boolean;
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_WHITEOUT = '.wh..wh..opq';

/** Extract the tar stream `source` into `scope.root`. Rejects on the first unsafe entry; the caller discards the staging directory. */
export async function extractTar(source: Readable, scope: ExtractionScope, options: ExtractTarOptions): Promise<void> {
  let failure: unknown;
  const writes: Promise<void>[] = [];
  const outputs: WriteStream[] = [];
  const stop = new AbortController();
  const fail = (err: unknown): void => {
    failure ??= err;
  };
  // A file that cannot be written (ENOSPC, EIO…) stops reading its entry, so the parser would wait
  // for a drain that never comes: end the read loop instead.
  const failWrite = (err: unknown): void => {
    fail(err);
    stop.abort();
  };
  const onEntry = (entry: ReadEntry): void => {
    if (failure !== undefined) {
      entry.resume();
      return;
    }
    try {
      const done = placeEntry(entry, scope, options, outputs);
      if (done !== undefined) writes.push(done.catch(failWrite));
      else entry.resume();
    } catch (err) {
      fail(err);
      entry.resume();
    }
  };
  const parser = new Parser({ strict: true, onReadEntry: onEntry });
  parser.on('error', fail);
  const ended = once(parser, 'end').catch((err: unknown) => fail(err));
  const input = options.compression === 'gzip' ? source.pipe(createGunzip()) : options.compression === 'zstd' ? source.pipe(createZstdDecompress()) : source;
  source.on('error', (err) => input.destroy(err));
  try {
    for await (const chunk of input) {
      if (failure !== undefined) break;
      if (!parser.write(chunk as Buffer)) await once(parser, 'drain', { signal: stop.signal });
    }
  } catch (err) {
    fail(err);
  }
  if (failure === undefined) {
    parser.end();
    await ended;
  } else {
    input.destroy();
    source.destroy();
    for (const out of outputs) out.destroy(); // an entry cut short never ends: do not wait for it
  }
  await Promise.all(writes);
  if (failure !== undefined) {
    if (failure instanceof ModelgateError) throw failure;
    const err = failure as NodeJS.ErrnoException;
    if (typeof err.syscall === 'string') throw localFailure(err, options.what);
    throw new InitError('UNSAFE_ENTRY', `${options.what}: unreadable archive: ${err.message}`, { cause: err });
  }
}

/** Create one entry; returns a promise for file content still being written. */
function placeEntry(entry: ReadEntry, scope: ExtractionScope, options: ExtractTarOptions, outputs: WriteStream[]): Promise<void> | undefined {
  let relative = safeRelativePath(entry.path);
  if (options.stripPrefix !== undefined) {
    const prefix = safeRelativePath(options.stripPrefix);
    if (relative !== prefix && !relative.startsWith(`${prefix}/`)) return undefined;
    relative = relative.slice(prefix.length + 1);
  }
  const what = `${options.what}: ${escapeName(entry.path)}`;
  if (options.layered === true && relative !== '') {
    const name = posix.basename(relative);
    const parent = posix.dirname(relative) === '.' ? '' : posix.dirname(relative);
    if (name === OPAQUE_WHITEOUT) {
      if (parent !== '' && !scope.isShadowed(parent, true)) scope.recordLayerEntry(parent, 'opaque');
      return undefined;
    }
    if (name.startsWith(WHITEOUT_PREFIX)) {
      const hidden = safeRelativePath(posix.join(parent, name.slice(WHITEOUT_PREFIX.length)));
      if (hidden !== '') scope.recordLayerEntry(hidden, 'whiteout');
      return undefined;
    }
    if (scope.isShadowed(relative, entry.type === 'Directory')) return undefined;
    scope.recordLayerEntry(relative, entry.type === 'Directory' ? 'directory' : 'other');
  }
  const mode = entry.mode ?? 0o644;
  if ((mode & SPECIAL_BITS) !== 0) throw new InitError('UNSAFE_ENTRY', `${what}: setuid/setgid/sticky bits (mode ${mode.toString(8)})`);
  if (relative === '') {
    if (entry.type === 'Directory') return undefined;
    throw new InitError('UNSAFE_ENTRY', `${what}: an entry that is not a directory names the destination itself`);
  }
  const target = join(scope.root, relative);
  switch (entry.type) {
    case 'Directory':
      scope.claim(relative, 'directory');
      mkdirSync(target, { recursive: true, mode: 0o755 });
      return undefined;
    case 'File':
    case 'OldFile':
    case 'ContiguousFile': {
      scope.claim(relative, 'file');
      scope.spend(entry.size ?? 0, what);
      mkdirSync(join(target, '..'), { recursive: true, mode: 0o755 });
      // Opened now (O_EXCL), so a later hardlink entry finds the file while its content is still streaming.
      const out = createWriteStream(target, { fd: openSync(target, 'wx', 0o644 | (mode & 0o111)) });
      outputs.push(out);
      const finished = new Promise<void>((resolve, reject) => {
        out.on('finish', resolve);
        out.on('close', resolve); // destroyed after a failure elsewhere: that failure is reported
        out.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { path: err.path ?? target })));
        entry.on('error', reject);
      });
      entry.pipe(out);
      return finished;
    }
    case 'SymbolicLink': {
      const link = safeSymlinkTarget(relative, entry.linkpath ?? '');
      scope.claim(relative, 'symlink');
      mkdirSync(join(target, '..'), { recursive: true, mode: 0o755 });
      symlinkSync(link, target);
      return undefined;
    }
    case 'Link': {
      let linked: string;
      try {
        linked = safeRelativePath(entry.linkpath ?? '');
      } catch {
        throw new InitError('UNSAFE_ENTRY', `${what}: hardlink to "${entry.linkpath ?? ''}" leaves the destination`);
      }
      const source = options.stripPrefix !== undefined && linked.startsWith(`${safeRelativePath(options.stripPrefix)}/`) ? linked.slice(safeRelativePath(options.stripPrefix).length + 1) : linked;
      if (!scope.isExtractedFile(source)) throw new InitError('UNSAFE_ENTRY', `${what}: hardlink to "${entry.linkpath ?? ''}", which is not a regular file extracted for this model`);
      scope.claim(relative, 'file');
      mkdirSync(join(target, '..'), { recursive: true, mode: 0o755 });
      linkSync(join(scope.root, source), target);
      return undefined;
    }
    default:
      throw new InitError('UNSAFE_ENTRY', `${what}: entry type ${entry.type} is not allowed in a model`);
  }
}

/** Extract a tar file on disk (a verified cache blob). */
export async function extractTarFile(path: string, scope: ExtractionScope, options: ExtractTarOptions): Promise<void> {
  await extractTar(createReadStream(path), scope, options);
}
