/**
 * Where the package keeps its Rego sources and the bundle `npm run build:policies` compiles from them
 * (in the image: /app/policies and /app/build/policy). A leaf module: the settings table names the
 * default bundle in `--help` without loading the bundle code.
 */
import { join } from 'node:path';

const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');
export const DEFAULT_POLICY_DIR = join(PACKAGE_ROOT, 'policies');
export const DEFAULT_BUNDLE_DIR = join(PACKAGE_ROOT, 'build', 'policy');
