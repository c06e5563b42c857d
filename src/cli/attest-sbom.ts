/**
 * `modelgate attest sbom REF@sha256:… [--source DIR] [--container IMAGE@sha256:…] [--nvidia-smi BIN]
 * (--key FILE | --keyless) [--mode …] [--sbom-out FILE]`: generate the CycloneDX SBOM of the training
 * environment (`src/emit/sbom.ts`) about the pushed model, sign it as an in-toto attestation
 * (`https://cyclonedx.org/bom`) and attach it like `attest attach` (bundle referrer by default).
 *
 * Owns: the command's options and what it reads from the host: the lockfiles of `--source`
 * (`src/emit/environment-packages.ts`), the container (`--container` or
 * `$MODELGATE_TRAINING_CONTAINER`, as `attest run`), GPUs, driver and CUDA from `nvidia-smi`, and the
 * runtimes `attest run` records (`hostFacts`).
 */
import type { Command } from 'commander';
import { outputOption, type OutputFormat } from './output-format.ts';
import { UsageError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { parseReference } from '../oci/reference.ts';
import { signAndAttach } from './attest-attach.ts';
import { addEvidenceOptions, type EvidenceCliOptions } from './evidence-mode.ts';

interface SbomOptions extends EvidenceCliOptions {
  readonly source?: string;
  readonly container?: string;
  readonly nvidiaSmi?: string;
  readonly sbomOut?: string;
}

export function registerSbom(attest: Command): void {
  const sbom = attest
    .command('sbom')
    .description('Sign a CycloneDX 1.6 SBOM of the training environment (lockfile packages, container, NVIDIA driver/CUDA/GPUs, runtimes) about the model and attach it (predicateType https://cyclonedx.org/bom)')
    .argument('<reference>', 'the pushed model, pinned by digest: oci://host/repo@sha256:… or oci-layout://dir@sha256:…')
    .option('--source <dir>', 'source tree whose lockfiles are read (default: the working directory)')
    .option('--container <ref>', 'training image pinned by digest (default: $MODELGATE_TRAINING_CONTAINER)')
    .option('--nvidia-smi <path>', 'nvidia-smi to query (default: nvidia-smi on the PATH; none found means no GPU entries)', 'nvidia-smi')
    .option('--sbom-out <file>', 'also write the SBOM JSON to this file')
    .addOption(outputOption('output format: text (one digest a line) or json ({referrer, legacyTag})'));
  addEvidenceOptions(sbom).action(async (reference: string, options: SbomOptions & { readonly output: OutputFormat }) => {
    const container = options.container ?? process.env.MODELGATE_TRAINING_CONTAINER;
    if (container !== undefined && parseReference(container).digest === undefined) throw new UsageError('USAGE', `training container ${container} must be pinned by digest`);
    const [{ readEnvironmentPackages }, { hostFacts }, { queryCudaVersion }, { trainingEnvironmentSbom, CYCLONEDX_BOM_PREDICATE }] = await Promise.all([
      import('../emit/environment-packages.ts'),
      import('../emit/training-run.ts'),
      import('../emit/gpu-info.ts'),
      import('../emit/sbom.ts'),
    ]);
    const environment = readEnvironmentPackages(options.source ?? process.cwd());
    const [host, cudaVersion] = await Promise.all([hostFacts(options.nvidiaSmi), queryCudaVersion(options.nvidiaSmi)]);
    await signAndAttach(reference, options, CYCLONEDX_BOM_PREDICATE, async (subject) => {
      const bom = await trainingEnvironmentSbom({
        model: { name: subject.repository, digest: subject.digest },
        packages: environment.packages,
        ...(container === undefined ? {} : { container: container.replace(/^oci:\/\//, '') }),
        gpus: host.gpus,
        ...(cudaVersion === undefined ? {} : { cudaVersion }),
        runtimes: host.runtimes,
      });
      if (options.sbomOut !== undefined) await writeFileAtomic(options.sbomOut, `${JSON.stringify(bom, null, 2)}\n`, { overwrite: true });
      const lockfiles = environment.lockfiles.map((l) => l.name).join(', ') || 'none';
      const skipped = environment.skipped.length > 0 ? `; not parsed: ${environment.skipped.join(', ')}` : '';
      process.stderr.write(`SBOM: ${environment.packages.length} packages from ${lockfiles}${skipped}; ${host.gpus.length} GPUs${cudaVersion === undefined ? '' : `, CUDA ${cudaVersion}`}\n`);
      return bom;
    });
  });
}
