/**
 * `npm test`'s first step (`pretest`): the system tools the tests run, checked before anything is built.
 *
 * Owns: the list of Debian packages the test suite needs (`SYSTEM_TOOLS`, one entry per executable the
 * tests start), finding which are missing, and installing them — as root with `apt-get update` +
 * `apt-get install -y`; as any other user it stops at once with the exact command to run. Everything
 * else the tests need comes from npm (`npm ci`). Set `MODELGATE_TEST_PREREQUISITES=check` to never
 * install (exit 1 with the command instead).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { pathToFileURL } from 'node:url';

export interface SystemTool {
  /** The executable the tests start, by absolute path. */
  readonly path: string;
  /** The Debian package that installs it. */
  readonly debianPackage: string;
  /** What the tests use it for. */
  readonly why: string;
}

export const SYSTEM_TOOLS: readonly SystemTool[] = [
  { path: '/usr/bin/docker-registry', debianPackage: 'docker-registry', why: 'the real OCI registry (distribution 2.8) the tests start on 127.0.0.1' },
  { path: '/usr/bin/chromium', debianPackage: 'chromium', why: 'headless rendering of `modelgate explain --html` (screenshot, DOM dump)' },
  { path: '/usr/bin/bwrap', debianPackage: 'bubblewrap', why: 'sandboxed training commands; rendered webhook and storage-initializer containers run as kubelet would (cluster in a box)' },
  { path: '/usr/bin/setpriv', debianPackage: 'util-linux', why: 'the container uid/gid inside the cluster-in-a-box sandbox; the test registry dies with its test process' },
  { path: '/usr/bin/mount', debianPackage: 'mount', why: 'small tmpfs file systems filled up by the init fault tests' },
  { path: '/usr/bin/umount', debianPackage: 'mount', why: 'unmounting those tmpfs file systems' },
  { path: '/usr/bin/openssl', debianPackage: 'openssl', why: 'certificates and keys made the way operators make them' },
  { path: '/usr/bin/git', debianPackage: 'git', why: 'source checkouts recorded in provenance' },
  { path: '/usr/bin/python3', debianPackage: 'python3', why: 'runtimes recorded by `attest run`' },
  { path: '/usr/bin/bash', debianPackage: 'bash', why: 'examples/training-job/run.sh' },
  { path: '/usr/bin/script', debianPackage: 'bsdutils', why: 'a pseudo-terminal for the passphrase prompt tests' },
  { path: '/usr/bin/mkfifo', debianPackage: 'coreutils', why: 'a FIFO among dataset files (refused, not read)' },
];

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The tools of `tools` that are not installed. */
export function missingTools(tools: readonly SystemTool[] = SYSTEM_TOOLS): SystemTool[] {
  return tools.filter((tool) => !executable(tool.path));
}

/** The command that installs `tools` (with `sudo` for a user other than root). */
export function installCommand(tools: readonly SystemTool[], root: boolean): string {
  const sudo = root ? '' : 'sudo ';
  const packages = [...new Set(tools.map((tool) => tool.debianPackage))].join(' ');
  return `${sudo}apt-get update && ${sudo}DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages}`;
}

function describe(tools: readonly SystemTool[]): string {
  return tools.map((tool) => `  ${tool.path} (Debian package ${tool.debianPackage}): ${tool.why}`).join('\n');
}

/** Check, and install as root; returns the exit code. */
export function ensurePrerequisites(tools: readonly SystemTool[] = SYSTEM_TOOLS, env: NodeJS.ProcessEnv = process.env): number {
  const missing = missingTools(tools);
  if (missing.length === 0) return 0;
  const root = process.getuid?.() === 0;
  const command = installCommand(missing, root);
  if (!root || env['MODELGATE_TEST_PREREQUISITES'] === 'check' || !executable('/usr/bin/apt-get')) {
    process.stderr.write(`test prerequisites: missing system tools:\n${describe(missing)}\nInstall them with:\n  ${command}\n`);
    return 1;
  }
  process.stderr.write(`test prerequisites: installing ${missing.map((tool) => tool.debianPackage).join(' ')} (apt-get, as root)\n`);
  const apt = (args: string[]): number =>
    spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } }).status ?? 1;
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  if (apt(['update', '-qq']) !== 0 || apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]) !== 0) {
    process.stderr.write(`test prerequisites: apt-get failed; run:\n  ${command}\n`);
    return 1;
  }
  const still = missingTools(missing);
  if (still.length > 0) {
    process.stderr.write(`test prerequisites: still missing after apt-get:\n${describe(still)}\n`);
    return 1;
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = ensurePrerequisites();
}
