/**
 * `modelgate push MODEL_DIR REF`: package a model directory as a CNCF ModelPack artifact, record its
 * lineage annotations, push it to a registry (`oci://host/repo:tag`) or an OCI image layout
 * (`oci-layout://dir:tag`, created if missing) and print the manifest digest.
 *
 * Owns: the command's flags and output — the digest alone on stdout (with `-o json`: {reference, digest,
 * files}); on stderr the summary line and,
 * only when stderr is a terminal, a progress line redrawn twice a second (files and bytes stored).
 * Packing is `src/modelpack/pack.ts`; the annotations `src/emit/lineage-annotations.ts`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { lineageAnnotations } from '../emit/lineage-annotations.ts';
import { pushModelDirectory, PUSH_CONCURRENCY, type PushModelOptions } from '../modelpack/pack.ts';
import { formatReference, parseReference, withDigest } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { addStoreOptions, openReference, type StoreCliOptions } from './store-options.ts';

interface PushOptions extends StoreCliOptions {
  readonly name?: string;
  readonly modelVersion?: string;
  readonly created?: string;
  readonly datasetDigest?: string;
  readonly datasetRef?: string;
  readonly trainingCode?: string;
  readonly trainingContainer?: string;
  readonly hyperparams?: string;
  readonly annotation: readonly string[];
  readonly concurrency: string;
  readonly output: OutputFormat;
}

const PROGRESS_INTERVAL_MS = 500;
const MIB = 1024 * 1024;

/**
 * Progress callbacks for `pushModelDirectory` that draw one stderr line while stderr is a TTY — once when
 * the scan is done, then every PROGRESS_INTERVAL_MS; `done` clears it. Off a terminal (CI logs, pipes)
 * nothing is drawn.
 */
function terminalProgress(): { readonly callbacks: Pick<PushModelOptions, 'onScanned' | 'onLayer' | 'onLayerProgress'>; done(): void } {
  if (process.stderr.isTTY !== true) return { callbacks: {}, done: () => {} };
  let totalFiles = 0;
  let totalBytes = 0;
  let files = 0;
  let bytes = 0;
  const partial = new Map<string, number>();
  const draw = (): void => {
    let sent = bytes;
    for (const value of partial.values()) sent += value;
    const line = totalFiles === 0 ? 'Hashing files…' : `Pushing: ${files}/${totalFiles} files, ${(sent / MIB).toFixed(1)}/${(totalBytes / MIB).toFixed(1)} MiB stored`;
    process.stderr.write(`\r\x1b[K${line}`);
  };
  const timer = setInterval(draw, PROGRESS_INTERVAL_MS);
  timer.unref();
  return {
    callbacks: {
      onScanned: (scanned) => {
        totalFiles = scanned.length;
        totalBytes = scanned.reduce((sum, f) => sum + f.size, 0);
        draw();
      },
      onLayer: (file) => {
        files += 1;
        bytes += file.size;
        partial.delete(file.path);
      },
      onLayerProgress: (file, done) => partial.set(file.path, done),
    },
    done: () => {
      clearInterval(timer);
      process.stderr.write('\r\x1b[K');
    },
  };
}

function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

function parseAnnotations(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError('USAGE', `--annotation ${JSON.stringify(pair)} must be KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** `--hyperparams` is JSON text, or `@FILE` naming a JSON file. */
async function hyperparamsText(value: string | undefined): Promise<string | undefined> {
  if (value === undefined || !value.startsWith('@')) return value;
  try {
    return await readFile(value.slice(1), 'utf8');
  } catch (err) {
    throw new UsageError('USAGE', `cannot read hyperparameters ${value.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Open a push target named by tag (an OCI layout is created when missing); also used by `dataset push`. */
export async function openPushTarget(text: string, options: StoreCliOptions): Promise<ArtifactStore> {
  const ref = parseReference(text);
  if (ref.digest !== undefined) throw new UsageError('USAGE', `push target ${text} must name a tag, not a digest (the digest is the result)`);
  if (ref.kind === 'layout') {
    const { openStore } = await import('../oci/open.ts');
    return openStore(ref, { layout: { create: true } });
  }
  return (await openReference(text, options)).store;
}

export function register(program: Command): void {
  const command = program
    .command('push')
    .description('Push MODEL_DIR as a CNCF ModelPack artifact with lineage annotations; prints the manifest digest')
    .argument('<model-dir>', 'model directory (regular files only)')
    .argument('<reference>', 'target: oci://host/repo:tag or oci-layout://dir:tag')
    .option('--name <name>', 'model name recorded in the ModelPack config')
    .option('--model-version <version>', 'model version recorded in the ModelPack config')
    .option('--created <time>', 'RFC 3339 creation time recorded in config and manifest (omitted by default: reproducible digests)')
    .option('--dataset-digest <digest>', 'org.ml.dataset.digest: digest of the training dataset manifest')
    .option('--dataset-ref <ref>', 'org.ml.dataset.oci-ref: the dataset, pinned (oci://host/repo@sha256:…)')
    .option('--training-code <uri>', 'org.ml.training.code: training source (e.g. git+https://…@commit)')
    .option('--training-container <ref>', 'org.ml.training.container: training image, pinned by digest')
    .option('--hyperparams <json|@file>', 'org.ml.hyperparams: hyperparameters as a JSON object (text or @FILE)')
    .option('--annotation <key=value>', 'extra manifest annotation (repeatable)', collect, [])
    .option('--concurrency <n>', 'blobs uploaded at once (those the registry already has are only HEAD-checked)', String(PUSH_CONCURRENCY))
    .addOption(outputOption('output format: text (the manifest digest) or json ({reference, digest, files})'));
  addStoreOptions(command).action(async (modelDir: string, reference: string, options: PushOptions) => {
    if (options.created !== undefined && Number.isNaN(Date.parse(options.created))) throw new UsageError('USAGE', `--created ${options.created} is not an RFC 3339 time`);
    const target = parseReference(reference);
    const annotations = {
      ...parseAnnotations(options.annotation),
      ...lineageAnnotations({
        ...(options.datasetDigest !== undefined ? { datasetDigest: options.datasetDigest } : {}),
        ...(options.datasetRef !== undefined ? { datasetOciRef: options.datasetRef } : {}),
        ...(options.trainingCode !== undefined ? { trainingCode: options.trainingCode } : {}),
        ...(options.trainingContainer !== undefined ? { trainingContainer: options.trainingContainer } : {}),
        ...(options.hyperparams !== undefined ? { hyperparams: (await hyperparamsText(options.hyperparams))! } : {}),
      }),
    };
    const concurrency = Number(options.concurrency);
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError('USAGE', `--concurrency must be an integer from 1 to 256, got ${JSON.stringify(options.concurrency)}`);
    const store = await openPushTarget(reference, options);
    const progress = terminalProgress();
    let built;
    try {
      built = await pushModelDirectory(store, modelDir, {
        tag: target.tag ?? 'latest',
        annotations,
        concurrency,
        ...progress.callbacks,
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(options.modelVersion !== undefined ? { version: options.modelVersion } : {}),
        ...(options.created !== undefined ? { createdAt: options.created } : {}),
      });
    } finally {
      progress.done();
    }
    const digest = built.manifest.descriptor.digest;
    const pinned = formatReference(withDigest(target, digest));
    process.stderr.write(`Pushed ${built.files.length} files to ${pinned}\n`);
    process.stdout.write(options.output === 'json' ? `${JSON.stringify({ reference: pinned, digest, files: built.files.length })}\n` : `${digest}\n`);
  });
}
