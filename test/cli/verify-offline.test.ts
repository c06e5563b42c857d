/**
 * Key-only evidence verifies offline (issue 14, item 5): `verify-bundle` and `verify-signatures`
 * load a Sigstore trusted root only when the evidence or the thresholds need one (the rule of
 * `verify`), and cosign's `--insecure-ignore-tlog` / `--offline` behave as in cosign. Every run here
 * has an empty TUF cache, no network, and a 1.5 s TUF deadline: a root fetched by mistake fails the
 * run with exit 2 (TRUST_UNAVAILABLE) instead of passing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseDigest } from '../../src/oci/digest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { attachLegacyAttestation, attachLegacySignature } from '../../src/sign/legacy-tag.ts';
import { runCli, VECTORS } from '../helpers/run-cli.ts';
import { keyMessageBundle } from '../sigstore/mini-sigstore.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-offline-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, MODELGATE_TUF_CACHE: join(dir, 'empty-tuf-cache'), XDG_CACHE_HOME: join(dir, 'xdg') };
const NO_FETCH = ['--tuf-timeout', '1500'];
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubPath = join(dir, 'signer.pub');
writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));

t.test('verify-bundle: a key-signed bundle without log entries needs no root once no log entry is required', async (t) => {
  const artifact = Buffer.from('weights\n');
  const artifactPath = join(dir, 'artifact.bin');
  const bundlePath = join(dir, 'key.sigstore.json');
  writeFileSync(artifactPath, artifact);
  writeFileSync(bundlePath, JSON.stringify(keyMessageBundle(privateKey, artifact)));
  const base = ['verify-bundle', '--bundle', bundlePath, '--key', pubPath, ...NO_FETCH];
  for (const extra of [['--tlog-threshold', '0'], ['--insecure-ignore-tlog']]) {
    const run = await runCli([...base, ...extra, artifactPath], { env });
    t.equal(run.code, 0, `${extra.join(' ')}: ${run.stderr}`);
    t.match(run.stdout, /trust root: none \(keys only/);
  }
  // The default threshold (one log entry) needs a root: fetching it here fails, as it must.
  const needsRoot = await runCli([...base, artifactPath], { env });
  t.equal(needsRoot.code, 2, 'a log entry is required: a root is needed and unavailable');
  t.match(needsRoot.stderr, /TRUST_UNAVAILABLE/);
  // A TSA threshold needs the TSAs of a root.
  const tsa = await runCli([...base, '--tlog-threshold', '0', '--tsa-threshold', '1', artifactPath], { env });
  t.equal(tsa.code, 2);
});

t.test('verify-bundle: log entries in the evidence need a root, unless --insecure-ignore-tlog leaves them out', async (t) => {
  const bundle = join(VECTORS, 'sigstore-js/verify/V1.MESSAGE_SIGNATURE.WITH_PUBLIC_KEY.sigstore.json');
  const artifact = join(VECTORS, 'sigstore-js/verify/artifact.txt');
  const key = join(VECTORS, 'sigstore-js/verify/public_key.pem');
  const withEntry = await runCli(['verify-bundle', '--bundle', bundle, '--key', key, '--tlog-threshold', '0', ...NO_FETCH, artifact], { env });
  t.equal(withEntry.code, 2, 'the entry would be verified: a root is needed');
  const ignored = await runCli(['verify-bundle', '--bundle', bundle, '--key', key, '--insecure-ignore-tlog', '--output', 'json', ...NO_FETCH, artifact], { env });
  t.equal(ignored.code, 0, ignored.stderr);
  t.same((JSON.parse(ignored.stdout) as { tlogEntries: unknown[] }).tlogEntries, [], 'the ignored entry is not reported');
  const withRoot = await runCli(['verify-bundle', '--bundle', bundle, '--key', key, '--trusted-root', join(VECTORS, 'sigstore-js/verify/trusted_root.json'), '--output', 'json', artifact], { env });
  t.equal(withRoot.code, 0, withRoot.stderr);
  t.equal((JSON.parse(withRoot.stdout) as { tlogEntries: unknown[] }).tlogEntries.length, 1);
});

t.test('verify-bundle --insecure-ignore-tlog on keyless bundles: the certificate then needs an RFC 3161 time (cosign)', async (t) => {
  const conformance = join(VECTORS, 'sigstore-conformance/bundle-verify');
  const identity = ['--certificate-identity', 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main', '--certificate-oidc-issuer', 'https://token.actions.githubusercontent.com'];
  const setOnly = await runCli(['verify-bundle', '--bundle', join(conformance, 'happy-path-v0.1/bundle.sigstore.json'), ...identity, '--trusted-root', join(VECTORS, 'trust/public-good.trusted_root.json'), '--insecure-ignore-tlog', join(conformance, 'a.txt')], { env });
  t.equal(setOnly.code, 1, 'the only time came from the ignored log entry');
  t.match(setOnly.stderr, /TIMESTAMP/);
  const withTsa = await runCli(['verify-bundle', '--bundle', join(conformance, 'rekor2-happy-path/bundle.sigstore.json'), ...identity, '--trusted-root', join(conformance, 'rekor2-happy-path/trusted_root.json'), '--insecure-ignore-tlog', join(conformance, 'a.txt')], { env });
  t.equal(withTsa.code, 0, withTsa.stderr);
  t.match(withTsa.stdout, /RFC 3161 timestamp/);
  t.notMatch(withTsa.stdout, /log entry:/);
});

t.test('verify-signatures: key-signed cosign evidence verifies with no root and no network', async (t) => {
  const model = join(dir, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(1024, 3));
  const layout = join(dir, 'layout');
  const pushed = await runCli(['push', model, `oci-layout://${layout}:v1`], { env });
  t.equal(pushed.code, 0, pushed.stderr);
  const digest = parseDigest(pushed.stdout.trim());
  const store = new LayoutStore(layout);
  await attachLegacySignature(store, digest, privateKey, { dockerReference: 'example/model' });
  const bundle = signStatementBundle([{ digest }], 'https://example.com/predicate/v1', { a: 1 }, privateKey);
  await attachLegacyAttestation(store, digest, bundle.dsseEnvelope!, 'https://example.com/predicate/v1');
  const ref = `oci-layout://${layout}@${digest}`;
  const run = await runCli(['verify-signatures', ref, '--key', pubPath, '--output', 'json', ...NO_FETCH], { env });
  t.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { items: Array<{ status: string }> };
  t.same(report.items.map((i) => i.status), ['verified', 'verified']);
  const ignored = await runCli(['verify-signatures', ref, '--key', pubPath, '--insecure-ignore-tlog', '--offline', ...NO_FETCH], { env });
  t.equal(ignored.code, 0, ignored.stderr);
  // Keyless evidence is asked for: a root is needed, and --offline with an empty cache has none.
  const keyless = await runCli(['verify-signatures', ref, '--certificate-identity', 'a@example.com', '--certificate-oidc-issuer', 'https://issuer.example', '--offline', '--tuf-mirror', 'http://127.0.0.1:9', '--tuf-root', join(dir, 'missing-root.json'), ...NO_FETCH], { env });
  t.equal(keyless.code, 2, keyless.stderr);
  t.match(keyless.stderr, /TRUST_UNAVAILABLE/);
});
