/**
 * Is a process that holds something (a cache lease, a staging directory) still alive?
 *
 * Owns: this kernel's boot id and this process's PID namespace (from /proc), `processAlive` (a PID in
 * our namespace) and `holderDead` (the verdict on a lease holder: certain death on this kernel by its
 * socket or its PID; anything else is unknown and left to the lease heartbeat).
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';

/** Who holds a lease: enough to tell, on the same kernel, that the holder is gone. */
export interface LeaseHolder {
  readonly owner: string;
  readonly bootId?: string;
  readonly pidNamespace?: string;
  readonly pid?: number;
  /** A Unix socket the holder listens on while it holds leases. */
  readonly socket?: string;
}

function readOr(read: () => string): string | undefined {
  try {
    return read().trim();
  } catch {
    return undefined;
  }
}

/** This kernel's boot id and this process's PID namespace (undefined where /proc does not say). */
export const BOOT_ID = readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
export const PID_NAMESPACE = readOr(() => readlinkSync('/proc/self/ns/pid'));

/** True while a process with this PID exists in our PID namespace (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the socket accepts a connection; false when the kernel refuses it (nobody listens). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(!(err.code === 'ECONNREFUSED' || err.code === 'ENOENT')));
  });
}

/**
 * True when the lease's holder is certainly dead: it ran on this kernel and its socket refuses
 * connections, or (no socket) its PID is gone from our PID namespace. False when alive or unknown.
 */
export async function holderDead(holder: LeaseHolder): Promise<boolean> {
  if (BOOT_ID === undefined || holder.bootId !== BOOT_ID) return false; // another node, or a lease of unknown make
  if (holder.socket !== undefined) return !(await socketAnswers(holder.socket));
  if (holder.pidNamespace !== undefined && holder.pidNamespace === PID_NAMESPACE && Number.isInteger(holder.pid) && holder.pid! > 0) return !processAlive(holder.pid!);
  return false;
}
