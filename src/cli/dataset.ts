/**
 * `modelgate dataset …`: canonical manifests of training datasets, and checking a directory against one.
 *
 * Owns: the `dataset manifest`, `dataset verify`, `dataset prove`, `dataset sign`, `dataset attest` and
 * `dataset push` commands, their output and exit codes (verify: 0 identical, 1 differences), and the
 * stderr progress line (only on a terminal). The format itself is `src/dataset/manifest.ts`; the
 * attestation predicate `src/dataset/attestation.ts`; the OCI artifact `src/dataset/attestation-artifact.ts`;
 * signing (key or keyless) `src/cli/signing-key-option.ts`. Signing, bundle parsing and pushing are
 * imported by the subcommands that use them, so `dataset manifest`/`verify`/`prove` load none of it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { datasetPredicate, DATASET_PREDICATE_TYPE, KNOWN_STEP_KINDS, parseLicenseFlag, parseSourceFlag, parseStepFlag } from '../dataset/attestation.ts';
import { datasetArtifact, pushDatasetArtifact } from '../dataset/attestation-artifact.ts';
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
import { formatReference, parseReference, withDigest } from '../oci/reference.ts';
import { SigningError } from '../sign/errors.ts';
import { fileWritingOutputOption, jsonAliasOption, outputFileOption, outputOption, type OutputFormat } from './output-format.ts';
import { collect, readText } from './option-values.ts';
import { addSigningOptions, announceSigner, resolveBundleSigner, type SigningCliOptions } from './signing-key-option.ts';
import { addStoreOptions, type StoreCliOptions } from './store-options.ts';

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
    .addOption(outputFileOption('write the manifest to FILE (atomically) instead of stdout'))
    .addOption(fileWritingOutputOption('output format: text or json (the same: the manifest; with --output-file, json prints {outputFile, fileCount, totalSize, merkleRoot, digest})'))
    .option('--follow-symlinks', 'record what symbolic links point to instead of refusing them')
    .action(async (dir: string, options: { outputFile?: string; output: OutputFormat; followSymlinks?: boolean }) => {
      const progress = progressReporter('hashing');
      let manifest;
      try {
        manifest = await buildDatasetManifest(dir, { symlinks: symlinkPolicy(options), onProgress: progress.update });
      } finally {
        progress.end();
      }
      const bytes = serializeDatasetManifest(manifest);
      if (options.outputFile === undefined) {
        process.stdout.write(bytes); // already one JSON document: the same for text and json
        return;
      }
      try {
        await writeFileAtomic(options.outputFile, bytes, { overwrite: true });
      } catch (err) {
        throw new DatasetError('DATASET_IO', `cannot write ${options.outputFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      }
      process.stderr.write(`${manifest.fileCount} files, ${manifest.totalSize} bytes, root ${manifest.merkleRoot}\n`);
      if (options.output === 'json') {
        const summary = { outputFile: options.outputFile, fileCount: manifest.fileCount, totalSize: manifest.totalSize, merkleRoot: manifest.merkleRoot, digest: sha256Digest(bytes) };
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      }
    });

  dataset
    .command('verify')
    .description('Compare DIR with MANIFEST: name every added, removed and changed file (exit 0 identical, 1 otherwise)')
    .argument('<dir>', 'dataset directory')
    .argument('<manifest>', 'manifest file written by `modelgate dataset manifest`')
    .option('--follow-symlinks', 'record what symbolic links point to instead of refusing them')
    .addOption(outputOption('output format: text (one line per difference) or json (the differences as a JSON array)'))
    .addOption(jsonAliasOption())
    .action(async (dir: string, manifestPath: string, options: { followSymlinks?: boolean; output: OutputFormat }) => {
      const manifest = await readDatasetManifest(manifestPath);
      const progress = progressReporter('verifying');
      let changes;
      try {
        changes = await verifyDatasetDirectory(dir, manifest, { symlinks: symlinkPolicy(options), onProgress: progress.update });
      } finally {
        progress.end();
      }
      if (options.output === 'json') process.stdout.write(`${JSON.stringify(changes)}\n`);
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
    .addOption(outputOption('output format: text (the proof as indented JSON) or json (the same proof on one line)'))
    .action(async (manifestPath: string, path: string, options: { output: OutputFormat }) => {
      const manifest = await readDatasetManifest(manifestPath);
      const listed = manifest.files.some((f) => f.path === path);
      const head = { merkleRoot: manifest.merkleRoot, fileCount: manifest.fileCount };
      const proof = listed ? { ...head, inclusion: inclusionProof(manifest, path) } : { ...head, exclusion: exclusionProof(manifest, path) };
      process.stdout.write(`${options.output === 'json' ? JSON.stringify(proof) : JSON.stringify(proof, null, 2)}\n`);
    });

  const sign = dataset
    .command('sign')
    .description('Sign MANIFEST into a Sigstore bundle v0.3 (messageSignature): with --key (key hint, no transparency log) or keyless (Fulcio certificate, Rekor entry)')
    .argument('<manifest>', 'manifest file written by `modelgate dataset manifest`')
    .option('--bundle <file>', 'where to write the bundle (default: MANIFEST.sigstore.json)')
    .addOption(outputOption('output format: text (nothing on stdout; the bundle path on stderr) or json ({bundle, manifest, digest})'));
  addSigningOptions(sign).action(async (manifestPath: string, options: SigningCliOptions & { bundle?: string; output: OutputFormat }) => {
    const bytes = await readManifestBytes(manifestPath);
    parseDatasetManifest(bytes); // sign only what `dataset verify` will accept
    const signer = await resolveBundleSigner(options);
    announceSigner(signer);
    const { signBlobWith } = await import('../sign/bundle-signer.ts');
    const bundle = await signBlobWith(signer, bytes);
    const bundlePath = options.bundle ?? `${manifestPath}.sigstore.json`;
    await writeBundle(bundlePath, bundle);
    if (options.output === 'json') process.stdout.write(`${JSON.stringify({ bundle: bundlePath, manifest: manifestPath, digest: sha256Digest(bytes) })}\n`);
  });

  const attest = dataset
    .command('attest')
    .description(`Sign an in-toto Statement v1 about a dataset manifest (predicateType ${DATASET_PREDICATE_TYPE}: sources, curation steps, licence, Merkle root) into a DSSE Sigstore bundle`)
    .argument('[dir]', 'dataset directory (its manifest is computed, byte-identical to `dataset manifest DIR`)')
    .option('--manifest <file>', 'an existing manifest file instead of DIR')
    .addOption(outputFileOption('where to write the bundle (default with --manifest: MANIFEST.intoto.sigstore.json; required with DIR)'))
    .addOption(fileWritingOutputOption('output format: text (nothing on stdout; the bundle path and subjects on stderr) or json ({bundle, subjects})'))
    .option('--name <name>', 'subject name (default: the manifest file name, or the directory name)')
    .option('--uri <uri>', 'where the dataset lives (recorded as predicate.manifest.uri)')
    .option('--source <uri=alg:hex>', 'an upstream source and its digest, e.g. https://host/raw.tar=sha256:<hex> (repeatable)', collect, [])
    .option('--step <kind|json>', `a curation step: a kind (${KNOWN_STEP_KINDS.slice(0, 5).join(', ')}, …) or {"kind":…,"description":…,"tool":…,"parameters":{…}} (repeatable, in order)`, collect, [])
    .option('--license <spdx>', 'licence of the dataset: an SPDX expression')
    .option('--follow-symlinks', 'with DIR: record what symbolic links point to instead of refusing them');
  addSigningOptions(attest).action(async (dir: string | undefined, options: AttestOptions) => {
    if ((dir === undefined) === (options.manifest === undefined)) throw new UsageError('USAGE', 'give either a dataset DIR or --manifest FILE');
    if (dir !== undefined && options.outputFile === undefined) throw new UsageError('USAGE', 'with a dataset DIR, give --output-file FILE for the bundle');
    const sources = options.source.map(parseSourceFlag);
    const curation = options.step.map(parseStepFlag);
    const license = options.license === undefined ? undefined : parseLicenseFlag(options.license);
    if (options.uri !== undefined && !/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(options.uri)) throw new UsageError('USAGE', `--uri ${JSON.stringify(options.uri)} is not a URI`);
    const signer = await resolveBundleSigner(options);
    let manifestBytes: Buffer;
    if (options.manifest !== undefined) {
      manifestBytes = await readManifestBytes(options.manifest);
    } else {
      const progress = progressReporter('hashing');
      try {
        manifestBytes = serializeDatasetManifest(await buildDatasetManifest(dir!, { symlinks: symlinkPolicy(options), onProgress: progress.update }));
      } finally {
        progress.end();
      }
    }
    const manifest = parseDatasetManifest(manifestBytes);
    const predicate = datasetPredicate({ manifest, manifestBytes, sources, curation, ...(license === undefined ? {} : { license }), ...(options.uri === undefined ? {} : { uri: options.uri }) });
    const name = options.name ?? basename(resolve(options.manifest ?? dir!));
    const artifact = datasetArtifact(manifestBytes);
    const subjects = [
      { name, digest: predicate.manifest.digest },
      { name: `${name}${OCI_SUBJECT_SUFFIX}`, digest: artifact.digest },
    ];
    announceSigner(signer);
    const { signStatementWith } = await import('../sign/bundle-signer.ts');
    const bundle = await signStatementWith(signer, subjects, DATASET_PREDICATE_TYPE, predicate);
    const bundlePath = options.outputFile ?? `${options.manifest}.intoto.sigstore.json`;
    await writeBundle(bundlePath, bundle);
    process.stderr.write(`Subjects: ${name} ${predicate.manifest.digest}; ${name}${OCI_SUBJECT_SUFFIX} ${artifact.digest} (the digest \`dataset push\` gives it)\n`);
    if (options.output === 'json') process.stdout.write(`${JSON.stringify({ bundle: bundlePath, subjects })}\n`);
  });

  const push = dataset
    .command('push')
    .description('Push MANIFEST as an OCI artifact (the manifest is its single layer) and attach bundles as Sigstore-bundle referrers; prints the artifact digest')
    .argument('<manifest>', 'manifest file written by `modelgate dataset manifest`')
    .argument('<reference>', 'target: oci://host/repo:tag or oci-layout://dir:tag')
    .option('--bundle <file>', 'a bundle about this manifest to attach (from `dataset sign` or `dataset attest`; repeatable)', collect, [])
    .addOption(outputOption('output format: text (the artifact digest) or json ({reference, digest, referrers: [{bundle, digest}]})'));
  addStoreOptions(push).action(async (manifestPath: string, reference: string, options: StoreCliOptions & { bundle: string[]; output: OutputFormat }) => {
    const manifestBytes = await readManifestBytes(manifestPath);
    const artifact = datasetArtifact(manifestBytes);
    const bundles = await Promise.all(options.bundle.map(async (path) => ({ path, bytes: await readBundleAbout(path, artifact.layer.digest, artifact.digest) })));
    const target = parseReference(reference);
    const [{ openPushTarget }, { attachBundle }] = await Promise.all([import('./push.ts'), import('../sign/attach.ts')]);
    const store = await openPushTarget(reference, options);
    const written = await pushDatasetArtifact(store, manifestBytes, target.tag ?? 'latest');
    const referrers: { bundle: string; digest: string }[] = [];
    for (const { path, bytes } of bundles) {
      const referrer = await attachBundle(store, written, bytes);
      process.stderr.write(`Attached ${path} as referrer ${referrer.digest}\n`);
      referrers.push({ bundle: path, digest: referrer.digest });
    }
    const pinned = formatReference(withDigest(target, written.digest));
    process.stderr.write(`Pushed dataset manifest to ${pinned} (use it as attest run --dataset)\n`);
    process.stdout.write(options.output === 'json' ? `${JSON.stringify({ reference: pinned, digest: written.digest, referrers })}\n` : `${written.digest}\n`);
  });
}

interface AttestOptions extends SigningCliOptions {
  readonly manifest?: string;
  readonly outputFile?: string;
  readonly output: OutputFormat;
  readonly name?: string;
  readonly uri?: string;
  readonly source: string[];
  readonly step: string[];
  readonly license?: string;
  readonly followSymlinks?: boolean;
}

/** Name suffix of the second statement subject: the OCI artifact `dataset push` makes of the manifest. */
const OCI_SUBJECT_SUFFIX = '#oci-artifact';

/** `sha256:<hex>` of the manifest file's bytes (what `dataset sign` signs and `attest run --dataset-manifest` records). */
function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function readManifestBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new DatasetError('DATASET_IO', `cannot read manifest ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

async function writeBundle(output: string, bundle: unknown): Promise<void> {
  try {
    await writeFileAtomic(output, `${JSON.stringify(bundle)}\n`, { overwrite: true });
  } catch (err) {
    throw new SigningError('SIGNING_IO', `cannot write ${output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  process.stderr.write(`Bundle written to ${output}\n`);
}

/**
 * A bundle file for `dataset push`, refused unless it is about this manifest: a message signature
 * over the manifest bytes, or an in-toto statement naming the manifest or its artifact digest.
 * (Only the claim is read here; verification is the verifier's job.)
 */
async function readBundleAbout(path: string, manifestDigest: string, artifactDigest: string): Promise<string> {
  const bytes = await readText(path, 'bundle'); // at most 16 MiB = MAX_BUNDLE_BYTES
  const { parseBundle } = await import('../sigstore/bundle.ts');
  const bundle = parseBundle(bytes);
  const hex = (digest: string): string => digest.slice('sha256:'.length);
  if (bundle.content.$case === 'messageSignature') {
    const signed = Buffer.from(bundle.content.messageSignature.messageDigest?.digest ?? Buffer.alloc(0)).toString('hex');
    if (signed !== hex(manifestDigest)) throw new UsageError('USAGE', `bundle ${path} signs sha256:${signed}, not this manifest (${manifestDigest})`);
    return bytes;
  }
  let statement: { subject?: { digest?: Record<string, string> }[] } | undefined;
  try {
    statement = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8')) as typeof statement;
  } catch {
    statement = undefined;
  }
  const named = (statement?.subject ?? []).some((s) => s.digest?.sha256 === hex(manifestDigest) || s.digest?.sha256 === hex(artifactDigest));
  if (!named) throw new UsageError('USAGE', `bundle ${path} is not a statement about this manifest (${manifestDigest}) or its artifact (${artifactDigest})`);
  return bytes;
}
