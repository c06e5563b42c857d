/**
 * `modelgate dataset …`: canonical manifests of training datasets, and checking a directory against one.
 *
 * Owns: the `dataset manifest`, `dataset verify`, `dataset prove` and `dataset sign` commands, their output and exit
 * codes (verify: 0 identical, 1 differences), and the stderr progress line (only on a terminal).
 * The format itself is `src/dataset/manifest.ts`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DatasetError } from '../dataset/errors.ts';
import {
  buildDatasetManifest,
  exclusionProof,
  inclusionProof,
  parseDatasetManifest,
  readDatasetManifest,
  serializeDatasetManifest,
  verifyDatasetDirectory,
  type DatasetChange,
} from '../dataset/manifest.ts';
import type { SymlinkPolicy } from '../dataset/walk.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { signBlobBundle } from '../sign/blob-bundle.ts';
import { SigningError } from '../sign/errors.ts';
import { isEncryptedKeyPem, parseSigningKey } from '../sign/keys.ts';
import { resolvePassphrase } from '../sign/passphrase.ts';

/** A one-line `\r`-rewritten progress report on stderr; silent unless stderr is a terminal. */
function progressReporter(label: string): { update: (done: number, total: number) => void; end: () => void } {
  if (process.stderr.isTTY !== true) return { update: () => {}, end: () => {} };
  let last = 0;
  let shown = false;
  const mib = (n: number): string => (n / (1024 * 1024)).toFixed(1);
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
      process.stderr.write(`\r${label}: ${mib(done)} / ${mib(total)} MiB (${percent}%)\u001b[K`);
    },
    end() {
      if (shown) process.stderr.write('\r\u001b[K');
    },
  };
}

/** Show a path on one line: as is when printable, else JSON-quoted. */
function displayPath(path: string): string {
  return /[\u0000-\u001f\u007f]|^\s|\s$|^"/.test(path) ? JSON.stringify(path) : path;
}

function describeChange(change: DatasetChange): string {
  switch (change.kind) {
    case 'added':
      return `added: ${displayPath(change.path)}`;
    case 'removed':
      return `removed: ${displayPath(change.path)}`;
    case 'changed':
      return change.expected.size === change.actual.size
        ? `changed: ${displayPath(change.path)} (content)`
        : `changed: ${displayPath(change.path)} (size ${change.expected.size} -> ${change.actual.size})`;
  }
}

function symlinkPolicy(options: { followSymlinks?: boolean }): SymlinkPolicy {
  return options.followSymlinks === true ? 'follow' : 'refuse';
}

export function register(program: Command): void {
  const dataset = program.command('dataset').description('Canonical, signable manifests of training datasets (RFC 8785 JSON with an RFC 6962 Merkle root)');

  dataset
    .command('manifest')
    .description('Hash every regular file under DIR and write its manifest (stdout by default)')
    .argument('<dir>', 'dataset directory')
    .option('-o, --output <file>', 'write the manifest to FILE (atomically) instead of stdout')
    .option('--follow-symlinks', 'record what symbolic links point to instead of refusing them')
    .action(async (dir: string, options: { output?: string; followSymlinks?: boolean }) => {
      const progress = progressReporter('hashing');
      let manifest;
      try {
        manifest = await buildDatasetManifest(dir, { symlinks: symlinkPolicy(options), onProgress: progress.update });
      } finally {
        progress.end();
      }
      const bytes = serializeDatasetManifest(manifest);
      if (options.output === undefined) {
        process.stdout.write(bytes);
        return;
      }
      try {
        await writeFileAtomic(options.output, bytes, { overwrite: true });
      } catch (err) {
        throw new DatasetError('IO', `cannot write ${options.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      process.stderr.write(`${manifest.fileCount} files, ${manifest.totalSize} bytes, root ${manifest.merkleRoot}\n`);
    });

  dataset
    .command('verify')
    .description('Compare DIR with MANIFEST: name every added, removed and changed file (exit 0 identical, 1 otherwise)')
    .argument('<dir>', 'dataset directory')
    .argument('<manifest>', 'manifest file written by `modelgate dataset manifest`')
    .option('--follow-symlinks', 'record what symbolic links point to instead of refusing them')
    .option('--json', 'print the differences as a JSON array on stdout')
    .action(async (dir: string, manifestPath: string, options: { followSymlinks?: boolean; json?: boolean }) => {
      const manifest = await readDatasetManifest(manifestPath);
      const progress = progressReporter('verifying');
      let changes;
      try {
        changes = await verifyDatasetDirectory(dir, manifest, { symlinks: symlinkPolicy(options), onProgress: progress.update });
      } finally {
        progress.end();
      }
      if (options.json === true) process.stdout.write(`${JSON.stringify(changes)}\n`);
      else for (const change of changes) process.stdout.write(`${describeChange(change)}\n`);
      if (changes.length === 0) {
        process.stderr.write(`OK: ${dir} matches ${manifestPath} (${manifest.fileCount} files, root ${manifest.merkleRoot})\n`);
        process.exitCode = 0;
      } else {
        const count = (kind: DatasetChange['kind']): number => changes.filter((c) => c.kind === kind).length;
        process.stderr.write(`FAIL: ${dir} differs from ${manifestPath}: ${count('added')} added, ${count('removed')} removed, ${count('changed')} changed\n`);
        process.exitCode = 1;
      }
    });

  dataset
    .command('prove')
    .description('Print a Merkle proof (JSON) that PATH is in MANIFEST, or that it is not')
    .argument('<manifest>', 'manifest file')
    .argument('<path>', 'manifest path of the file (relative, /-separated)')
    .action(async (manifestPath: string, path: string) => {
      const manifest = await readDatasetManifest(manifestPath);
      const listed = manifest.files.some((f) => f.path === path);
      const head = { merkleRoot: manifest.merkleRoot, fileCount: manifest.fileCount };
      const proof = listed ? { ...head, inclusion: inclusionProof(manifest, path) } : { ...head, exclusion: exclusionProof(manifest, path) };
      process.stdout.write(`${JSON.stringify(proof, null, 2)}\n`);
    });

  dataset
    .command('sign')
    .description('Sign MANIFEST with a private key into a Sigstore bundle v0.3 (messageSignature, key hint, no transparency log)')
    .argument('<manifest>', 'manifest file written by `modelgate dataset manifest`')
    .requiredOption('--key <file>', 'private key: modelgate/cosign encrypted key (passphrase from MODELGATE_PASSWORD or a prompt) or PKCS#8 PEM')
    .option('--bundle <file>', 'where to write the bundle (default: MANIFEST.sigstore.json)')
    .action(async (manifestPath: string, options: { key: string; bundle?: string }) => {
      let bytes: Buffer;
      try {
        bytes = await readFile(manifestPath);
      } catch (err) {
        throw new DatasetError('IO', `cannot read manifest ${manifestPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      parseDatasetManifest(bytes); // sign only what `dataset verify` will accept
      let keyText: string;
      try {
        keyText = await readFile(options.key, 'utf8');
      } catch (err) {
        throw new SigningError('IO', `cannot read key file ${options.key}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      const passphrase = isEncryptedKeyPem(keyText) ? await resolvePassphrase({ purpose: 'unlock', keyName: options.key }) : undefined;
      const key = await parseSigningKey(keyText, passphrase);
      const bundle = signBlobBundle(bytes, key);
      const output = options.bundle ?? `${manifestPath}.sigstore.json`;
      try {
        await writeFileAtomic(output, `${JSON.stringify(bundle)}\n`, { overwrite: true });
      } catch (err) {
        throw new SigningError('IO', `cannot write ${output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      process.stderr.write(`Bundle written to ${output}\n`);
    });
}
