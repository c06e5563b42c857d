/**
 * Preloaded into every test process (package.json, tap `node-arg`): the processes a test starts (the
 * CLI, the demo, the webhook, the example scripts and whatever they start) run as a user runs them,
 * without tap's per-process tracking.
 *
 * Owns: only that. tap puts @tapjs/processinfo into each child through NODE_OPTIONS (a spawn hook
 * adds it even when a test passes its own `env`). The tracking exists for coverage, which this project
 * disables; in a child it costs 0.1 CPU-s (`--help`) to 0.5 CPU-s (`verify`) per Node process, for
 * module-load hooks, and a suite that starts hundreds of processes pays it hundreds of times. With
 * coverage enabled this file changes nothing. The test process itself keeps its tracking.
 */
import { createRequire } from 'node:module';

const TRACKER = /(?:^|\s)"?--(?:import|loader|experimental-loader)=[^\s"]*@tapjs\/processinfo[^\s"]*"?/g;

interface SpawnOptions {
  env: Record<string, string | undefined>;
}

if (process.env.TAP_DISABLE_COVERAGE === '1') {
  // The same process-wide hook registry @tapjs/processinfo registers its own listener in (a singleton):
  // this listener runs after it and takes the tracker back out of the child's NODE_OPTIONS.
  const fromProcessinfo = createRequire(createRequire(import.meta.url).resolve('@tapjs/processinfo'));
  const onSpawn = fromProcessinfo('process-on-spawn') as { addListener(listener: (options: SpawnOptions) => void): void };
  onSpawn.addListener((options) => {
    const nodeOptions = options.env.NODE_OPTIONS;
    const untraced = nodeOptions?.replace(TRACKER, '').trim();
    if (untraced === undefined || untraced === nodeOptions) return;
    const env: Record<string, string | undefined> = { ...options.env, NODE_OPTIONS: untraced };
    if (env.NODE_OPTIONS === '') delete env.NODE_OPTIONS;
    for (const key of Object.keys(env)) if (key.startsWith('_TAPJS_PROCESSINFO_')) delete env[key];
    options.env = env;
  });
}
