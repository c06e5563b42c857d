/**
 * Benchmark: pulling one large blob from a loopback registry over plain HTTP and over HTTPS, in one
 * run — `RegistryStore.downloadBlob` (streamed, digest-verified, temp file + rename) against `curl -s -o`
 * of the same blob URL over the same scheme (no verification; `--cacert` with the registry's CA for HTTPS).
 *
 * For each scheme of PULL_BENCH_SCHEMES (default `http,https`) it starts the real docker-registry through
 * the test helper (HTTPS: a certificate from a throw-away CA, trusted by the client through
 * `caCertificates`), writes a random blob of PULL_BENCH_MIB MiB (default 1024) to a temporary directory,
 * pushes it, then runs PULL_BENCH_ROUNDS rounds (default 5) in which the pullers run once each,
 * alternating which goes first. Prints each run, the medians in GB/s, CPU-s/GiB and the ratios
 * client/curl for wall time (goal ≥ 0.95) and CPU (goal ≤ 1.0), per scheme. Every temporary file and the
 * registries are removed. PULL_BENCH_UNDICI=1 adds a third puller: downloadBlob kept on undici
 * (`plainBlobSocket: false`, the path proxied registries and small HTTPS blobs take), for an A/B against
 * the own-socket fast path.
 *
 *   npm run bench:pull
 *   PULL_BENCH_MIB=256 PULL_BENCH_ROUNDS=3 PULL_BENCH_UNDICI=1 npm run bench:pull
 */
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { MediaType, type Descriptor } from '../src/oci/manifest.ts';
import { RegistryStore, type RegistryOptions } from '../src/oci/registry.ts';
import { haveGnuTime, median, timedChild, withBenchRegistry, writeRandomBlob, type Run } from './measure.ts';

const SIZE_MIB = Number(process.env.PULL_BENCH_MIB ?? 1024);
const ROUNDS = Number(process.env.PULL_BENCH_ROUNDS ?? 5);
const SCHEMES = (process.env.PULL_BENCH_SCHEMES ?? 'http,https').split(',').map((s) => s.trim());
const REPOSITORY = 'bench/pull';
const GOAL = 0.95;
const CPU_GOAL = 1.0;
const WITH_UNDICI = process.env.PULL_BENCH_UNDICI === '1';
type Puller = 'client' | 'curl' | 'undici';
type Scheme = 'http' | 'https';

/** Time an in-process pull; its CPU is this process's (main thread and libuv pool) over the call. */
async function timedInProcess(fn: () => Promise<void>): Promise<Run> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** One scheme's rounds; returns its summary line. */
async function benchScheme(scheme: Scheme): Promise<string> {
  return withBenchRegistry(
    `modelgate-bench-pull-${scheme}-`,
    async (registry, dir) => {
      console.log(`\n== ${scheme}: ${registry.url}`);
      const source = join(dir, 'source.bin');
      let started = performance.now();
      const digest = await writeRandomBlob(source, SIZE_MIB);
      const size = statSync(source).size;
      console.log(`blob: ${SIZE_MIB} MiB ${digest} generated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

      const tls: RegistryOptions = scheme === 'https' ? { httpsForLoopback: true, caCertificates: [registry.caCertificate!] } : {};
      const store = new RegistryStore({ registry: registry.host, repository: REPOSITORY }, tls);
      started = performance.now();
      const descriptor: Descriptor = await store.pushBlob({ kind: 'file', path: source, digest, size, mediaType: MediaType.OCI_LAYER_TAR });
      console.log(`pushed to ${registry.host}/${REPOSITORY} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      rmSync(source);

      const gib = size / 2 ** 30;
      const url = `${registry.url}/v2/${REPOSITORY}/blobs/${digest}`;
      const target = join(dir, 'pulled.bin');
      const caFile = join(dir, 'ca.pem');
      if (scheme === 'https') writeFileSync(caFile, registry.caCertificate!);
      const undiciStore = new RegistryStore({ registry: registry.host, repository: REPOSITORY }, { ...tls, plainBlobSocket: false });
      const pullers: Record<Puller, () => Promise<Run>> = {
        client: () => timedInProcess(() => store.downloadBlob(descriptor, target, { timeoutMs: 30_000 })),
        curl: () => timedChild('curl', ['-s', '-f', '--max-time', '600', ...(scheme === 'https' ? ['--cacert', caFile] : []), '-o', target, url]),
        undici: () => timedInProcess(() => undiciStore.downloadBlob(descriptor, target, { timeoutMs: 30_000 })),
      };
      const names: Puller[] = WITH_UNDICI ? ['client', 'undici', 'curl'] : ['client', 'curl'];
      const runs: Record<Puller, Run[]> = { client: [], curl: [], undici: [] };
      // One unmeasured pull each so all start with the registry's file in the page cache.
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
      const speed = (name: Puller): number => size / median(runs[name].map((r) => r.seconds)) / 1e9;
      const cpu = (name: Puller): number => median(runs[name].map((r) => r.cpuSeconds)) / gib;
      const ratio = speed('client') / speed('curl');
      const cpuRatio = cpu('client') / cpu('curl');
      console.log(`median of ${ROUNDS}: downloadBlob (verified) ${speed('client').toFixed(3)} GB/s, curl -o ${speed('curl').toFixed(3)} GB/s`);
      console.log(`CPU per GiB (user + system): downloadBlob ${cpu('client').toFixed(2)} s, curl ${cpu('curl').toFixed(2)} s${haveGnuTime ? '' : ' (install GNU time for curl)'}`);
      let line =
        `${scheme.padEnd(5)}: speed ${ratio.toFixed(3)}× curl (goal ≥ ${GOAL}×) ${ratio >= GOAL ? 'OK' : 'BELOW GOAL'}; ` +
        `CPU ${cpu('client').toFixed(2)} vs curl ${cpu('curl').toFixed(2)} CPU-s/GiB = ${cpuRatio.toFixed(2)}× (goal ≤ ${CPU_GOAL}×) ${cpuRatio <= CPU_GOAL ? 'OK' : 'ABOVE GOAL'}`;
      if (WITH_UNDICI) line += `; on undici ${(speed('undici') / speed('curl')).toFixed(3)}× curl, ${cpu('undici').toFixed(2)} CPU-s/GiB`;
      return line;
    },
    { tls: scheme === 'https' },
  );
}

async function main(): Promise<void> {
  if (!Number.isInteger(SIZE_MIB) || SIZE_MIB < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
    throw new Error('PULL_BENCH_MIB and PULL_BENCH_ROUNDS must be positive integers');
  }
  if (SCHEMES.length === 0 || !SCHEMES.every((s): s is Scheme => s === 'http' || s === 'https')) throw new Error('PULL_BENCH_SCHEMES: a comma-separated list of http, https');
  const lines: string[] = [];
  for (const scheme of SCHEMES as Scheme[]) lines.push(await benchScheme(scheme));
  console.log('\nsummary (client = downloadBlob, verified; curl -o over the same scheme):');
  for (const line of lines) console.log(`  ${line}`);
  const load = loadavg()[0]!;
  console.log(`load average (1 min) at the end: ${load.toFixed(2)} on ${availableParallelism()} CPUs${load > availableParallelism() ? ' — machine busy, figures are noisy' : ''}`);
}

await main();
