/**
 * Every `bundle` case of the shared vectors (`shared/vectors/cases.json`) through the real CLI
 * (`modelgate verify-bundle`, as a subprocess, sigstore-conformance argument order) with the artifact
 * file, and again in-process through `verifyBundle` with the artifact's `sha256:<hex>` digest; a
 * sample also goes through the CLI with the digest. The verdict must be the expected one; failures
 * must be clean (exit 1, a coded message), never a crash.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { digestOf } from '../../src/oci/digest.ts';
import { verifyBundle } from '../../src/sigstore/bundle.ts';
import { VerificationError } from '../../src/sigstore/errors.ts';
import { loadTrustedRootFile } from '../../src/sigstore/trust.ts';
import { abs, bundleCases, signerFor, type BundleCase } from './vector-cases.ts';

const REPO = join(import.meta.dirname, '../..');
const NODE = join(REPO, 'node_modules/.bin/node');
const MAIN = join(REPO, 'src/cli/main.ts');
const CONCURRENCY = 3;
// ~50 CLI subprocesses take ~30 s on an idle 2-core machine; allow for a loaded one (the runner's
// default is 240 s per file).
t.setTimeout(600_000);

const cases = bundleCases;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args], { cwd: REPO, timeout: 120_000, env: { ...process.env, MODELGATE_TUF_CACHE: join(tmpdir(), 'modelgate-no-tuf-in-tests'), NODE_COMPILE_CACHE: join(tmpdir(), 'modelgate-node-compile-cache') } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run tasks with at most `limit` in flight (the machine has 2 cores shared by other jobs). */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

function cliArgs(c: BundleCase, artifactArg: string | undefined): string[] {
  const args = ['verify-bundle', '--bundle', abs(c.bundle)];
  if (c.key !== undefined) args.push('--key', abs(c.key));
  else args.push('--certificate-identity', c.certificateIdentity!, '--certificate-oidc-issuer', c.certificateOidcIssuer!);
  args.push('--trusted-root', abs(c.trustedRoot));
  if (c.tlogThreshold !== undefined) args.push('--tlog-threshold', String(c.tlogThreshold));
  if (artifactArg !== undefined) args.push(artifactArg);
  return args;
}

t.test('the vectors are all there', async (t) => {
  t.equal(cases.length, 39, 'cases.json has 39 bundle cases');
  t.ok(cases.some((c) => c.expect === 'fail') && cases.some((c) => c.expect === 'pass'));
});

t.test('every bundle case through the CLI with the artifact file', async (t) => {
  const results = new Map<string, Run>();
  await pool(cases, CONCURRENCY, async (c) => {
    results.set(c.id, await runCli(cliArgs(c, c.artifact === undefined ? undefined : abs(c.artifact))));
  });
  for (const c of cases) {
    const run = results.get(c.id)!;
    if (c.expect === 'pass') {
      t.equal(run.code, 0, `${c.id}: verified`, { stderr: run.stderr, notes: c.notes });
      t.match(run.stdout, /^Verified OK/, `${c.id}: says so`);
    } else {
      t.equal(run.code, 1, `${c.id}: not verified (exit 1)`, { stdout: run.stdout, stderr: run.stderr, notes: c.notes });
      t.match(run.stderr, /^modelgate: verification FAILED: [A-Z_]+: /, `${c.id}: coded failure, no crash`);
      t.notMatch(run.stderr, /internal error/, `${c.id}: no internal error`);
    }
  }
});

t.test('every bundle case in-process with the artifact digest', async (t) => {
  for (const c of cases) {
    const trust = loadTrustedRootFile(abs(c.trustedRoot));
    const artifact = c.artifact === undefined ? undefined : { kind: 'digest' as const, digest: digestOf(readFileSync(abs(c.artifact))) };
    let verdict: 'pass' | 'fail' = 'pass';
    let detail = '';
    try {
      await verifyBundle(readFileSync(abs(c.bundle)), {
        trust,
        signer: signerFor(c),
        ...(artifact === undefined ? {} : { artifact }),
        ...(c.tlogThreshold === undefined ? {} : { tlogThreshold: c.tlogThreshold }),
      });
    } catch (err) {
      verdict = 'fail';
      detail = String(err);
      t.ok(err instanceof VerificationError, `${c.id}: rejection is a VerificationError`, { found: detail });
    }
    t.equal(verdict, c.expect, `${c.id} (sha256 digest): ${c.expect}`, { detail, notes: c.notes });
  }
});

t.test('the TSA-only bundle needs an explicit tlogThreshold 0', async (t) => {
  const c = cases.find((x) => x.id === 'sigstore-js/verify/V3.MESSAGE_SIGNATURE.WITH_SIGNING_CERT')!;
  const run = await runCli(cliArgs({ ...c, tlogThreshold: undefined } as BundleCase, abs(c.artifact!)));
  t.equal(run.code, 1, 'rejected under the default policy');
  t.match(run.stderr, /FAILED: TLOG: /);
});

t.test('a sample through the CLI with sha256:<hex>, and JSON output', async (t) => {
  const sample = ['sigstore-conformance/happy-path-intoto-in-dsse-v3', 'sigstore-conformance/wrong-material_fail', 'sigstore-js/verify/V1.MESSAGE_SIGNATURE.WITH_PUBLIC_KEY'];
  await pool(sample, CONCURRENCY, async (id) => {
    const c = cases.find((x) => x.id === id)!;
    const run = await runCli([...cliArgs(c, digestOf(readFileSync(abs(c.artifact!)))), '--output', 'json']);
    t.equal(run.code, c.expect === 'pass' ? 0 : 1, `${id} via digest: ${c.expect}`, { stderr: run.stderr });
    const report = JSON.parse(run.stdout);
    t.equal(report.verified, c.expect === 'pass', `${id}: JSON verdict`);
    if (c.expect === 'fail') t.match(report.error.code, /^[A-Z_]+$/);
    if (c.expect === 'pass' && c.certificateIdentity !== undefined) t.equal(report.signer.san, c.certificateIdentity);
  });
});

t.test('a {hint: PEM} key map without the bundle\'s hint is a KEY failure', async (t) => {
  const c = cases.find((x) => x.id === 'sigstore-js/verify/V1.MESSAGE_SIGNATURE.WITH_PUBLIC_KEY')!;
  const run = await runCli(cliArgs({ ...c, key: 'sigstore-js/client/public_keys.json' }, abs(c.artifact!)));
  t.equal(run.code, 1);
  t.match(run.stderr, /FAILED: KEY: .*9a76331e/, 'names the hint it looked for');
});

t.test('trust that cannot be obtained is a coded error (exit 2), fast and without the network', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'modelgate-cli-tuf-'));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const c = cases.find((x) => x.id === 'sigstore-conformance/happy-path-v0.3')!;
  const base = ['verify-bundle', '--bundle', abs(c.bundle), '--certificate-identity', c.certificateIdentity!, '--certificate-oidc-issuer', c.certificateOidcIssuer!];
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const unreachable = await runCli([...base, '--tuf-mirror', `http://127.0.0.1:${port}`, '--tuf-root', abs('trust/public-good.tuf-root.json'), '--tuf-cache', cache, '--tuf-timeout', '3000', abs(c.artifact!)]);
  t.equal(unreachable.code, 2, 'unreachable mirror: exit 2');
  t.match(unreachable.stderr, /^modelgate: TRUST_UNAVAILABLE: .*127\.0\.0\.1/, 'names the problem and the mirror');
  const staging = await runCli([...base, '--staging', '--tuf-cache', cache, abs(c.artifact!)]);
  t.equal(staging.code, 2, 'staging without a TUF root: exit 2');
  t.match(staging.stderr, /TRUST_UNAVAILABLE: .*sigstage/, 'says which mirror has no root');
  const missing = await runCli([...base, '--trusted-root', abs('trust/nope.json'), abs(c.artifact!)]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /TRUST_UNAVAILABLE: cannot read trusted root/);
  const usage = await runCli(['verify-bundle', '--bundle', abs(c.bundle), '--trusted-root', abs(c.trustedRoot), abs(c.artifact!)]);
  t.equal(usage.code, 2, 'neither key nor identity: usage error');
  t.match(usage.stderr, /USAGE/);
});
