/**
 * Benchmark: CLI start-up against bare `node -e 0` on the same pinned Node, in one run (ratios):
 *  - `modelgate --version` and `modelgate --help`: wall time from spawn to exit;
 *  - `modelgate init URI DEST`: time from spawn to the first request reaching a tiny loopback HTTP
 *    server standing in for the registry (it answers 404, so init refuses and exits at once).
 * The contenders run alternated, STARTUP_BENCH_ROUNDS rounds (default 30), each round in a rotated
 * order; it prints the median and the ratio of each median to `node -e 0`'s. Every contender runs
 * once before the rounds so Node's compile cache (NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache)
 * is warm, as on any machine after the first run.
 *
 *   npm run bench:startup
 *   STARTUP_BENCH_ROUNDS=10 npm run bench:startup
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './measure.ts';

const ROUNDS = Number(process.env.STARTUP_BENCH_ROUNDS ?? 30);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const GOAL_RATIO = 1.5;
const GOAL_INIT_SECONDS = 0.15;

/** Arrival times (performance.now()) of the first request of each spawned init, by run id in the path. */
const arrivals = new Map<string, (at: number) => void>();
const server = createServer((request, response) => {
  const id = /^\/v2\/startup-(\d+)\//.exec(request.url ?? '')?.[1];
  if (id !== undefined) arrivals.get(id)?.(performance.now());
  response.writeHead(404, { 'content-type': 'application/json' });
  response.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"startup bench"}]}');
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const dir = mkdtempSync(join(tmpdir(), 'modelgate-startup-'));
let runs = 0;

/** Spawn `node ARGS…`; resolves with seconds from spawn to `until` (exit, or the first registry request). */
function time(args: readonly string[], until: 'exit' | 'request', id?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let arrived: number | undefined;
    if (id !== undefined) arrivals.set(id, (at) => (arrived ??= at));
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (id !== undefined) arrivals.delete(id);
      if (until === 'exit') {
        if (code !== 0) reject(new Error(`node ${args.join(' ')} exited ${code}`));
        else resolve((performance.now() - started) / 1000);
      } else if (arrived === undefined) reject(new Error(`modelgate init exited ${code} without a registry request`));
      else resolve((arrived - started) / 1000);
    });
  });
}

function initRun(): Promise<number> {
  const id = String(runs++);
  const uri = `modelgate+oci://127.0.0.1:${port}/startup-${id}/model@sha256:${'a'.repeat(64)}`;
  return time([CLI, 'init', uri, join(dir, `dest-${id}`), '--termination-log', join(dir, 'termination-log')], 'request', id);
}

const CONTENDERS: ReadonlyArray<{ readonly name: string; readonly run: () => Promise<number> }> = [
  { name: 'node -e 0', run: () => time(['-e', '0'], 'exit') },
  { name: 'modelgate --version', run: () => time([CLI, '--version'], 'exit') },
  { name: 'modelgate --help', run: () => time([CLI, '--help'], 'exit') },
  { name: 'modelgate init (to first request)', run: initRun },
];

try {
  const before = loadavg()[0]!;
  for (const contender of CONTENDERS) await contender.run(); // warm the compile cache
  const samples = new Map<string, number[]>(CONTENDERS.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < CONTENDERS.length; k++) {
      const contender = CONTENDERS[(round + k) % CONTENDERS.length]!;
      samples.get(contender.name)!.push(await contender.run());
    }
  }
  const base = median(samples.get('node -e 0')!);
  console.log(`Node ${process.version}, ${ROUNDS} alternated rounds, load average ${before.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`);
  console.log('| contender | median s | min–max s | × node -e 0 |');
  console.log('|---|---|---|---|');
  for (const contender of CONTENDERS) {
    const values = samples.get(contender.name)!;
    const m = median(values);
    console.log(`| ${contender.name} | ${m.toFixed(3)} | ${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)} | ${(m / base).toFixed(2)}× |`);
  }
  const version = median(samples.get('modelgate --version')!) / base;
  const help = median(samples.get('modelgate --help')!) / base;
  const init = median(samples.get('modelgate init (to first request)')!);
  console.log(`goals: --version ≤ ${GOAL_RATIO}× (${version <= GOAL_RATIO ? 'met' : 'not met'}), --help ≤ ${GOAL_RATIO}× (${help <= GOAL_RATIO ? 'met' : 'not met'}), init's first request ≤ ${GOAL_INIT_SECONDS} s (${init <= GOAL_INIT_SECONDS ? 'met' : 'not met'})`);
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
