/**
 * Benchmark: pulling one large blob from a loopback registry — `RegistryStore.downloadBlob` (streamed,
 * digest-verified, temp file + rename) against `curl -s -o` of the same blob URL (no verification).
 *
 * Starts the real docker-registry through the test helper, writes a random blob of PULL_BENCH_MIB MiB
 * (default 1024) to a temporary directory, pushes it, then runs PULL_BENCH_ROUNDS rounds (default 5)
 * in which both pullers run once each, alternating which goes first. Prints each run, the medians in
 * GB/s and the ratio client/curl (goal ≥ 0.95). Every temporary file and the registry are removed.
 * PULL_BENCH_UNDICI=1 adds a third puller: downloadBlob kept on undici (`plainBlobSocket: false`),
 * the path every HTTPS or proxied registry takes, for an A/B against the plain-socket fast path.
 *
 *   npm run bench:pull
 *   PULL_BENCH_MIB=256 PULL_BENCH_ROUNDS=3 PULL_BENCH_UNDICI=1 npm run bench:pull
 */
import { rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { MediaType, type Descriptor } from '../src/oci/manifest.ts';
import { RegistryStore } from '../src/oci/registry.ts';
import { haveGnuTime, median, timedChild, withBenchRegistry, writeRandomBlob, type Run } from './measure.ts';

const SIZE_MIB = Number(process.env.PULL_BENCH_MIB ?? 1024);
const ROUNDS = Number(process.env.PULL_BENCH_ROUNDS ?? 5);
const REPOSITORY = 'bench/pull';
const GOAL = 0.95;
const WITH_UNDICI = process.env.PULL_BENCH_UNDICI === '1';
type Puller = 'client' | 'curl' | 'undici';

/** Time an in-process pull; its CPU is this process's (main thread and libuv pool) over the call. */
async function timedInProcess(fn: () => Promise<void>): Promise<Run> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

async function main(): Promise<void> {
  if (!Number.isInteger(SIZE_MIB) || SIZE_MIB < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
    throw new Error('PULL_BENCH_MIB and PULL_BENCH_ROUNDS must be positive integers');
  }
  await withBenchRegistry('modelgate-bench-pull-', async (registry, dir) => {
    const source = join(dir, 'source.bin');
    let started = performance.now();
    const digest = await writeRandomBlob(source, SIZE_MIB);
    const size = statSync(source).size;
    console.log(`blob: ${SIZE_MIB} MiB ${digest} generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const store = new RegistryStore({ registry: registry.host, repository: REPOSITORY });
    started = performance.now();
    const descriptor: Descriptor = await store.pushBlob({ kind: 'file', path: source, digest, size, mediaType: MediaType.OCI_LAYER_TAR });
    console.log(`pushed to ${registry.host}/${REPOSITORY} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    rmSync(source);

    const gib = size / 2 ** 30;
    const url = `${registry.url}/v2/${REPOSITORY}/blobs/${digest}`;
    const target = join(dir, 'pulled.bin');
    const undiciStore = new RegistryStore({ registry: registry.host, repository: REPOSITORY }, { plainBlobSocket: false });
    const pullers: Record<Puller, () => Promise<Run>> = {
      client: () => timedInProcess(() => store.downloadBlob(descriptor, target, { timeoutMs: 30_000 })),
      curl: () => timedChild('curl', ['-s', '-f', '--max-time', '600', '-o', target, url]),
      undici: () => timedInProcess(() => undiciStore.downloadBlob(descriptor, target, { timeoutMs: 30_000 })),
    };
    const names: Puller[] = WITH_UNDICI ? ['client', 'undici', 'curl'] : ['client', 'curl'];
    const runs: Record<Puller, Run[]> = { client: [], curl: [], undici: [] };
    // One unmeasured pull each so both start with the registry's file in the page cache.
    for (const name of [...names].reverse()) {
      await pullers[name]();
      if (statSync(target).size !== size) throw new Error(`${name} warm-up pulled a wrong size`);
      await rm(target);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const r = await pullers[name]();
        if (statSync(target).size !== size) throw new Error(`${name} pulled ${statSync(target).size} bytes, expected ${size}`);
        await rm(target);
        runs[name].push(r);
        console.log(
          `round ${round + 1} ${name.padEnd(6)} ${(size / r.seconds / 1e9).toFixed(3)} GB/s (${r.seconds.toFixed(2)} s, ` +
            `${(r.cpuSeconds / gib).toFixed(2)} CPU-s/GiB)`,
        );
      }
    }
    const client = size / median(runs.client.map((r) => r.seconds)) / 1e9;
    const curl = size / median(runs.curl.map((r) => r.seconds)) / 1e9;
    const ratio = client / curl;
    const cpu = (name: Puller): string => (median(runs[name].map((r) => r.cpuSeconds)) / gib).toFixed(2);
    console.log(`\nmedian of ${ROUNDS}: downloadBlob (verified) ${client.toFixed(3)} GB/s, curl -o ${curl.toFixed(3)} GB/s`);
    console.log(`CPU per GiB (user + system): downloadBlob ${cpu('client')} s, curl ${cpu('curl')} s${haveGnuTime ? '' : ' (install GNU time for curl)'}`);
    if (WITH_UNDICI) {
      const undici = size / median(runs.undici.map((r) => r.seconds)) / 1e9;
      console.log(`downloadBlob on undici: ${undici.toFixed(3)} GB/s (${(undici / curl).toFixed(3)}× curl), ${cpu('undici')} CPU-s/GiB`);
    }
    const load = loadavg()[0]!;
    console.log(`load average (1 min) at the end: ${load.toFixed(2)} on ${availableParallelism()} CPUs${load > availableParallelism() ? ' — machine busy, figures are noisy' : ''}`);
    console.log(`ratio client/curl: ${ratio.toFixed(3)}× (goal ≥ ${GOAL}×) ${ratio >= GOAL ? 'OK' : 'BELOW GOAL'}`);
  });
}

await main();
