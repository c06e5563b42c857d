/**
 * Run the modelgate CLI as a subprocess on the TypeScript sources (Node 24 strips the types).
 */
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '../..');
export const SHARED = join(REPO, '../shared');
export const VECTORS = join(SHARED, 'vectors');
const NODE = join(REPO, 'node_modules/.bin/node');
const MAIN = join(REPO, 'src/cli/main.ts');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

// Start-up of the whole CLI dominates each run; run as many as there are cores at once.
const LIMIT = Math.max(2, availableParallelism());
let running = 0;
const waiting: Array<() => void> = [];

async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= LIMIT) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await work();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

/** Run `modelgate ARGS…`; at most one run per core at a time, so callers may start many at once. */
export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return slot(() => spawnCli(args, options));
}

/**
 * A caller's own environment (no credentials of the machine) still gets `npm test`'s compile cache:
 * without it each run compiles the CLI's first modules again (≈ 0.15 CPU-s a run), nothing else changes.
 */
const withCompileCache = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  process.env.NODE_COMPILE_CACHE === undefined || 'NODE_COMPILE_CACHE' in env ? env : { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE, ...env };

function spawnCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(NODE, [MAIN, ...args], { cwd: options.cwd ?? REPO, ...(options.env === undefined ? {} : { env: withCompileCache(options.env) }), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}
