/**
 * `npm run demo [-- [OUT_DIR] [--registry [http[s]://]host[:port][/prefix]]]` entry point (npm runs it on the pinned Node 24).
 * Runs the walk-through in `run.ts` with its output under `./demo-out/` (or OUT_DIR), on an OCI image
 * layout there, or against the given registry. Exit code 0 when every step's expectation held, 1
 * when one failed (or anything else went wrong), 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { ModelgateError } from '../errors.ts';
import { runDemo } from './run.ts';

let args;
try {
  args = parseArgs({ options: { registry: { type: 'string' } }, allowPositionals: true, strict: true });
  if (args.positionals.length > 1) throw new Error('expected at most one output directory');
} catch (err) {
  process.stderr.write(`usage: npm run demo -- [OUT_DIR] [--registry [http[s]://]host[:port][/prefix]]: ${(err as Error).message}\n`);
  process.exit(2);
}
try {
  await runDemo({ ...(args.positionals[0] !== undefined ? { outDir: args.positionals[0] } : {}), ...(args.values.registry !== undefined ? { registry: args.values.registry } : {}) });
} catch (err) {
  const message = err instanceof ModelgateError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`demo failed: ${message}\n`);
  process.exitCode = 1;
}
