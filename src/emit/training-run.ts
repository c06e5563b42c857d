/**
 * `modelgate attest run`: run a training command and, only when it succeeds, emit signed SLSA
 * Provenance v1 about what it wrote.
 *
 * Owns: running the command (inherited stdio and environment, its exit status passed through; a
 * signal becomes 128+n), timing it, gathering the facts (outputs hashed on the hashing pool, source
 * commit and lockfiles from `source-tree.ts`, GPUs from `gpu-info.ts`, CPU/memory/runtime from the
 * host, `python3 --version` when present), the statement's subjects — every output file by relative path plus the OMS root digest of
 * the outputs directory (named `<dir>/`, computed as `modelgate sign-model` does) — and writing the
 * signed Sigstore bundle atomically. A failed command yields no provenance. `runCommand` and
 * `outputSubjects` are shared with `modelgate attest evaluate` (`evaluation-run.ts`).
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants, cpus, release, totalmem } from 'node:os';
import { basename, resolve } from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { SLSA_PROVENANCE_V1 } from '../evidence/vocabulary.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { hashJobs } from '../hashing/pool.ts';
import type { Digest } from '../oci/digest.ts';
import { GIT_PATHS, listModelFiles, resolveIgnorePath } from '../oms/model-files.ts';
import { rootDigestOf, type OmsResource } from '../oms/payload.ts';
import { signStatementWith, type BundleSigner } from '../sign/bundle-signer.ts';
import type { StatementSubject } from '../sign/dsse-bundle.ts';
import { VERSION } from '../version.ts';
import { EmitError } from './errors.ts';
import { queryGpus } from './gpu-info.ts';
import { findLockfiles, readGitCheckout } from './source-tree.ts';
import { trainingProvenancePredicate, type DatasetInput, type HostFacts } from './training-provenance.ts';

export interface TrainingRunOptions {
  readonly command: readonly string[];
  readonly outputsDir: string;
  /** Where the provenance bundle goes (default: `<outputs>.provenance.sigstore.json` beside the outputs). */
  readonly bundlePath?: string;
  /** A private key or keyless signing (`src/sign/bundle-signer.ts`). */
  readonly signer: BundleSigner;
  readonly builderId: string;
  readonly invocationId?: string;
  readonly datasets?: readonly DatasetInput[];
  readonly hyperparameters?: unknown;
  readonly seeds?: readonly string[];
  /** Pinned training image `host/repo@sha256:…`. */
  readonly container?: string;
  /** Source tree (git checkout and lockfiles); default: the working directory. */
  readonly sourceDir?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** `nvidia-smi` binary to query (default: from PATH). */
  readonly nvidiaSmi?: string;
}

export type TrainingRunResult =
  | { readonly status: 'failed'; readonly exitCode: number }
  | { readonly status: 'attested'; readonly exitCode: 0; readonly bundlePath: string; readonly bundle: SerializedBundle; readonly subjects: readonly StatementSubject[] };

export function runCommand(command: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: 'inherit' });
    child.once('error', (err) => reject(new EmitError('COMMAND', `cannot start ${command[0]}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
    child.once('exit', (code, signal) => {
      if (code !== null) resolvePromise(code);
      else resolvePromise(128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}

export function defaultBundlePath(outputsDir: string): string {
  return `${resolve(outputsDir)}.provenance.sigstore.json`;
}

export async function outputSubjects(outputsDir: string, bundlePath: string): Promise<StatementSubject[]> {
  const ignorePaths: string[] = [...GIT_PATHS];
  const root = resolve(outputsDir);
  if (resolve(bundlePath).startsWith(`${root}/`)) {
    const rel = resolveIgnorePath(outputsDir, bundlePath);
    if (rel !== undefined) ignorePaths.push(rel);
  }
  let files;
  try {
    files = listModelFiles(outputsDir, { allowSymlinks: false, ignorePaths });
  } catch (err) {
    throw new EmitError('OUTPUTS', `training outputs ${outputsDir}: ${(err as Error).message}`, { cause: err });
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const outcomes = await hashJobs(files.map((f) => ({ kind: 'file' as const, path: f.path, algorithm: 'sha256' as const })));
  const resources: OmsResource[] = files.map((f, i) => ({ name: f.name, algorithm: 'sha256', digest: outcomes[i]!.hex }));
  return [
    ...resources.map((r) => ({ name: r.name === '.' ? basename(root) : r.name, digest: `sha256:${r.digest}` as Digest })),
    { name: `${basename(root)}/`, digest: `sha256:${rootDigestOf(resources)}` as Digest },
  ];
}

/** `python3 --version` → `3.12.3`; undefined when absent, failing or slow (15 s: a loaded machine starts python slowly). */
function pythonVersion(): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    execFile('python3', ['--version'], { timeout: 15_000 }, (err, stdout, stderr) => {
      resolvePromise(err === null ? /Python\s+(\S+)/.exec(`${stdout}${stderr}`)?.[1] : undefined);
    });
  });
}

export async function hostFacts(nvidiaSmi?: string): Promise<HostFacts> {
  const cpuList = cpus();
  const [gpus, python] = await Promise.all([queryGpus(nvidiaSmi), pythonVersion()]);
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    arch: process.arch,
    platform: process.platform,
    osRelease: release(),
    memoryBytes: totalmem(),
    gpus,
    runtimes: { node: process.versions.node, ...(python === undefined ? {} : { python }), modelgate: VERSION },
  };
}

export async function runTrainingWithProvenance(options: TrainingRunOptions): Promise<TrainingRunResult> {
  if (options.command.length === 0) throw new EmitError('COMMAND', 'no training command given (put it after --)');
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const startedOn = new Date();
  const exitCode = await runCommand(options.command, cwd, env);
  const finishedOn = new Date();
  if (exitCode !== 0) return { status: 'failed', exitCode };

  const bundlePath = options.bundlePath ?? defaultBundlePath(options.outputsDir);
  const subjects = await outputSubjects(options.outputsDir, bundlePath);
  const sourceDir = options.sourceDir ?? cwd;
  const predicate = trainingProvenancePredicate({
    command: options.command,
    workingDirectory: resolve(cwd),
    hyperparameters: options.hyperparameters,
    seeds: options.seeds ?? [],
    environment: env,
    host: await hostFacts(options.nvidiaSmi),
    source: readGitCheckout(sourceDir),
    container: options.container,
    lockfiles: findLockfiles(sourceDir),
    datasets: options.datasets ?? [],
    builderId: options.builderId,
    invocationId: options.invocationId ?? randomUUID(),
    startedOn,
    finishedOn,
    exitCode,
  });
  const bundle = await signStatementWith(options.signer, subjects, SLSA_PROVENANCE_V1, predicate);
  try {
    await writeFileAtomic(bundlePath, `${JSON.stringify(bundle)}\n`, { overwrite: true });
  } catch (err) {
    throw new EmitError('EMIT_IO', `cannot write ${bundlePath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return { status: 'attested', exitCode: 0, bundlePath, bundle, subjects };
}
