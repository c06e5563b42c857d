/**
 * Test helper: run a rendered container the way kubelet would, without a cluster.
 *
 * Owns: `imageMounts` (the runtime image's file set, following the Dockerfile's runtime COPY lines:
 * /app/{dist,node_modules,build/policy,policies,package.json}, /app/bin/modelgate, /nodejs/bin/node),
 * and `startContainer` (volumes are laid out by `kubelet-volume.ts`) (bubblewrap: an empty, read-only root with only the image and the pod's volumes,
 * the host's /usr and /etc for libc and CA certificates, its own PID namespace, the container's env
 * and nothing else, then `setpriv` to the container's uid/gid; the host network, so loopback
 * registries are reachable).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO } from './run-cli.ts';

export interface Mount {
  readonly hostPath: string;
  readonly containerPath: string;
  readonly readOnly: boolean;
}

export interface EnvVar {
  readonly name: string;
  readonly value: string;
}

export interface ContainerRun {
  /** The container's command (or the image ENTRYPOINT) followed by its args. */
  readonly argv: readonly string[];
  readonly env: readonly EnvVar[];
  readonly mounts: readonly Mount[];
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (the pod's fsGroup). */
  readonly groups?: readonly number[];
  /** Host file bound at /dev/termination-log (kubelet gives every container one). */
  readonly terminationLog: string;
}

/** The runtime image's files, as the Dockerfile's runtime stage copies them (WORKDIR /app, ENV PATH). */
export function imageMounts(): Mount[] {
  const ro = (hostPath: string, containerPath: string): Mount => ({ hostPath, containerPath, readOnly: true });
  return [
    ro(join(REPO, 'package.json'), '/app/package.json'),
    ro(join(REPO, 'node_modules'), '/app/node_modules'),
    ro(join(REPO, 'dist'), '/app/dist'),
    ro(join(REPO, 'build/policy'), '/app/build/policy'),
    ro(join(REPO, 'policies'), '/app/policies'),
    ro(join(REPO, 'docker/modelgate'), '/app/bin/modelgate'),
    ro(join(REPO, 'node_modules/node/bin/node'), '/nodejs/bin/node'),
  ];
}

/** The image's own environment (Dockerfile ENV), before the container's env. */
export const IMAGE_ENV: readonly EnvVar[] = [
  { name: 'NODE_ENV', value: 'production' },
  { name: 'PATH', value: '/app/bin:/nodejs/bin:/usr/local/bin:/usr/bin:/bin' },
];

const ETC_FILES = ['passwd', 'group', 'hosts', 'resolv.conf', 'nsswitch.conf', 'ld.so.cache', 'ssl', 'ca-certificates', 'localtime'];

/** bubblewrap arguments for a container: empty read-only root, image + volumes, PID namespace, only `env`. */
export function sandboxArgs(run: ContainerRun): string[] {
  // --as-pid-1: the program is PID 1 of its namespace, as in a container without an init; --info-fd 3
  // reports its host PID so a test can send it SIGTERM as kubelet does.
  const args = ['--die-with-parent', '--new-session', '--unshare-pid', '--as-pid-1', '--unshare-ipc', '--unshare-uts', '--clearenv', '--info-fd', '3'];
  args.push('--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--dir', '/etc');
  // What a distroless image's /etc holds (users, name resolution, CA certificates); volumes mount below /etc too.
  for (const file of ETC_FILES) if (existsSync(join('/etc', file))) args.push('--ro-bind', join('/etc', file), join('/etc', file));
  args.push('--proc', '/proc', '--dev', '/dev');
  const mounts = [...imageMounts(), ...run.mounts];
  // Parent directories of mount points, 0755 (bwrap would make them 0700, unreadable to a non-root uid).
  const parents = new Set<string>();
  for (const { containerPath } of mounts) for (let dir = dirname(containerPath); dir !== '/'; dir = dirname(dir)) parents.add(dir);
  for (const dir of [...parents].sort()) if (dir !== '/etc') args.push('--perms', '0755', '--dir', dir);
  for (const mount of mounts) args.push(mount.readOnly ? '--ro-bind' : '--bind', mount.hostPath, mount.containerPath);
  args.push('--bind', run.terminationLog, '/dev/termination-log');
  for (const { name, value } of [...IMAGE_ENV, ...run.env]) args.push('--setenv', name, value);
  args.push('--chdir', '/app', '--remount-ro', '/');
  const groups = run.groups === undefined || run.groups.length === 0 ? ['--clear-groups'] : [`--groups=${run.groups.join(',')}`];
  return [...args, 'setpriv', `--reuid=${run.uid}`, `--regid=${run.gid}`, ...groups, '--', ...run.argv];
}

export interface RunningContainer {
  readonly process: ChildProcess;
  /** Send a signal to the container's program (its host PID, from bwrap's info fd). */
  signal(signal: NodeJS.Signals): Promise<void>;
}

/** Start the container in the sandbox; stdout/stderr are piped. */
export function startContainer(run: ContainerRun): RunningContainer {
  const child = spawn('bwrap', sandboxArgs(run), { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const pid = new Promise<number>((resolve, reject) => {
    let info = '';
    const fd = child.stdio[3] as NodeJS.ReadableStream;
    fd.on('data', (chunk: Buffer) => {
      info += chunk.toString();
      const match = /"child-pid":\s*(\d+)/.exec(info);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', () => reject(new Error('the sandbox exited before reporting its PID')));
  });
  pid.catch(() => undefined);
  return {
    process: child,
    signal: async (signal) => {
      process.kill(await pid, signal);
    },
  };
}

/** Run the container to its end: exit code, stdout, stderr. */
export async function runContainer(run: ContainerRun): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = startContainer(run).process;
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  return { code, stdout, stderr };
}
