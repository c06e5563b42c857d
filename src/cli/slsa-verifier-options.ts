/**
 * What the slsa-verifier-style commands (`verify-artifact`, `verify-npm-package`) share: the source
 * checks' options (`--source-uri`, `--source-branch`, `--source-tag`, `--source-versioned-tag`), their
 * usage rules, reading their evidence files within the size limit, and the verdict lines (`slsaVerdict`: which errors are a verdict, exit 1, rather than
 * a usage or trust problem, exit 2).
 */
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { MAX_BUNDLE_BYTES } from '../sigstore/bundle.ts';
import { VerificationError } from '../sigstore/errors.ts';
import { ModelgateError, UsageError } from '../errors.ts';

export interface SourceCliOptions {
  sourceUri?: string;
  sourceBranch?: string;
  sourceTag?: string;
  sourceVersionedTag?: string;
}

/** Declare the source options; `what` names the thing built ("artifact", "package"). */
export function addSourceOptions(command: Command, what: string): Command {
  return command
    .option('--source-uri <URI>', 'expected source repository, e.g. github.com/org/repo (exact match)')
    .option('--source-branch <BRANCH>', `expected branch the ${what} was built from`)
    .option('--source-tag <TAG>', `expected tag the ${what} was built from`)
    .option('--source-versioned-tag <SEMVER>', 'expected semantic version tag: vX, vX.Y or vX.Y.Z');
}

/** `--source-uri` is required; `--source-tag` and `--source-versioned-tag` exclude each other. */
export function checkSourceOptions(commandName: string, options: SourceCliOptions): string {
  if (options.sourceUri === undefined || options.sourceUri === '') throw new UsageError('USAGE', `${commandName} needs --source-uri (e.g. github.com/org/repo)`);
  if (options.sourceTag !== undefined && options.sourceVersionedTag !== undefined) {
    throw new UsageError('USAGE', '--source-tag and --source-versioned-tag are mutually exclusive');
  }
  return options.sourceUri;
}

/** A failed check of the evidence (exit 1), not a usage error or unobtainable trust material (exit 2). */
function isVerdictError(err: unknown): err is ModelgateError {
  return err instanceof ModelgateError && !(err instanceof UsageError) && err.code !== 'TRUST_UNAVAILABLE';
}

/**
 * Run the checks and print slsa-verifier's verdict on stderr: `PASSED: SLSA verification passed`
 * (exit 0) or `FAILED: SLSA verification failed: CODE: message` (exit 1); anything else propagates
 * (usage, trust: exit 2).
 */
export async function slsaVerdict(verify: () => Promise<void>): Promise<void> {
  try {
    await verify();
  } catch (err) {
    if (!isVerdictError(err)) throw err;
    process.stderr.write(`FAILED: SLSA verification failed: ${err.code}: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stderr.write('PASSED: SLSA verification passed\n');
  process.exitCode = 0;
}

/** A provenance or attestations file, read whole up to the bundle size limit (a missing file is a usage error). */
export function readEvidenceFile(path: string, what: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new UsageError('USAGE', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  if (size > MAX_BUNDLE_BYTES) throw new VerificationError('BUNDLE_FORMAT', `${what} ${path} is ${size} bytes, more than the ${MAX_BUNDLE_BYTES}-byte limit`);
  return readFileSync(path, 'utf8');
}
