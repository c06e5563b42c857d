/**
 * A ConfigMap / Secret volume laid out and updated exactly as kubelet's atomic writer does
 * (../shared/reference/kubernetes-volumes.md), for tests of hot reload without an API server.
 *
 * Owns: `KubeletVolume` — `..<timestamp>/` holding the files of the current version, the `..data`
 * symlink to it, and one `<key> -> ..data/<key>` symlink per key; `update` writes a new version in
 * kubelet's order (new dir, `..data_tmp` symlink, rename onto `..data`, then the key symlinks of added
 * and removed keys, then the old dir removed).
 */
import { chmodSync, chownSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let versions = 0;

/** A kubelet-style timestamped directory name, unique within the process. */
function versionDir(): string {
  const now = new Date();
  const stamp = now.toISOString().replace(/[-:]/g, '_').replace('T', '_').replace(/\.\d+Z$/, '');
  return `..${stamp}.${String(process.pid).padStart(6, '0')}${String(++versions).padStart(3, '0')}`;
}

/** File mode (a volume's `defaultMode`) and group (the pod's `fsGroup`) kubelet gives the files. */
export interface VolumeFileOptions {
  readonly mode?: number;
  readonly gid?: number;
}

function writeVersion(dir: string, files: Readonly<Record<string, string | Buffer>>, options: VolumeFileOptions): string {
  const version = versionDir();
  mkdirSync(join(dir, version), { mode: 0o755 });
  for (const [key, content] of Object.entries(files)) {
    const path = join(dir, version, key);
    writeFileSync(path, content);
    if (options.gid !== undefined) chownSync(path, 0, options.gid);
    if (options.mode !== undefined) chmodSync(path, options.mode);
  }
  return version;
}

export class KubeletVolume {
  readonly dir: string;
  #keys: Set<string>;
  readonly #options: VolumeFileOptions;

  private constructor(dir: string, keys: Set<string>, options: VolumeFileOptions) {
    this.dir = dir;
    this.#keys = keys;
    this.#options = options;
  }

  /** Mount `files` (key → content) at `dir` (created). */
  static create(dir: string, files: Readonly<Record<string, string | Buffer>>, options: VolumeFileOptions = {}): KubeletVolume {
    mkdirSync(dir, { recursive: true });
    const version = writeVersion(dir, files, options);
    symlinkSync(version, join(dir, '..data'));
    for (const key of Object.keys(files)) symlinkSync(join('..data', key), join(dir, key));
    return new KubeletVolume(dir, new Set(Object.keys(files)), options);
  }

  /** The path of one key, as the container sees it. */
  path(key: string): string {
    return join(this.dir, key);
  }

  /** The timestamped directory `..data` points at now. */
  get current(): string {
    return join(this.dir, readlinkSync(join(this.dir, '..data')));
  }

  /** Replace the whole content with `files`, in kubelet's order. */
  update(files: Readonly<Record<string, string | Buffer>>): void {
    const old = this.current;
    const version = writeVersion(this.dir, files, this.#options);
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    const keys = new Set(Object.keys(files));
    for (const key of keys) if (!this.#keys.has(key)) symlinkSync(join('..data', key), join(this.dir, key));
    for (const key of this.#keys) if (!keys.has(key)) unlinkSync(join(this.dir, key));
    this.#keys = keys;
    rmSync(old, { recursive: true, force: true });
  }
}
