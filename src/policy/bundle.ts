/**
 * Policy bundles: build (opa check + opa test + opa build -t wasm), publish, load and verify.
 *
 * Owns: the bundle format. A bundle is three files:
 *   policy.wasm    the compiled policy (entrypoint `modelgate/decision`)
 *   data.json      the default data document (allowlists; may be replaced at load time)
 *   manifest.json  { mediaType, entrypoint, inputVersion, opa, files: { name: { digest, size } }, ... }
 * The bundle digest is the sha256 of manifest.json's bytes; since the manifest pins every file,
 * decisions and caches can be keyed by it. A file that does not match its manifest entry is refused
 * (BUNDLE_DIGEST_MISMATCH) before any wasm is instantiated.
 * A bundle is read from a directory, from its manifest.json path, from a tar(.gz) of the three files,
 * or from an OCI artifact by digest through any `ArtifactStore` (layers titled with the file names).
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import * as tar from 'tar';
import { digestOf, verifyBytes, type Digest } from '../oci/digest.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, type Descriptor } from '../oci/manifest.ts';
import type { ArtifactStore, CallOptions } from '../oci/store.ts';
import { PolicyError } from './errors.ts';
import { POLICY_INPUT_VERSION } from './input.ts';
import { locateOpa, opaVersion, runOpa, type OpaBinary } from './opa.ts';

import { DEFAULT_BUNDLE_DIR, DEFAULT_POLICY_DIR } from './package-paths.ts';
import { isRecord } from '../evidence/json.ts';

export { DEFAULT_BUNDLE_DIR, DEFAULT_POLICY_DIR };

export const BUNDLE_MEDIA_TYPE = 'application/vnd.modelgate.policy.bundle.v1+json';
/** artifactType of a policy bundle pushed as an OCI artifact. */
export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.modelgate.policy.bundle.v1';
export const DEFAULT_ENTRYPOINT = 'modelgate/decision';
export const BUNDLE_FILES = ['policy.wasm', 'data.json'] as const;
export type BundleFileName = (typeof BUNDLE_FILES)[number];
const FILE_MEDIA_TYPES: Readonly<Record<BundleFileName | 'manifest.json', string>> = {
  'policy.wasm': 'application/vnd.modelgate.policy.wasm.v1',
  'data.json': 'application/vnd.modelgate.policy.data.v1+json',
  'manifest.json': BUNDLE_MEDIA_TYPE,
};
const TITLE = 'org.opencontainers.image.title';
/** Largest bundle file accepted (the default policy's wasm is ≈ 0.5 MB). */
export const MAX_BUNDLE_FILE_BYTES = 32 * 1024 * 1024;

export interface BundleFileEntry {
  readonly digest: Digest;
  readonly size: number;
}

export interface BundleManifest {
  readonly mediaType: typeof BUNDLE_MEDIA_TYPE;
  readonly entrypoint: string;
  readonly inputVersion: string;
  readonly opa: { readonly version: string; readonly sha256: string };
  readonly files: Readonly<Record<BundleFileName, BundleFileEntry>>;
  /** sha256 of each Rego source compiled in (provenance of the build). */
  readonly sources: Readonly<Record<string, Digest>>;
  readonly tests: { readonly passed: number; readonly coverage: number };
}

export interface PolicyBundle {
  /** sha256 of manifest.json: the identity of this bundle. */
  readonly digest: Digest;
  readonly manifest: BundleManifest;
  readonly manifestBytes: Buffer;
  readonly wasm: Buffer;
  /** data.json parsed. */
  readonly data: unknown;
  readonly dataBytes: Buffer;
  /** Where it was loaded from, for messages. */
  readonly source: string;
}

// ---------------------------------------------------------------------------------------------
// Verification

type Json = Record<string, unknown>;

function invalid(source: string, why: string): never {
  throw new PolicyError('BUNDLE_INVALID', `policy bundle ${source}: ${why}`);
}

function parseManifest(bytes: Buffer, source: string): BundleManifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    invalid(source, `manifest.json is not JSON (${(err as Error).message})`);
  }
  if (!isRecord(value)) invalid(source, 'manifest.json is not an object');
  if (value.mediaType !== BUNDLE_MEDIA_TYPE) invalid(source, `manifest mediaType must be ${BUNDLE_MEDIA_TYPE}`);
  if (typeof value.entrypoint !== 'string' || value.entrypoint.length === 0) invalid(source, 'manifest entrypoint missing');
  if (value.inputVersion !== POLICY_INPUT_VERSION) invalid(source, `manifest inputVersion must be ${POLICY_INPUT_VERSION}, got ${String(value.inputVersion)}`);
  if (!isRecord(value.files)) invalid(source, 'manifest files missing');
  for (const name of BUNDLE_FILES) {
    const entry = value.files[name];
    if (!isRecord(entry) || typeof entry.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(entry.digest)) {
      invalid(source, `manifest has no sha256 digest for ${name}`);
    }
    if (typeof entry.size !== 'number' || !Number.isSafeInteger(entry.size) || entry.size < 0 || entry.size > MAX_BUNDLE_FILE_BYTES) {
      invalid(source, `manifest size of ${name} is missing or out of range`);
    }
  }
  return value as unknown as BundleManifest;
}

/** Check the files against the manifest and assemble a bundle. Throws BUNDLE_INVALID / BUNDLE_DIGEST_MISMATCH. */
export function verifyBundleFiles(files: ReadonlyMap<string, Buffer>, source: string): PolicyBundle {
  const manifestBytes = files.get('manifest.json') ?? invalid(source, 'manifest.json missing');
  const manifest = parseManifest(manifestBytes, source);
  for (const name of BUNDLE_FILES) {
    const bytes = files.get(name) ?? invalid(source, `${name} missing`);
    const entry = manifest.files[name];
    try {
      verifyBytes(bytes, entry.digest, entry.size);
    } catch (err) {
      throw new PolicyError('BUNDLE_DIGEST_MISMATCH', `policy bundle ${source}: ${name} does not match its manifest (${(err as Error).message}); refusing it`, {
        cause: err,
      });
    }
  }
  const dataBytes = files.get('data.json')!;
  let data: unknown;
  try {
    data = JSON.parse(dataBytes.toString('utf8'));
  } catch (err) {
    invalid(source, `data.json is not JSON (${(err as Error).message})`);
  }
  return { digest: digestOf(manifestBytes), manifest, manifestBytes, wasm: files.get('policy.wasm')!, data, dataBytes, source };
}

// ---------------------------------------------------------------------------------------------
// Loading

async function readBounded(path: string): Promise<Buffer> {
  const info = await stat(path);
  if (info.size > MAX_BUNDLE_FILE_BYTES) throw new PolicyError('BUNDLE_INVALID', `${path} is larger than ${MAX_BUNDLE_FILE_BYTES} bytes`);
  return readFile(path);
}

async function readTarFiles(path: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const wanted = new Set<string>(['manifest.json', ...BUNDLE_FILES]);
  let tooLarge = false;
  await tar.t({
    file: path,
    onReadEntry: (entry) => {
      const name = entry.path.replace(/^(?:\.?\/)+/, '');
      if (!wanted.has(name) || entry.type !== 'File') {
        entry.resume();
        return;
      }
      if ((entry.size ?? 0) > MAX_BUNDLE_FILE_BYTES) tooLarge = true;
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => {
        if (!tooLarge) chunks.push(chunk);
      });
      entry.on('end', () => files.set(name, Buffer.concat(chunks)));
    },
  });
  if (tooLarge) throw new PolicyError('BUNDLE_INVALID', `policy bundle ${path}: a file is larger than ${MAX_BUNDLE_FILE_BYTES} bytes`);
  return files;
}

/** Load and verify a bundle from a directory, its manifest.json, or a tar(.gz) archive. */
export async function loadBundle(path: string): Promise<PolicyBundle> {
  const full = resolve(path);
  let info;
  try {
    info = await stat(full);
  } catch (err) {
    throw new PolicyError('BUNDLE_INVALID', `policy bundle ${full} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const dir = info.isDirectory() ? full : basename(full) === 'manifest.json' ? dirname(full) : undefined;
  if (dir === undefined) {
    try {
      return verifyBundleFiles(await readTarFiles(full), full);
    } catch (err) {
      if (err instanceof PolicyError) throw err;
      throw new PolicyError('BUNDLE_INVALID', `policy bundle ${full} is neither a bundle directory nor a tar archive: ${(err as Error).message}`, { cause: err });
    }
  }
  const files = new Map<string, Buffer>();
  for (const name of ['manifest.json', ...BUNDLE_FILES]) {
    try {
      files.set(name, await readBounded(join(dir, name)));
    } catch (err) {
      if (err instanceof PolicyError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new PolicyError('BUNDLE_INVALID', `policy bundle ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }
  return verifyBundleFiles(files, dir);
}

/** Load a bundle pushed as an OCI artifact, by manifest digest, through any ArtifactStore. */
export async function loadBundleFromStore(store: ArtifactStore, digest: Digest, options: CallOptions = {}): Promise<PolicyBundle> {
  const source = `${store.name}@${digest}`;
  const fetched = await store.fetchManifest(digest, options);
  const manifest = fetched.manifest;
  if (manifest.kind !== 'manifest' || manifest.artifactType !== BUNDLE_ARTIFACT_TYPE) {
    invalid(source, `not a policy bundle artifact (artifactType ${BUNDLE_ARTIFACT_TYPE} expected)`);
  }
  const files = new Map<string, Buffer>();
  for (const layer of manifest.layers) {
    const title = layer.annotations?.[TITLE];
    if (title === undefined || files.has(title)) invalid(source, 'every layer needs a unique org.opencontainers.image.title');
    files.set(title, await store.fetchBlob(layer, { ...options, maxBytes: MAX_BUNDLE_FILE_BYTES }));
  }
  return verifyBundleFiles(files, source);
}

/** Push a bundle as an OCI artifact (three titled layers); returns the manifest descriptor. */
export async function pushBundle(store: ArtifactStore, bundle: PolicyBundle, options: CallOptions & { tag?: string } = {}): Promise<Descriptor> {
  const layers: Descriptor[] = [];
  const contents: Array<[BundleFileName | 'manifest.json', Buffer]> = [
    ['manifest.json', bundle.manifestBytes],
    ['policy.wasm', bundle.wasm],
    ['data.json', bundle.dataBytes],
  ];
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY }, options);
  for (const [name, bytes] of contents) {
    const pushed = await store.pushBlob({ kind: 'bytes', bytes, mediaType: FILE_MEDIA_TYPES[name] }, options);
    layers.push({ mediaType: FILE_MEDIA_TYPES[name], digest: pushed.digest, size: pushed.size, annotations: { [TITLE]: name } });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: BUNDLE_ARTIFACT_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers,
    annotations: { 'dev.modelgate.policy.bundle.digest': bundle.digest },
  };
  return store.pushManifest(Buffer.from(JSON.stringify(manifest)), MediaType.OCI_MANIFEST, options);
}

// ---------------------------------------------------------------------------------------------
// Building

export interface BuildOptions {
  /** Directory with *.rego (tests: *_test.rego) and an optional data.json. */
  readonly policyDir: string;
  /** Output directory, replaced atomically (e.g. build/policy). */
  readonly outDir: string;
  readonly entrypoint?: string;
  /** Minimum `opa test` coverage in percent (default 100). */
  readonly minCoverage?: number;
  readonly opa?: OpaBinary;
}

export interface PolicySources {
  readonly policies: string[];
  readonly tests: string[];
  readonly data: string | undefined;
}

/** The Rego sources and data of a policy directory (top level only; JSON schemas are not data). */
export async function policySources(policyDir: string): Promise<PolicySources> {
  const dir = resolve(policyDir);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw new PolicyError('BUNDLE_INVALID', `policy directory ${dir} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const rego = names.filter((n) => n.endsWith('.rego'));
  const policies = rego.filter((n) => !n.endsWith('_test.rego')).map((n) => join(dir, n));
  const tests = rego.filter((n) => n.endsWith('_test.rego')).map((n) => join(dir, n));
  if (policies.length === 0) throw new PolicyError('BUNDLE_INVALID', `policy directory ${dir} has no .rego policy files`);
  return { policies, tests, data: names.includes('data.json') ? join(dir, 'data.json') : undefined };
}

export interface TestReport {
  readonly passed: number;
  readonly coverage: number;
  readonly output: string;
}

/** `opa check --strict` then `opa test` (and coverage ≥ minCoverage) over a policy directory. */
export async function testPolicies(policyDir: string, options: { opa?: OpaBinary; minCoverage?: number } = {}): Promise<TestReport> {
  const opa = options.opa ?? (await locateOpa());
  const sources = await policySources(policyDir);
  const all = [...sources.policies, ...sources.tests];
  const withData = sources.data ? [...all, sources.data] : all;
  await runOpa(opa, ['check', '--strict', ...all]);
  if (sources.tests.length === 0) throw new PolicyError('OPA_FAILED', `policy directory ${policyDir} has no *_test.rego files; refusing an untested policy`);
  const { stdout } = await runOpa(opa, ['test', '--format', 'json', ...withData]);
  const results = JSON.parse(stdout) as Array<{ name: string; fail?: boolean; error?: unknown; skip?: boolean }>;
  const failed = results.filter((r) => r.fail === true || r.error !== undefined || r.skip === true);
  if (failed.length > 0) throw new PolicyError('OPA_FAILED', `opa test: ${failed.length} failing: ${failed.map((r) => r.name).join(', ')}`);
  const coverageRun = await runOpa(opa, ['test', '--coverage', '--format', 'json', ...withData]);
  const coverage = Number((JSON.parse(coverageRun.stdout) as { coverage?: number }).coverage ?? 0);
  const minCoverage = options.minCoverage ?? 100;
  if (coverage < minCoverage) {
    throw new PolicyError('OPA_FAILED', `opa test coverage ${coverage.toFixed(2)}% is below the required ${minCoverage}%`);
  }
  return { passed: results.length, coverage, output: `PASS: ${results.length}/${results.length}, coverage ${coverage.toFixed(2)}%` };
}

export interface BuildResult {
  readonly bundle: PolicyBundle;
  readonly outDir: string;
  readonly tests: TestReport;
}

/** Check, test and compile a policy directory into a bundle directory (published atomically). */
export async function buildBundle(options: BuildOptions): Promise<BuildResult> {
  const opa = options.opa ?? (await locateOpa());
  const entrypoint = options.entrypoint ?? DEFAULT_ENTRYPOINT;
  const tests = await testPolicies(options.policyDir, { opa, minCoverage: options.minCoverage });
  const sources = await policySources(options.policyDir);
  const version = await opaVersion(opa);
  const work = await mkdtemp(join(tmpdir(), 'modelgate-policy-'));
  try {
    const archive = join(work, 'opa-bundle.tar.gz');
    const dataArgs = sources.data ? [sources.data] : [];
    // Sources by their names, from inside the directory: opa writes the paths it was given into
    // policy.wasm (for error locations), and an absolute path made the bundle digest depend on where
    // the checkout lies (one digest per clone, the build machine's paths in the artefact).
    const named = (files: readonly string[]): string[] => files.map((f) => basename(f));
    await runOpa(opa, ['build', '-t', 'wasm', '-e', entrypoint, '-o', archive, ...named(sources.policies), ...named(dataArgs)], { cwd: resolve(options.policyDir) });
    const built = new Map<string, Buffer>();
    await tar.t({
      file: archive,
      onReadEntry: (entry) => {
        const name = entry.path.replace(/^\/+/, '');
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => built.set(name, Buffer.concat(chunks)));
      },
    });
    const wasm = built.get('policy.wasm') ?? invalid(archive, 'opa build produced no policy.wasm');
    // opa writes data.json compactly; re-serialise with a stable indentation for reviewable diffs.
    const dataBytes = Buffer.from(JSON.stringify(JSON.parse((built.get('data.json') ?? Buffer.from('{}')).toString('utf8')), null, 2) + '\n');
    const sourceDigests: Record<string, Digest> = {};
    for (const file of sources.policies) sourceDigests[basename(file)] = digestOf(await readFile(file));
    const manifest: BundleManifest = {
      mediaType: BUNDLE_MEDIA_TYPE,
      entrypoint,
      inputVersion: POLICY_INPUT_VERSION,
      opa: { version, sha256: opa.sha256 },
      files: {
        'policy.wasm': { digest: digestOf(wasm), size: wasm.length },
        'data.json': { digest: digestOf(dataBytes), size: dataBytes.length },
      },
      sources: sourceDigests,
      tests: { passed: tests.passed, coverage: tests.coverage },
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
    const outDir = resolve(options.outDir);
    await publishDirectory(outDir, { 'policy.wasm': wasm, 'data.json': dataBytes, 'manifest.json': manifestBytes });
    return { bundle: await loadBundle(outDir), outDir, tests };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Write files into a fresh sibling directory, then swap it into place: readers see the old bundle,
 * briefly no bundle, or the complete new one — never a mix of old and new files.
 */
async function publishDirectory(outDir: string, files: Readonly<Record<string, Buffer>>): Promise<void> {
  await mkdir(dirname(outDir), { recursive: true });
  const staging = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.new-`));
  await chmod(staging, 0o755);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(staging, name), bytes);
  const old = `${staging.replace('.new-', '.old-')}`;
  let hadOld = true;
  try {
    await rename(outDir, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    hadOld = false;
  }
  await rename(staging, outDir);
  if (hadOld) await rm(old, { recursive: true, force: true });
}
