/**
 * Benchmark: Sigstore bundle verifications per second through `verifyBundleSync` for a key-signed
 * vector (conformance `managed-key-happy-path`: ECDSA P-256 key, Rekor v1 SET + inclusion proof,
 * RFC 3161 timestamp) and a keyless one (conformance `happy-path-v0.3`: Fulcio certificate chain +
 * SCT, Rekor v1 SET + inclusion proof), against two baselines in the same process: a raw
 * `crypto.verify` of the same signature over the same artifact (the floor: one ECDSA check), and
 * `@sigstore/verify`'s own `Verifier` on the same bundle (what we add on top of the library).
 * Each contender runs for BENCH_MS milliseconds (default 2000) after a warm-up, in rotating order
 * over BENCH_ROUNDS rounds (default 3); the median rate is reported.
 *
 *   npm run bench:verify
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { verifyBundleSync, type BundleVerifyOptions } from '../src/sigstore/bundle.ts';
import { parsePublicKey } from '../src/sigstore/keys.ts';
import { loadTrustedRootFile } from '../src/sigstore/trust.ts';

const VECTORS = join(import.meta.dirname, '../../shared/vectors');
const CONFORMANCE = join(VECTORS, 'sigstore-conformance/bundle-verify');
const BENCH_MS = Number(process.env.BENCH_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const rootPath = join(VECTORS, 'trust/public-good.trusted_root.json');
const trust = loadTrustedRootFile(rootPath);
const artifact = readFileSync(join(CONFORMANCE, 'a.txt'));
const libraryTrust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(readFileSync(rootPath, 'utf8'))));

interface Vector {
  name: string;
  text: string;
  options: BundleVerifyOptions;
  rawKey: ReturnType<typeof createPublicKey>;
  signature: Buffer;
}

function vector(name: string, dir: string, options: Omit<BundleVerifyOptions, 'trust' | 'artifact'>): Vector {
  const text = readFileSync(join(CONFORMANCE, dir, 'bundle.sigstore.json'), 'utf8');
  const json = JSON.parse(text);
  const signature = Buffer.from(json.messageSignature.signature, 'base64');
  const certificate = json.verificationMaterial.certificate?.rawBytes as string | undefined;
  const rawKey = certificate === undefined
    ? (options.signer.kind === 'key' ? options.signer.keys[0]! : createPublicKey(''))
    : createPublicKey(`-----BEGIN CERTIFICATE-----\n${certificate}\n-----END CERTIFICATE-----\n`);
  return { name, text, options: { trust, artifact: { kind: 'bytes', bytes: artifact }, ...options }, rawKey, signature };
}

const vectors = [
  vector('key-signed (P-256, SET + proof + TSA)', 'managed-key-happy-path', {
    signer: { kind: 'key', keys: [parsePublicKey(readFileSync(join(CONFORMANCE, 'managed-key-happy-path/key.pub'), 'utf8'))] },
  }),
  vector('keyless (Fulcio chain + SCT, SET + proof)', 'happy-path-v0.3', {
    signer: {
      kind: 'identity',
      san: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
      issuer: 'https://token.actions.githubusercontent.com',
    },
  }),
];

function rate(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < BENCH_MS) {
    fn();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });

console.log(`node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${BENCH_MS} ms x ${ROUNDS} rounds`);
for (const v of vectors) {
  const keyBundle = v.options.signer.kind === 'key';
  const libraryKeys = keyBundle ? { [JSON.parse(v.text).verificationMaterial.publicKey.hint]: { rawBytes: v.rawKey.export({ type: 'spki', format: 'der' }) } } : undefined;
  const libraryVerifier = new Verifier(keyBundle ? toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(readFileSync(rootPath, 'utf8'))), libraryKeys as never) : libraryTrust);
  const contenders: [string, () => void][] = [
    ['raw crypto.verify (same signature)', () => {
      if (!verify('sha256', artifact, v.rawKey, v.signature)) throw new Error('raw verify failed');
    }],
    ['@sigstore/verify Verifier (parse + verify)', () => {
      libraryVerifier.verify(toSignedEntity(bundleFromJSON(JSON.parse(v.text)), artifact));
    }],
    ['modelgate verifyBundleSync', () => {
      verifyBundleSync(v.text, v.options);
    }],
  ];
  const rates = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const [name, fn] = contenders[(i + round) % contenders.length]!;
      rates.get(name)!.push(rate(fn));
    }
  }
  const raw = median(rates.get(contenders[0]![0])!);
  const library = median(rates.get(contenders[1]![0])!);
  const ours = median(rates.get(contenders[2]![0])!);
  console.log(`\n${v.name}`);
  for (const [name] of contenders) console.log(`  ${name.padEnd(44)} ${fmt(median(rates.get(name)!)).padStart(8)} /s`);
  console.log(`  modelgate vs raw crypto.verify: ${(raw / ours).toFixed(1)}x slower; vs @sigstore/verify: ${(ours / library).toFixed(2)}x the rate`);
}
