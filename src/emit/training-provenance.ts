/**
 * The SLSA Provenance v1 predicate `modelgate attest run` emits for one training run (documented in
 * `docs/training-provenance.md`).
 *
 * Owns: the build type URI, the shape of `externalParameters` (command, hyperparameters, seeds),
 * `internalParameters` (determinism environment, hardware, runtime), `resolvedDependencies` (source
 * commit, training container, lockfiles, datasets — each tagged with the `modelgate.dev/kind`
 * annotation the policy reads) and `runDetails`, plus the determinism variables recorded.
 * Pure: every fact is gathered elsewhere and passed in.
 */
import type { GpuInfo } from './gpu-info.ts';
import type { GitCheckout, Lockfile } from './source-tree.ts';

export const TRAINING_BUILD_TYPE = 'https://modelgate.dev/buildtypes/training-run/v1';
export const DEPENDENCY_KIND_ANNOTATION = 'modelgate.dev/kind';

/** Environment variables that change numerical results or their reproducibility. */
export const DETERMINISM_VARIABLES: readonly string[] = [
  'PYTHONHASHSEED',
  'CUBLAS_WORKSPACE_CONFIG',
  'CUDA_LAUNCH_BLOCKING',
  'CUDA_VISIBLE_DEVICES',
  'CUDNN_DETERMINISTIC',
  'TF_DETERMINISTIC_OPS',
  'TF_CUDNN_DETERMINISTIC',
  'TORCH_DETERMINISTIC',
  'TORCH_USE_CUDA_DSA',
  'NCCL_ALGO',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'XLA_FLAGS',
  'JAX_ENABLE_X64',
];

export interface DatasetInput {
  /** Where the dataset lives (`oci://host/repo`, `s3://…`, `file://…`), without the digest. */
  readonly uri: string;
  /** `sha256:<hex>` of the dataset (its OCI manifest, or its modelgate dataset manifest file). */
  readonly digest: string;
  /** Merkle root recorded in a modelgate dataset manifest, when known. */
  readonly merkleRoot?: string;
}

export interface HostFacts {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly arch: string;
  readonly platform: string;
  readonly osRelease: string;
  readonly memoryBytes: number;
  readonly gpus: readonly GpuInfo[];
  /** Runtime name → version (e.g. `node` → `24.1.0`). */
  readonly runtimes: Readonly<Record<string, string>>;
}

export interface TrainingRunFacts {
  readonly command: readonly string[];
  readonly workingDirectory: string;
  readonly hyperparameters: unknown;
  readonly seeds: readonly string[];
  readonly environment: Readonly<Record<string, string | undefined>>;
  readonly host: HostFacts;
  readonly source: GitCheckout | undefined;
  /** Pinned training image (`host/repo@sha256:…`), if any. */
  readonly container: string | undefined;
  readonly lockfiles: readonly Lockfile[];
  readonly datasets: readonly DatasetInput[];
  readonly builderId: string;
  readonly invocationId: string;
  readonly startedOn: Date;
  readonly finishedOn: Date;
  readonly exitCode: number;
}

/** `sha256:<hex>` → the in-toto DigestSet `{ sha256: "<hex>" }`. */
export function digestMap(digest: string): Record<string, string> {
  const colon = digest.indexOf(':');
  return { [digest.slice(0, colon)]: digest.slice(colon + 1) };
}

/** `git+<url>` for the source: the origin URL when configured, else the local path. */
export function sourceUri(source: GitCheckout): string {
  const base = source.originUrl ?? `file://${source.root}`;
  const uri = base.startsWith('git+') ? base : `git+${base}`;
  return source.ref === undefined ? uri : `${uri}@${source.ref}`;
}

/** The ResourceDescriptor of a source checkout: `git+<url>@<ref>`, its commit, kind `source`. */
export function sourceDescriptor(source: GitCheckout): Record<string, unknown> {
  return { uri: sourceUri(source), digest: { gitCommit: source.commit }, annotations: { [DEPENDENCY_KIND_ANNOTATION]: 'source' } };
}

/** The ResourceDescriptor of a dataset: its URI and digest, kind `dataset`, and its Merkle root when known. */
export function datasetDescriptor(dataset: DatasetInput): Record<string, unknown> {
  return {
    uri: dataset.uri,
    digest: digestMap(dataset.digest),
    annotations: { [DEPENDENCY_KIND_ANNOTATION]: 'dataset', ...(dataset.merkleRoot !== undefined ? { 'modelgate.dev/merkle-root': dataset.merkleRoot } : {}) },
  };
}

function containerDependency(container: string): Record<string, unknown> {
  const at = container.lastIndexOf('@');
  const name = container.slice(0, at).replace(/^oci:\/\//, '');
  return { uri: `oci://${name}`, digest: digestMap(container.slice(at + 1)), annotations: { [DEPENDENCY_KIND_ANNOTATION]: 'container' } };
}

const iso = (d: Date): string => d.toISOString();

export function trainingProvenancePredicate(facts: TrainingRunFacts): Record<string, unknown> {
  const determinism: Record<string, string> = {};
  for (const name of DETERMINISM_VARIABLES) {
    const value = facts.environment[name];
    if (value !== undefined) determinism[name] = value;
  }
  const dependencies: Record<string, unknown>[] = [];
  if (facts.source !== undefined) {
    dependencies.push(sourceDescriptor(facts.source));
  }
  if (facts.container !== undefined) dependencies.push(containerDependency(facts.container));
  for (const lockfile of facts.lockfiles) {
    dependencies.push({ name: lockfile.name, digest: { sha256: lockfile.sha256 }, annotations: { [DEPENDENCY_KIND_ANNOTATION]: 'other', 'modelgate.dev/role': 'lockfile' } });
  }
  for (const dataset of facts.datasets) dependencies.push(datasetDescriptor(dataset));
  return {
    buildDefinition: {
      buildType: TRAINING_BUILD_TYPE,
      externalParameters: {
        command: [...facts.command],
        workingDirectory: facts.workingDirectory,
        hyperparameters: facts.hyperparameters ?? null,
        seeds: [...facts.seeds],
      },
      internalParameters: {
        determinism,
        hardware: {
          cpu: { model: facts.host.cpuModel, count: facts.host.cpuCount, arch: facts.host.arch },
          memoryBytes: facts.host.memoryBytes,
          gpus: facts.host.gpus.map((g) => ({ ...g })),
        },
        runtime: { platform: facts.host.platform, osRelease: facts.host.osRelease, ...facts.host.runtimes },
        exitCode: facts.exitCode,
      },
      resolvedDependencies: dependencies,
    },
    runDetails: {
      builder: { id: facts.builderId },
      metadata: { invocationId: facts.invocationId, startedOn: iso(facts.startedOn), finishedOn: iso(facts.finishedOn) },
    },
  };
}
