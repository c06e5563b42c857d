/**
 * `npm run demo` entry point: runs the walk-through in `run.ts` with its output under `./demo-out/`
 * (or the directory given as the first argument). Exit code 1 when any step's expectation fails.
 */
import { runDemo } from './run.ts';

const outDir = process.argv[2] ?? 'demo-out';
try {
  await runDemo(outDir);
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
