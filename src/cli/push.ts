/**
 * `modelgate push MODEL_DIR REF`: package a model directory as a CNCF ModelPack artifact, record its
 * lineage annotations, push it to a registry (`oci://host/repo:tag`) or an OCI image layout
 * (`oci-layout://dir:tag`, created if missing) and print the manifest digest.
 *
 * Owns: the command's flags and output — the digest alone on stdout (with `-o json`: {reference, digest,
 * files}); on stderr the summary line and,
 * only when stderr is a terminal, a progress line redrawn twice a second (files and bytes stored).
 * Packing is `src/modelpack/pack.ts`; the annotations `src/emit/lineage-annotations.ts`.
 * `push REF --variant NAME=DIR …` pushes a model index instead (`src/modelpack/variants.ts`): each
 * directory as an untagged ModelPack manifest, then the OCI image index of them under REF's tag; stdout
 * is the index digest (with `-o json` also each variant's name and digest, to sign and attest them).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { lineageAnnotations } from '../emit/lineage-annotations.ts';
import { pushModelDirectory, PUSH_CONCURRENCY, type BuiltModelPack, type PushModelOptions } from '../modelpack/pack.ts';
import { checkVariantName, parsePlatform, pushVariantIndex, VARIANT_ANNOTATION, VariantError, type VariantSpec } from '../modelpack/variants.ts';
import type { Platform } from '../oci/manifest.ts';
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
  readonly variant: readonly string[];
  readonly variantPlatform: readonly string[];
  readonly variantAccelerator: readonly string[];
  readonly variantAnnotation: readonly string[];
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

function parseAnnotations(pairs: readonly string[], flag = '--annotation'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError('USAGE', `${flag} ${JSON.stringify(pair)} must be KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** `--variant NAME=DIR` and its per-variant `--variant-platform NAME=OS/ARCH`, `--variant-accelerator NAME=ACC`, `--variant-annotation NAME:KEY=VALUE`. */
function variantPlan(options: PushOptions): { name: string; dir: string; platform?: Platform; accelerator?: string; annotations: Record<string, string> }[] {
  const dirs = parseAnnotations(options.variant, '--variant');
  if (Object.keys(dirs).length !== options.variant.length) throw new UsageError('USAGE', '--variant names the same variant twice');
  const named = (flag: string, pairs: readonly string[]): Record<string, string> => {
    const out = parseAnnotations(pairs, flag);
    for (const name of Object.keys(out)) if (dirs[name] === undefined) throw new UsageError('USAGE', `${flag} names variant "${name}", which no --variant gives`);
    return out;
  };
  const platforms = named('--variant-platform', options.variantPlatform);
  const accelerators = named('--variant-accelerator', options.variantAccelerator);
  const annotations: Record<string, Record<string, string>> = {};
  for (const entry of options.variantAnnotation) {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new UsageError('USAGE', `--variant-annotation ${JSON.stringify(entry)} must be NAME:KEY=VALUE`);
    const name = entry.slice(0, colon);
    named('--variant-annotation', [`${name}=`]);
    Object.assign((annotations[name] ??= {}), parseAnnotations([entry.slice(colon + 1)], '--variant-annotation'));
  }
  return Object.entries(dirs).map(([name, dir]) => {
    try {
      checkVariantName(name, '--variant');
      return {
        name,
        dir,
        ...(platforms[name] !== undefined ? { platform: parsePlatform(platforms[name]) } : {}),
        ...(accelerators[name] !== undefined ? { accelerator: accelerators[name] } : {}),
        annotations: annotations[name] ?? {},
      };
    } catch (err) {
      throw err instanceof VariantError ? new UsageError('USAGE', err.message) : err;
    }
  });
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
    .summary('Push MODEL_DIR as a CNCF ModelPack artifact with lineage annotations (with --variant: a model index of variants); prints the digest')
    .description('Push MODEL_DIR as a CNCF ModelPack artifact with lineage annotations; prints the manifest digest. With --variant NAME=DIR (repeatable) and only REFERENCE: each directory is one ModelPack manifest, pushed untagged, and REFERENCE tags an OCI image index of them (a model index); prints the index digest')
    .argument('<model-dir>', 'model directory (regular files only); with --variant, the reference instead')
    .argument('[reference]', 'target: oci://host/repo:tag or oci-layout://dir:tag')
    .option('--name <name>', 'model name recorded in the ModelPack config')
    .option('--model-version <version>', 'model version recorded in the ModelPack config')
    .option('--created <time>', 'RFC 3339 creation time recorded in config and manifest (omitted by default: reproducible digests)')
    .option('--dataset-digest <digest>', 'org.ml.dataset.digest: digest of the training dataset manifest')
    .option('--dataset-ref <ref>', 'org.ml.dataset.oci-ref: the dataset, pinned (oci://host/repo@sha256:…)')
    .option('--training-code <uri>', 'org.ml.training.code: training source (e.g. git+https://…@commit)')
    .option('--training-container <ref>', 'org.ml.training.container: training image, pinned by digest')
    .option('--hyperparams <json|@file>', 'org.ml.hyperparams: hyperparameters as a JSON object (text or @FILE)')
    .option('--annotation <key=value>', 'extra manifest annotation (repeatable; with --variant: on the index and every variant)', collect, [])
    .option('--variant <name=dir>', 'a variant of a model index: its name (dev.modelgate.variant) and model directory (repeatable)', collect, [])
    .option('--variant-platform <name=os/arch>', 'the platform of a variant in the index (e.g. int4=linux/amd64)', collect, [])
    .option('--variant-accelerator <name=accelerator>', 'the accelerator a variant needs (dev.modelgate.variant.accelerator, e.g. fp16=nvidia)', collect, [])
    .option('--variant-annotation <name:key=value>', 'an annotation of a variant\'s descriptor in the index (repeatable)', collect, [])
    .option('--concurrency <n>', 'blobs uploaded at once (those the registry already has are only HEAD-checked)', String(PUSH_CONCURRENCY))
    .addOption(outputOption('output format: text (the manifest digest) or json ({reference, digest, files})'));
  addStoreOptions(command).action(async (modelDir: string, givenReference: string | undefined, options: PushOptions) => {
    const variants = options.variant.length > 0 ? variantPlan(options) : undefined;
    if (variants !== undefined && givenReference !== undefined) throw new UsageError('USAGE', 'with --variant, give only the reference: each variant names its own directory');
    if (variants === undefined && givenReference === undefined) throw new UsageError('USAGE', 'missing the reference: push MODEL_DIR REFERENCE (or push REFERENCE --variant NAME=DIR …)');
    if (variants === undefined && (options.variantPlatform.length + options.variantAccelerator.length + options.variantAnnotation.length) > 0) throw new UsageError('USAGE', '--variant-platform, --variant-accelerator and --variant-annotation need --variant');
    const reference = givenReference ?? modelDir;
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
    const pack = async (dir: string, tag: string | undefined, extra: Record<string, string> = {}): Promise<BuiltModelPack> => {
      const progress = terminalProgress();
      try {
        return await pushModelDirectory(store, dir, {
          ...(tag !== undefined ? { tag } : {}),
          annotations: { ...annotations, ...extra },
          concurrency,
          ...progress.callbacks,
          ...(options.name !== undefined ? { name: options.name } : {}),
          ...(options.modelVersion !== undefined ? { version: options.modelVersion } : {}),
          ...(options.created !== undefined ? { createdAt: options.created } : {}),
        });
      } finally {
        progress.done();
      }
    };
    if (variants !== undefined) {
      // Each variant untagged (the index references it, so the registry keeps it), then the tagged index.
      const pushed: VariantSpec[] = [];
      let files = 0;
      for (const v of variants) {
        const built = await pack(v.dir, undefined, { [VARIANT_ANNOTATION]: v.name });
        files += built.files.length;
        pushed.push({ name: v.name, manifest: built.manifest.descriptor, annotations: v.annotations, ...(v.platform !== undefined ? { platform: v.platform } : {}), ...(v.accelerator !== undefined ? { accelerator: v.accelerator } : {}) });
        process.stderr.write(`Pushed variant ${v.name}: ${built.files.length} files, ${built.manifest.descriptor.digest}\n`);
      }
      const index = await pushVariantIndex(store, pushed, { tag: target.tag ?? 'latest', annotations });
      const pinned = formatReference(withDigest(target, index.digest));
      process.stderr.write(`Pushed the model index of ${pushed.length} variants to ${pinned}\n`);
      process.stdout.write(
        options.output === 'json'
          ? `${JSON.stringify({ reference: pinned, digest: index.digest, files, variants: pushed.map((v) => ({ name: v.name, digest: v.manifest.digest })) })}\n`
          : `${index.digest}\n`,
      );
      return;
    }
    const built = await pack(modelDir, target.tag ?? 'latest');
    const digest = built.manifest.descriptor.digest;
    const pinned = formatReference(withDigest(target, digest));
    process.stderr.write(`Pushed ${built.files.length} files to ${pinned}\n`);
    process.stdout.write(options.output === 'json' ? `${JSON.stringify({ reference: pinned, digest, files: built.files.length })}\n` : `${digest}\n`);
  });
}
