// The OPA toolchain and bundles: the checksum-verified opa builds the bundle and runs `opa test`; a
// wrong opa binary is refused; a bundle whose wasm does not match its manifest is refused; tar and OCI
// (image layout) forms load the same bundle.
import { chmod, copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import * as tar from 'tar';
import { digestOf } from '../../src/oci/digest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { buildBundle, loadBundle, loadBundleFromStore, pushBundle, testPolicies } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { locateOpa, OPA_SHA256, sha256File } from '../../src/policy/opa.ts';
import { buildDefaultBundle, goodData, goodEvidence, POLICY_DIR } from './fixtures.ts';

const dir = t.testdir();
const built = await buildDefaultBundle(dir);

t.test('the bundle is built with the checksum-verified opa and opa test ran', async (t) => {
  const opa = await locateOpa();
  t.equal(opa.sha256, OPA_SHA256);
  t.equal(await sha256File(opa.path), OPA_SHA256);
  const { manifest } = built.bundle;
  t.equal(manifest.opa.sha256, OPA_SHA256);
  t.equal(manifest.opa.version, '0.70.0');
  t.ok(built.tests.passed >= 40, `opa test ran ${built.tests.passed} tests`);
  t.equal(built.tests.coverage, 100);
  t.equal(manifest.entrypoint, 'modelgate/decision');
  t.equal(manifest.sources['modelgate.rego'], digestOf(await readFile(join(POLICY_DIR, 'modelgate.rego'))));
  for (const name of ['policy.wasm', 'data.json'] as const) {
    const bytes = await readFile(join(built.outDir, name));
    t.equal(manifest.files[name].digest, digestOf(bytes), `${name} digest recorded`);
    t.equal(manifest.files[name].size, bytes.length);
  }
  t.equal(built.bundle.digest, digestOf(await readFile(join(built.outDir, 'manifest.json'))));
  t.same(JSON.parse(await readFile(join(built.outDir, 'data.json'), 'utf8')), JSON.parse(await readFile(join(POLICY_DIR, 'data.json'), 'utf8')));
});

t.test('the bundle is reproducible: the same sources in another directory build the same bytes', async (t) => {
  // opa writes the source paths it is given into policy.wasm; they must not be where the checkout lies.
  const elsewhere = join(dir, 'another', 'checkout', 'policies');
  await cp(POLICY_DIR, elsewhere, { recursive: true });
  const again = await buildBundle({ policyDir: elsewhere, outDir: join(dir, 'bundle-elsewhere') });
  t.equal(again.bundle.digest, built.bundle.digest, 'the same bundle digest');
  const wasm = await readFile(join(again.outDir, 'policy.wasm'));
  t.equal(digestOf(wasm), built.bundle.manifest.files['policy.wasm'].digest, 'the same policy.wasm');
  t.equal(wasm.indexOf(Buffer.from(dir)), -1, 'no build path inside policy.wasm');
});

t.test('a wrong opa binary is refused before use', async (t) => {
  const fake = join(dir, 'fake-opa');
  await writeFile(fake, '#!/bin/sh\necho "Version: 0.70.0"\n');
  await chmod(fake, 0o755);
  await t.rejects(locateOpa({ env: { OPA_BIN: fake } }), { code: 'OPA_CHECKSUM', message: /does not match the pinned/ });
  await t.rejects(locateOpa({ env: { OPA_BIN: join(dir, 'missing-opa') } }), { code: 'OPA_NOT_FOUND' });
  await t.rejects(locateOpa({ env: { OPA_BIN: fake, OPA_BIN_SHA256: 'nothex' } }), { code: 'OPA_CHECKSUM' });
  // A deliberate, explicit pin of another binary is accepted.
  const pinned = await locateOpa({ env: { OPA_BIN: fake, OPA_BIN_SHA256: await sha256File(fake) } });
  t.equal(pinned.path, fake);
  // A modified copy of the real binary is refused too.
  const real = await locateOpa();
  const tampered = join(dir, 'tampered-opa');
  await copyFile(real.path, tampered);
  await writeFile(tampered, Buffer.from([0]), { flag: 'a' });
  await t.rejects(locateOpa({ env: { OPA_BIN: tampered } }), { code: 'OPA_CHECKSUM' });
});

t.test('a bundle whose wasm does not match its manifest is refused', async (t) => {
  const bad = join(dir, 'bad-bundle');
  await cp(built.outDir, bad, { recursive: true });
  const wasm = await readFile(join(bad, 'policy.wasm'));
  wasm.writeUInt8(wasm.readUInt8(wasm.length - 1) ^ 0xff, wasm.length - 1); // same size, different bytes
  await writeFile(join(bad, 'policy.wasm'), wasm);
  await t.rejects(loadBundle(bad), { code: 'BUNDLE_DIGEST_MISMATCH', message: /policy\.wasm does not match its manifest/ });
  await t.rejects(PolicyEngine.load(bad), { code: 'BUNDLE_DIGEST_MISMATCH' });

  const dataBad = join(dir, 'data-bad');
  await cp(built.outDir, dataBad, { recursive: true });
  await writeFile(join(dataBad, 'data.json'), '{"modelgate_config":{}}');
  await t.rejects(loadBundle(dataBad), { code: 'BUNDLE_DIGEST_MISMATCH' });

  const noManifest = join(dir, 'no-manifest');
  await mkdir(noManifest);
  await copyFile(join(built.outDir, 'policy.wasm'), join(noManifest, 'policy.wasm'));
  await t.rejects(loadBundle(noManifest), { code: 'BUNDLE_INVALID', message: /manifest\.json missing/ });
});

t.test('tar archive and manifest.json paths load the same bundle', async (t) => {
  const archive = join(dir, 'bundle.tar.gz');
  await tar.c({ gzip: true, file: archive, cwd: built.outDir }, ['manifest.json', 'policy.wasm', 'data.json']);
  t.equal((await loadBundle(archive)).digest, built.bundle.digest);
  t.equal((await loadBundle(join(built.outDir, 'manifest.json'))).digest, built.bundle.digest);
  await t.rejects(loadBundle(join(built.outDir, 'policy.wasm')), { code: 'BUNDLE_INVALID' });
});

t.test('a bundle pushed to an OCI image layout loads back by digest', async (t) => {
  const store = new LayoutStore(join(dir, 'layout'), { create: true });
  const descriptor = await pushBundle(store, built.bundle, { tag: 'policy-v1' });
  const loaded = await loadBundleFromStore(store, descriptor.digest);
  t.equal(loaded.digest, built.bundle.digest);
  t.same(loaded.wasm, built.bundle.wasm);
  const engine = await PolicyEngine.fromStore(store, descriptor.digest, { data: goodData() });
  t.equal(engine.bundleDigest, built.bundle.digest);
  t.equal(engine.decide(goodEvidence()).allow, true);
});

t.test('failing Rego tests or low coverage stop the build', async (t) => {
  const broken = join(dir, 'broken-policies');
  await mkdir(broken);
  for (const name of ['modelgate.rego', 'modelgate_test.rego', 'data.json']) await copyFile(join(POLICY_DIR, name), join(broken, name));
  await writeFile(join(broken, 'extra_test.rego'), 'package extra_test\n\nimport rego.v1\n\ntest_fails if false\n');
  await t.rejects(testPolicies(broken), { code: 'OPA_FAILED', message: /test_fails/ });

  const uncovered = join(dir, 'uncovered-policies');
  await mkdir(uncovered);
  await writeFile(join(uncovered, 'p.rego'), 'package p\n\nimport rego.v1\n\na if input.x == 1\n\nb if input.y == 2\n');
  await writeFile(join(uncovered, 'p_test.rego'), 'package p_test\n\nimport rego.v1\n\ntest_a if data.p.a with input as {"x": 1}\n');
  await t.rejects(testPolicies(uncovered), { code: 'OPA_FAILED', message: /coverage/ });
  const report = await testPolicies(uncovered, { minCoverage: 50 });
  t.equal(report.passed, 1);
});
