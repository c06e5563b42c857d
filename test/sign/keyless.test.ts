// Keyless signing end to end through the CLI against real local services that speak the Sigstore
// APIs (test/helpers/sigstore-services.ts: Fulcio, Rekor with SET + inclusion proof + checkpoint, RFC
// 3161 TSA) and the loopback registry: keyless `sign` + `attest attach` then `modelgate verify`
// allows with the right identity and denies another; keyless `attest run` provenance verifies;
// keyless `dataset sign` verifies with `verify-bundle` (tlog, SCT, TSA thresholds); Fulcio down /
// Rekor 500 fail with a coded error and write no output; no, expired or malformed tokens fail before any service is called; the token is
// never printed.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { checkModeForSigner } from '../../src/cli/evidence-mode.ts';
import { resolveBundleSigner } from '../../src/cli/signing-key-option.ts';
import { buildDatasetManifest, serializeDatasetManifest } from '../../src/dataset/manifest.ts';
import { runTrainingWithProvenance } from '../../src/emit/training-run.ts';
import { inspectIdentityToken, keylessBlobBundle, keylessConfig } from '../../src/sign/keyless.ts';
import { verifyBundle } from '../../src/sigstore/bundle.ts';
import { loadTrustedRootFile } from '../../src/sigstore/trust.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO, runCli, type CliResult } from '../helpers/run-cli.ts';
import { startSigstoreServices } from '../helpers/sigstore-services.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-keyless-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const ALICE = 'alice@example.com';
const WORKFLOW = 'https://github.com/acme/train/.github/workflows/release.yml@refs/heads/main';

const services = await startSigstoreServices();
t.teardown(() => services.close());
const root = join(dir, 'trusted_root.json');
writeFileSync(root, services.trustedRootJson);
const urls = ['--fulcio-url', services.fulcioUrl, '--rekor-url', services.rekorUrl];

/** The CLI with SIGSTORE_ID_TOKEN (and any extra variables); asserts the token never shows. */
async function cli(t: Test, args: string[], token: string | undefined, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.SIGSTORE_ID_TOKEN;
  for (const name of ['MODELGATE_FULCIO_URL', 'MODELGATE_REKOR_URL', 'MODELGATE_TSA_URL']) if (!(name in extraEnv)) delete env[name];
  if (token !== undefined) env.SIGSTORE_ID_TOKEN = token;
  const result = await runCli(args, { cwd: dir, env });
  if (token !== undefined) t.notOk(result.stdout.includes(token) || result.stderr.includes(token), 'the identity token is never printed');
  return result;
}

t.test('token checks happen before any service is called', async (t) => {
  const token = services.token(ALICE);
  t.same(inspectIdentityToken(token), { issuer: services.issuer, subject: ALICE, expiresAt: inspectIdentityToken(token).expiresAt });
  t.throws(() => inspectIdentityToken('not-a-jwt'), { code: 'IDENTITY_TOKEN' });
  t.throws(() => inspectIdentityToken(services.token(ALICE, { expiresInSeconds: -60 })), { code: 'IDENTITY_TOKEN' }, 'expired');
  t.throws(() => keylessConfig({ env: {} }), { code: 'IDENTITY_TOKEN' }, 'no token');
  // The CLI's choice (cosign's rule): --key signs with the key, else keyless, which needs the token.
  const saved = process.env.SIGSTORE_ID_TOKEN;
  delete process.env.SIGSTORE_ID_TOKEN;
  t.teardown(() => {
    if (saved !== undefined) process.env.SIGSTORE_ID_TOKEN = saved;
  });
  await t.rejects(resolveBundleSigner({ keyless: true }), { code: 'IDENTITY_TOKEN', message: /needs an OIDC identity token in SIGSTORE_ID_TOKEN/ });
  await t.rejects(resolveBundleSigner({}), { code: 'USAGE', message: /give --key FILE, or sign keyless/ });
  await t.rejects(resolveBundleSigner({ key: 'k.pem', keyless: true }), { code: 'USAGE', message: /not both/ });
  process.env.SIGSTORE_ID_TOKEN = services.token(ALICE, { expiresInSeconds: -5 });
  await t.rejects(resolveBundleSigner({}), { code: 'IDENTITY_TOKEN', message: /expired/ }, 'an expired token fails before any work');
  process.env.SIGSTORE_ID_TOKEN = token;
  const signer = await resolveBundleSigner({ fulcioUrl: services.fulcioUrl, signingTimeout: '5000' });
  t.equal(signer.kind, 'keyless');
  if (signer.kind === 'keyless') t.same([signer.config.fulcioUrl, signer.config.timeoutMs], [services.fulcioUrl, 5000]);
  delete process.env.SIGSTORE_ID_TOKEN;
  const config = keylessConfig({ env: { SIGSTORE_ID_TOKEN: token } });
  t.equal(config.fulcioUrl, 'https://fulcio.sigstore.dev', 'public-good defaults');
  t.equal(config.rekorUrl, 'https://rekor.sigstore.dev');
  t.equal(config.tsaUrl, undefined, 'no TSA unless configured');
  const fromEnv = keylessConfig({ env: { SIGSTORE_ID_TOKEN: token, MODELGATE_FULCIO_URL: services.fulcioUrl, MODELGATE_TSA_URL: services.tsaUrl }, rekorUrl: services.rekorUrl });
  t.equal(fromEnv.fulcioUrl, services.fulcioUrl);
  t.equal(fromEnv.tsaUrl, services.tsaUrl);
});

t.test('keyless sign + attest attach, then modelgate verify by identity', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  const model = join(dir, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(1024, 3));
  writeFileSync(join(model, 'config.json'), '{"layers":1}');
  const pushed = await cli(t, ['push', model, `oci://${registry.host}/models/keyless:v1`], undefined);
  t.equal(pushed.code, 0, pushed.stderr);
  const pinned = `oci://${registry.host}/models/keyless@${pushed.stdout.trim()}`;
  writeFileSync(join(dir, 'predicate.json'), '{"note":"keyless"}');

  const token = services.token(WORKFLOW);
  const before = services.requests.rekor;
  // One writer at a time: two processes rewriting the referrers tag-schema index at once can lose an entry.
  const signed = await cli(t, ['sign', pinned, ...urls], token);
  // URLs from the environment this time, and --keyless spelled out.
  const attached = await cli(t, ['attest', 'attach', pinned, '--keyless', '--predicate', join(dir, 'predicate.json'), '--type', 'custom'], token, { MODELGATE_FULCIO_URL: services.fulcioUrl, MODELGATE_REKOR_URL: services.rekorUrl });
  t.equal(signed.code, 0, signed.stderr);
  t.equal(attached.code, 0, attached.stderr);
  t.match(signed.stderr, `Signing keyless as ${WORKFLOW}`);
  t.equal(services.requests.rekor - before, 2, 'one Rekor entry each');


  // The shipped default policy data, trusting one keyless identity and not requiring provenance.
  const defaults = JSON.parse(readFileSync(join(REPO, 'policies/data.json'), 'utf8'));
  let policies = 0;
  const policy = (issuer: string, san: string): string => {
    const path = join(dir, `policy-${(policies += 1)}.json`);
    const config = defaults.modelgate_config;
    const data = { modelgate_config: { ...config, signers: { ...config.signers, identities: { [issuer]: { [san]: {} } } }, provenance: { ...config.provenance, required: false } } };
    writeFileSync(path, JSON.stringify(data));
    return path;
  };
  const verify = (san: string): Promise<CliResult> =>
    cli(t, ['verify', pinned, '--data', policy(services.issuer, san), '--certificate-identity', san, '--certificate-oidc-issuer', services.issuer, '--trusted-root', root, '--output', 'json'], undefined);
  const [allowed, denied] = await Promise.all([verify(WORKFLOW), verify('https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main')]);
  const allowJson = JSON.parse(allowed.stdout) as { allow: boolean; reasons?: unknown[] };
  t.equal(allowed.code, 0, `${allowed.stdout}\n${allowed.stderr}`);
  t.equal(allowJson.allow, true, JSON.stringify(allowJson.reasons));
  const denyJson = JSON.parse(denied.stdout) as { allow: boolean };
  t.equal(denyJson.allow, false, 'another identity is not trusted by these signatures');
  t.not(denied.code, 0);
});

t.test('keyless dataset sign verifies with verify-bundle (tlog, SCT, TSA)', async (t) => {
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'a.txt'), 'alpha\n');
  const manifest = join(dir, 'dataset.json');
  writeFileSync(manifest, serializeDatasetManifest(await buildDatasetManifest(data)));
  const token = services.token(ALICE);
  const signed = await cli(t, ['dataset', 'sign', manifest, ...urls, '--tsa-url', services.tsaUrl], token);
  t.equal(signed.code, 0, signed.stderr);
  const bundle = JSON.parse(readFileSync(`${manifest}.sigstore.json`, 'utf8'));
  t.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.ok(bundle.verificationMaterial.certificate.rawBytes, 'leaf certificate, v0.3 style');
  t.equal(bundle.verificationMaterial.tlogEntries[0].kindVersion.kind, 'hashedrekord');
  t.ok(bundle.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope, 'inclusion proof with checkpoint');
  t.equal(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps.length, 1);

  const verify = (san: string): Promise<CliResult> =>
    cli(t, ['verify-bundle', manifest, '--bundle', `${manifest}.sigstore.json`, '--certificate-identity', san, '--certificate-oidc-issuer', services.issuer, '--trusted-root', root, '--tsa-threshold', '1', '--output', 'json'], undefined);
  const [good, wrong] = await Promise.all([verify(ALICE), verify('mallory@example.com')]);
  t.equal(good.code, 0, good.stderr);
  const report = JSON.parse(good.stdout) as { signer: { san: string }; verifiedTimes: { source: string }[] };
  t.equal(report.signer.san, ALICE);
  t.same(report.verifiedTimes.map((v) => v.source).sort(), ['tlog', 'tsa']);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /IDENTITY/);
});

t.test('keyless attest run: SLSA provenance signed by the workflow identity', async (t) => {
  const outputs = join(dir, 'run-out');
  const config = keylessConfig({ env: { SIGSTORE_ID_TOKEN: services.token(WORKFLOW) }, fulcioUrl: services.fulcioUrl, rekorUrl: services.rekorUrl, timeoutMs: 10_000 });
  const result = await runTrainingWithProvenance({
    command: [process.execPath, '-e', `require('fs').mkdirSync(${JSON.stringify(outputs)},{recursive:true});require('fs').writeFileSync(${JSON.stringify(join(outputs, 'w.bin'))},'w')`],
    outputsDir: outputs,
    signer: { kind: 'keyless', config },
    builderId: 'https://ci.acme.dev/builders/gpu@v1',
    sourceDir: dir,
  });
  t.equal(result.status, 'attested');
  if (result.status !== 'attested') return;
  const trust = await loadTrustedRootFile(root);
  const verified = await verifyBundle(readFileSync(result.bundlePath, 'utf8'), { trust, signer: { kind: 'identity', san: WORKFLOW, issuer: services.issuer } });
  t.equal(verified.content.kind === 'dsse' ? verified.content.statement?.predicateType : undefined, 'https://slsa.dev/provenance/v1');
  t.equal(verified.tlogEntries[0]?.kind, 'dsse', 'Rekor dsse entry');
});

t.test('deadline and TSA failure (in process)', async (t) => {
  const config = keylessConfig({ env: { SIGSTORE_ID_TOKEN: services.token(ALICE) }, fulcioUrl: services.fulcioUrl, rekorUrl: services.rekorUrl, tsaUrl: services.tsaUrl, timeoutMs: 1500 });
  services.failures.tsa = 500;
  await t.rejects(keylessBlobBundle(Buffer.from('x'), { ...config, timeoutMs: 20_000 }), { code: 'TSA', message: /timestamp authority at http:\/\/127\.0\.0\.1:\d+: error creating timestamp - \(500\)/ });
  delete services.failures.tsa;
  services.failures.rekor = 'hang';
  // Rekor hangs forever: only the deadline can end the call, so its ending with KEYLESS_TIMEOUT is the
  // deadline honoured (no upper bound on elapsed time: a loaded machine only makes it later).
  const started = performance.now();
  await t.rejects(keylessBlobBundle(Buffer.from('x'), config), { code: 'KEYLESS_TIMEOUT', message: /did not finish within 1500 ms/ });
  delete services.failures.rekor;
  t.ok(performance.now() - started >= 1490, 'gave up at the deadline, not before');
});

t.test('service failures: coded error, no output file', async (t) => {
  const manifest = join(dir, 'dataset.json');
  const token = services.token(ALICE);
  const out = (name: string): string => join(dir, `${name}.sigstore.json`);

  services.failures.rekor = 500;
  const rekorDown = await cli(t, ['dataset', 'sign', manifest, ...urls, '--bundle', out('rekor-500')], token);
  delete services.failures.rekor;
  t.equal(rekorDown.code, 2, rekorDown.stderr);
  t.match(rekorDown.stderr, /REKOR: Rekor at http:\/\/127\.0\.0\.1:\d+: .*500/);
  t.notOk(existsSync(out('rekor-500')));

  await services.stop('fulcio');
  const fulcioDown = await cli(t, ['dataset', 'sign', manifest, ...urls, '--bundle', out('fulcio-down'), '--signing-timeout', '10000'], token);
  t.equal(fulcioDown.code, 2, fulcioDown.stderr);
  t.match(fulcioDown.stderr, /FULCIO: Fulcio at http:\/\/127\.0\.0\.1:\d+: /);
  t.notOk(existsSync(out('fulcio-down')));
});
