/** The running modelgate version, read once from the package manifest that ships beside `dist/`. */
import { readFileSync } from 'node:fs';

const manifestUrl = new URL('../package.json', import.meta.url);
export const VERSION: string = (JSON.parse(readFileSync(manifestUrl, 'utf8')) as { version: string }).version;
