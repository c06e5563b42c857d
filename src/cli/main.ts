#!/usr/bin/env node
/**
 * The `modelgate` command line: builds the commander program and maps failures to exit codes.
 *
 * Owns: program wiring only. Each subcommand lives in its own module under `src/cli/` and exports a
 * `register(program)` function; this file adds them in one place so `--help` lists everything.
 * Exit codes: commands set `process.exitCode` for their own verdicts (e.g. 1 = verification failed);
 * an uncaught ModelgateError exits 2 with `modelgate: CODE: message` on stderr; a usage error (unknown
 * option, missing argument) exits 2 with one line, `error: … (see --help)`, never the whole help.
 */
import { realpathSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ModelgateError } from '../errors.ts';
import { VERSION } from '../version.ts';

// commander and the command table are imported when first needed, after the compile cache is enabled
// (below), and not at all for a bare `--version`.
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const [{ Command }, { registerCommands }] = await Promise.all([import('commander'), import('./commands.ts')]);
  const program = new Command('modelgate')
    .description('Supply-chain security for ML models on Kubernetes: verify, gate and publish signed models.')
    .version(VERSION, '-V, --version')
    // A usage error is one line on stderr, not the error followed by the whole help (subcommands inherit this).
    .configureOutput({ outputError: (message, write) => write(oneLineUsageError(message)) })
    .exitOverride();
  await registerCommands(program, argv);
  return program;
}

/** `error: unknown option '-o'` → `error: unknown option '-o' (see --help)`; commander's suggestion lines are joined. */
export function oneLineUsageError(message: string): string {
  return `${message.trim().split(/\s*\n\s*/).join(' ')} (see --help)\n`;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`); // what commander prints, without loading it
    return 0;
  }
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const { CommanderError } = await import('commander');
    if (err instanceof CommanderError) {
      // --help and --version arrive here with exitCode 0; usage errors already printed by commander.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ModelgateError) {
      process.stderr.write(`modelgate: ${err.code}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`modelgate: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 2;
  }
}

function isEntryPoint(): boolean {
  const invoked = process.argv[1];
  if (invoked === undefined) return false;
  try {
    return realpathSync(invoked) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

// Run when executed as a program (directly or through the npm bin symlink), not when imported by tests.
if (isEntryPoint()) {
  // Node's on-disk compile cache (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache): commander and the
  // commands load their modules lazily, after this line, so a second run skips compiling them (≈ 0.5 s of
  // CPU per run of a one-shot CLI such as `init`). A read-only or missing tmpdir (a pod with a read-only
  // root and no /tmp volume) only disables it: enableCompileCache reports that in its result, never throws.
  enableCompileCache();
  process.exitCode = await main(process.argv.slice(2));
}
