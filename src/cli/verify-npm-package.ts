/**
 * `modelgate verify-npm-package TARBALL --attestations-path FILE --source-uri URI --builder-id ID …`:
 * slsa-verifier `verify-npm-package` semantics (verification: `src/attest/npm-package.ts`).
 *
 * Owns: option parsing, hashing the tarball (sha512, as npm records it), where npm's registry keys
 * come from (`--npm-registry-keys FILE`, else the `registry.npmjs.org/keys.json` target of the same
 * TUF repository the trusted root comes from) and the verdict lines: exit 0 with
 * `PASSED: SLSA verification passed` on stderr, exit 1 with `FAILED: SLSA verification failed:
 * <code>: <message>`, exit 2 for usage errors and unobtainable trust material. `--print-provenance`
 * writes the verified provenance statement to stdout.
 */
import type { Command } from 'commander';
import { NPM_REGISTRY_KEYS_TARGET, parseNpmAttestations, parseNpmRegistryKeys, verifyNpmPackage, type NpmRegistryKey } from '../attest/npm-package.ts';
import { UsageError } from '../errors.ts';
import { hashJobs } from '../hashing/pool.ts';
import type { Digest } from '../oci/digest.ts';
import { addEvidenceTrustOptions, trustForEvidence, type EvidenceTrustCliOptions } from './evidence-trust.ts';
import { addSourceOptions, checkSourceOptions, readEvidenceFile, slsaVerdict, type SourceCliOptions } from './slsa-verifier-options.ts';
import { addTrustOptions } from './trust-options.ts';

interface VerifyNpmPackageOptions extends EvidenceTrustCliOptions, SourceCliOptions {
  attestationsPath?: string;
  npmRegistryKeys?: string;
  builderId?: string;
  packageName?: string;
  packageVersion?: string;
  printProvenance?: boolean;
}

/** The registry keys: a file, or the TUF target beside the trusted root (a root given as a file has no TUF repository). */
async function registryKeys(options: VerifyNpmPackageOptions): Promise<NpmRegistryKey[]> {
  if (options.npmRegistryKeys !== undefined) return parseNpmRegistryKeys(readEvidenceFile(options.npmRegistryKeys, 'npm registry keys'), options.npmRegistryKeys);
  const [{ readTrustSettings }, { fetchTufTarget }] = await Promise.all([import('../config/read.ts'), import('../sigstore/trust.ts')]);
  const source = readTrustSettings(options, process.env, true);
  if (source.kind !== 'tuf') {
    throw new UsageError('USAGE', `the npm registry keys come from a TUF repository; with a trusted root given as ${source.kind === 'none' ? 'nothing' : 'a file or inline'}, name them with --npm-registry-keys FILE`);
  }
  const text = await fetchTufTarget(NPM_REGISTRY_KEYS_TARGET, {
    mirrorURL: source.mirrorURL,
    cachePath: source.cachePath,
    timeoutMs: source.timeoutMs,
    ...(source.rootPath !== undefined ? { rootPath: source.rootPath } : {}),
    ...(options.offline === true ? { forceCache: true } : {}),
  });
  return parseNpmRegistryKeys(text, `tuf:${source.mirrorURL}/${NPM_REGISTRY_KEYS_TARGET}`);
}

export function register(program: Command): void {
  addEvidenceTrustOptions(addTrustOptions(addSourceOptions(
    program
      .command('verify-npm-package')
      .description('verify an npm package tarball against its registry attestations (slsa-verifier verify-npm-package semantics)')
      .argument('<TARBALL>', 'the package tarball (npm pack / the registry .tgz)')
      .option('--attestations-path <FILE>', 'the attestations the registry serves for the package (GET /-/npm/v1/attestations/NAME@VERSION)')
      .option('--builder-id <ID>', `the trusted builder: ${'https://github.com/actions/runner/github-hosted'} (npm CLI) or the Node.js builder workflow`)
      .option('--package-name <NAME>', 'expected package name (e.g. @scope/name)')
      .option('--package-version <VERSION>', 'expected package version')
      .option('--npm-registry-keys <FILE>', `npm registry keys (the ${NPM_REGISTRY_KEYS_TARGET} format); default: that target of the TUF repository`)
      .option('--print-provenance', 'print the verified provenance statement on stdout'),
    'package',
  ))).action(async (tarball: string, options: VerifyNpmPackageOptions) => {
    if (options.attestationsPath === undefined) throw new UsageError('USAGE', 'verify-npm-package needs --attestations-path FILE');
    if (options.builderId === undefined || options.builderId === '') throw new UsageError('USAGE', 'verify-npm-package needs --builder-id (npm packages have no default builder)');
    const sourceUri = checkSourceOptions('verify-npm-package', options);
    const attestationsText = readEvidenceFile(options.attestationsPath, 'attestations');
    // The provenance is keyless (GitHub Actions) and the publish attestation is logged: a root is always needed.
    const [trust, keys, digests] = await Promise.all([
      trustForEvidence(options, { identities: ['https://token.actions.githubusercontent.com'], keyTlogThreshold: 1 }),
      registryKeys(options),
      hashJobs([{ kind: 'file', path: tarball, algorithm: 'sha512' }]),
    ]);
    const digest = `sha512:${digests[0]?.hex ?? ''}` as Digest;
    await slsaVerdict(async () => {
      const verified = await verifyNpmPackage(parseNpmAttestations(attestationsText), digest, trust, keys, {
        sourceUri,
        builderId: options.builderId,
        packageName: options.packageName,
        packageVersion: options.packageVersion,
        sourceBranch: options.sourceBranch,
        sourceTag: options.sourceTag,
        sourceVersionedTag: options.sourceVersionedTag,
      }, { ignoreTlog: options.insecureIgnoreTlog === true });
      const commit = verified.provenance.provenance.source?.commit;
      process.stderr.write(`Verified build using builder "${verified.provenance.builderId}"${commit === undefined ? '' : ` at commit ${commit}`}\n`);
      process.stderr.write(`Verified publish attestation of ${verified.packageName}@${verified.packageVersion} signed by npm registry key ${verified.publish.keyId}\n`);
      process.stderr.write(`Verifying npm package ${tarball}: PASSED\n\n`);
      if (options.printProvenance === true && verified.provenance.bundle.content.kind === 'dsse') {
        process.stdout.write(`${verified.provenance.bundle.content.payload.toString('utf8')}\n`);
      }
    });
  });
}
