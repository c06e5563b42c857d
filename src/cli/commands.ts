/**
 * The list of subcommands, loaded lazily: a command module (and the verification, registry or policy
 * code behind it) is imported only when that command runs, so every CLI start — the init container,
 * scripts calling `verify-bundle` in a loop — pays only for what it uses. `--help` and unknown commands
 * load them all so commander can list and suggest them.
 * Keep the list sorted by job (OCI inspection, verification, policy, emitter, serving).
 */
import type { Command } from 'commander';

interface CommandModule {
  register(program: Command): void;
}

const COMMANDS: ReadonlyArray<{ readonly name: string; readonly load: () => Promise<CommandModule> }> = [
  { name: 'resolve', load: () => import('./resolve.ts') },
  { name: 'inspect', load: () => import('./inspect.ts') },
  { name: 'verify-bundle', load: () => import('./verify-bundle.ts') },
  { name: 'verify-signatures', load: () => import('./verify-signatures.ts') },
  { name: 'verify-image', load: () => import('./verify-image.ts') },
  { name: 'verify-model', load: () => import('./verify-model.ts') },
  { name: 'verify-artifact', load: () => import('./verify-artifact.ts') },
  { name: 'verify-npm-package', load: () => import('./verify-npm-package.ts') },
  { name: 'verify', load: () => import('./verify.ts') },
  { name: 'explain', load: () => import('./explain.ts') },
  { name: 'policy', load: () => import('./policy.ts') },
  { name: 'keygen', load: () => import('./keygen.ts') },
  { name: 'key', load: () => import('./key.ts') },
  { name: 'dataset', load: () => import('./dataset.ts') },
  { name: 'webhook', load: () => import('./webhook.ts') },
  { name: 'init', load: () => import('./init.ts') },
  { name: 'push', load: () => import('./push.ts') },
  { name: 'sign', load: () => import('./sign.ts') },
  { name: 'attest', load: () => import('./attest.ts') },
  { name: 'sign-model', load: () => import('./sign-model.ts') },
];

/** Register the command named by the first non-option argument, or every command when none matches. */
export async function registerCommands(program: Command, argv: readonly string[]): Promise<void> {
  const requested = argv.find((arg) => !arg.startsWith('-'));
  const matching = COMMANDS.filter((command) => command.name === requested);
  for (const command of matching.length > 0 ? matching : COMMANDS) {
    (await command.load()).register(program);
  }
}
