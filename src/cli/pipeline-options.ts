/**
 * The pipeline settings on the commands that run the verification pipeline (`verify`, `explain`,
 * `webhook`, `init`): declared from the one settings table and loaded by the one loader
 * (`src/config/`). No command assembles its own copy.
 *
 * Owns: `addPipelineOptions` and `loadPipelineFromOptions` (flags → settings → pipeline). Heavy
 * modules are imported when a command runs, not when it registers.
 */
import type { Command } from 'commander';
import type { LoadedPipeline } from '../config/load.ts';
import type { PipelineSettings, SettingFlags } from '../config/read.ts';
import type { StoreProvider } from '../pipeline/decide.ts';
import { declareSettings, PIPELINE_GROUPS, type SettingGroup } from '../config/settings.ts';

/** Add the pipeline settings (policy, signers, trust, registry, timeout; `extra` groups such as `cache`) to a command. */
export function addPipelineOptions(command: Command, extra: readonly SettingGroup[] = []): Command {
  return declareSettings(command, [...PIPELINE_GROUPS, ...extra]);
}

/** The settings the options and the environment describe. */
export async function pipelineSettingsOf(options: SettingFlags, env: NodeJS.ProcessEnv = process.env): Promise<PipelineSettings> {
  return (await import('../config/read.ts')).readPipelineSettings(options, env);
}

/** The settings, then the pipeline loaded from them (or from `settings` already read, and registry stores already built). */
export async function loadPipelineFromOptions(
  options: SettingFlags,
  env: NodeJS.ProcessEnv = process.env,
  read?: PipelineSettings,
  prepared: { readonly stores?: StoreProvider } = {},
): Promise<LoadedPipeline & { readonly settings: PipelineSettings }> {
  const settings = read ?? (await pipelineSettingsOf(options, env));
  const loaded = await (await import('../config/load.ts')).loadPipeline(settings, prepared);
  return { ...loaded, settings };
}
