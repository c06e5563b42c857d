/**
 * A module hook for `node --import`: records the URL of every module the process resolves (ESM
 * imports and CommonJS requires alike) and writes them, one per line, to the file named by
 * MODELGATE_TEST_MODULE_LOG when the process exits. Lets tests check what a command loads.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const log = process.env.MODELGATE_TEST_MODULE_LOG;
if (log !== undefined) {
  const urls = new Set<string>();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      urls.add(resolved.url);
      return resolved;
    },
  });
  process.on('exit', () => writeFileSync(log, [...urls].join('\n')));
}
