/**
 * Test helper: run a command line as a user pastes it into a shell — `sh -c LINE` with the PATH of a
 * user's shell (the system's: system Node and npm, without the node_modules/.bin entries `npm test`
 * puts first), so a printed `npx modelgate …` is checked the way a new user runs it.
 *
 * Owns: `USER_PATH` and `runInUserShell`.
 */
import { execFile } from 'node:child_process';

/** The PATH of a user's shell: the system's, without the node_modules/.bin entries `npm test` adds. */
export const USER_PATH = (process.env.PATH ?? '').split(':').filter((p) => !p.includes('node_modules')).join(':');

/** Run `line` verbatim in `sh -e -c` in `cwd`; never throws on a non-zero exit. */
export function runInUserShell(line: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-e', '-c', line], { cwd, maxBuffer: 16 * 1024 * 1024, env: { PATH: USER_PATH, HOME: process.env.HOME ?? cwd } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}
