import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { basicCredential, staticCredentials } from '../../src/oci/credentials.ts';
import { digestOf, parseDigest } from '../../src/oci/digest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, type Descriptor } from '../../src/oci/manifest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import type { ArtifactStore } from '../../src/oci/store.ts';
import { cosignTag } from '../../src/oci/tag-schema.ts';
import { pushModelDirectory } from '../../src/modelpack/pack.ts';
import { loadLayout, startRegistry } from '../helpers/registry.ts';
import { openReference } from '../../src/cli/store-options.ts';
import { formatInspectTable, inspectReference, type InspectReport } from '../../src/cli/inspect.ts';

const REPO = join(import.meta.dirname, '../..');
const NODE = join(REPO, 'node_modules/.bin/node');
const CLI = join(REPO, 'src/cli/main.ts');
const VECTORS = join(REPO, '../shared/vectors');
const COSIGN_LAYOUT = join(VECTORS, 'slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch');
const COSIGN_IMAGE = parseDigest(readFileSync(join(VECTORS, 'slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch.digest'), 'utf8').trim());
const COSIGN_ATT = 'sha256:21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI with a clean environment: no inherited Docker config or credentials. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const home = join(t.testdirName, 'home');
  mkdirSync(home, { recursive: true });
  return new Promise((resolve) => {
    execFile(NODE, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: home, ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function writeModel(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{"hidden_size":4}');
  writeFileSync(join(dir, 'model.safetensors'), Buffer.alloc(70_000, 3));
  mkdirSync(join(dir, 'tok'));
  writeFileSync(join(dir, 'tok/tokenizer.json'), '{}');
}

/** A model, a Sigstore-bundle referrer and a cosign `.sig` tag, in any store. */
async function populate(store: ArtifactStore, modelDir: string): Promise<{ model: Descriptor; referrer: Descriptor; sig: Descriptor }> {
  const built = await pushModelDirectory(store, modelDir, { name: 'cli-test', tag: 'v1' });
  const model = built.manifest.descriptor;
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const bundle = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from('{"mediaType":"bundle"}'), mediaType: MediaType.SIGSTORE_BUNDLE_V03 });
  const referrerBytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: MediaType.SIGSTORE_BUNDLE_V03,
    config: EMPTY_DESCRIPTOR,
    layers: [bundle],
    subject: { mediaType: model.mediaType, digest: model.digest, size: model.size },
    annotations: { 'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1' },
  }));
  const referrer = await store.pushManifest(referrerBytes, MediaType.OCI_MANIFEST);
  const sigLayer = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from('{"critical":{}}'), mediaType: MediaType.COSIGN_SIMPLESIGNING });
  const sigBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: EMPTY_DESCRIPTOR, layers: [sigLayer] }));
  const sig = await store.pushManifest(sigBytes, MediaType.OCI_MANIFEST, { tag: cosignTag(model.digest, 'sig') });
  return { model, referrer, sig };
}

function checkReport(t: Test, report: Record<string, any>, expected: { model: Descriptor; referrer: Descriptor; sig: Descriptor }): void {
  t.equal(report.digest, expected.model.digest);
  t.equal(report.mediaType, MediaType.OCI_MANIFEST);
  t.equal(report.artifactType, 'application/vnd.cncf.model.manifest.v1+json');
  t.equal(report.config.mediaType, 'application/vnd.cncf.model.config.v1+json');
  t.same(report.layers.map((l: { path: string; mediaType: string }) => [l.path, l.mediaType]), [
    ['config.json', 'application/vnd.cncf.model.weight.config.v1.raw'],
    ['model.safetensors', 'application/vnd.cncf.model.weight.v1.raw'],
    ['tok/tokenizer.json', 'application/vnd.cncf.model.weight.config.v1.raw'],
  ]);
  t.equal(report.layers[1].size, 70_000);
  t.equal(report.layers[1].digest, digestOf(Buffer.alloc(70_000, 3)));
  t.equal(report.subject, null);
  t.same(report.referrers.map((r: Descriptor) => [r.digest, r.artifactType, r.annotations]), [
    [expected.referrer.digest, MediaType.SIGSTORE_BUNDLE_V03, { 'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1' }],
  ]);
  t.same(report.cosignTags, {
    sig: { tag: cosignTag(expected.model.digest, 'sig'), digest: expected.sig.digest },
    att: { tag: cosignTag(expected.model.digest, 'att'), digest: null },
    sbom: { tag: cosignTag(expected.model.digest, 'sbom'), digest: null },
  });
}

t.test('resolve and inspect an OCI image layout', async (t) => {
  const dir = t.testdir();
  writeModel(join(dir, 'model'));
  const layout = join(dir, 'layout');
  const expected = await populate(new LayoutStore(layout, { create: true }), join(dir, 'model'));

  // Each CLI start costs about a second of CPU, so only the JSON is produced by a subprocess; the
  // table is rendered in-process from that same report.
  const [byTag, json] = await Promise.all([
    cli(['resolve', `oci-layout://${layout}:v1`]),
    cli(['inspect', '--output', 'json', `oci-layout://${layout}:v1`]),
  ]);
  t.same(byTag, { code: 0, stdout: `${expected.model.digest}\n`, stderr: '' });

  t.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.equal(report.reference, `oci-layout://${layout}:v1@${expected.model.digest}`);
  checkReport(t, report, expected);

  const table = { stdout: formatInspectTable(report as InspectReport) };
  t.match(table.stdout, new RegExp(`^Digest +${expected.model.digest}$`, 'm'));
  t.match(table.stdout, /^Artifact type +application\/vnd\.cncf\.model\.manifest\.v1\+json$/m);
  t.match(table.stdout, /^Layers \(3, /m);
  t.match(table.stdout, /68\.4 KiB +application\/vnd\.cncf\.model\.weight\.v1\.raw +model\.safetensors$/m);
  t.match(table.stdout, new RegExp(`^  ${expected.referrer.digest} +application/vnd\\.dev\\.sigstore\\.bundle\\.v0\\.3\\+json +dev\\.sigstore\\.bundle\\.predicateType=https://slsa\\.dev/provenance/v1$`, 'm'));
  t.match(table.stdout, new RegExp(`^  ${cosignTag(expected.model.digest, 'sig')} +${expected.sig.digest}$`, 'm'));
  t.match(table.stdout, new RegExp(`^  ${cosignTag(expected.model.digest, 'att')} +absent$`, 'm'));
});

t.test('errors: unknown tag, tampered manifest, bad reference, not a layout', async (t) => {
  const dir = t.testdir();
  writeModel(join(dir, 'model'));
  const layout = join(dir, 'layout');
  const store = new LayoutStore(layout, { create: true });
  const { model } = await populate(store, join(dir, 'model'));

  // In-process (each CLI start costs a second of CPU): unknown tag, bad reference, not a layout, missing config.
  await t.rejects(store.resolve('nope'), { code: 'NOT_FOUND', message: /no manifest tagged "nope"/ });
  await t.rejects(openReference('oci://Bad Ref', {}), { code: 'BAD_REFERENCE' });
  const notLayout = await openReference(`oci-layout://${join(dir, 'model')}:v1`, {});
  await t.rejects(notLayout.store.resolve('v1'), { code: 'NOT_FOUND', message: /is not an OCI image layout/ });
  await t.rejects(openReference('oci://127.0.0.1:1/x:v1', { dockerConfig: join(dir, 'nope.json') }), { code: 'CONFIG', message: /docker config .*nope\.json does not exist/ });

  const path = store.blobPath(model.digest);
  writeFileSync(path, readFileSync(path, 'utf8').replace('tok/tokenizer.json', 'tok/tokenizer.jsoN'));
  const tampered = await cli(['resolve', `oci-layout://${layout}:v1`]);
  t.equal(tampered.code, 2);
  t.match(tampered.stderr, /^modelgate: DIGEST_MISMATCH: /);
  t.equal(tampered.stdout, '', 'no digest printed for tampered content');
});

t.test('the cosign save layout (real vector): inspect by digest finds the .att tag', async (t) => {
  const { ref, store } = await openReference(`oci-layout://${COSIGN_LAYOUT}@${COSIGN_IMAGE}`, {});
  const report = await inspectReference(store, ref);
  t.equal(report.mediaType, MediaType.OCI_INDEX);
  t.equal(report.manifests.length, 2);
  t.same(report.manifests.map((m: Descriptor) => m.platform), [{ architecture: 'amd64', os: 'linux' }, { architecture: 'unknown', os: 'unknown' }]);
  t.same(report.cosignTags.att, { tag: cosignTag(COSIGN_IMAGE, 'att'), digest: COSIGN_ATT });
  t.equal(report.cosignTags.sig.digest, null);
  const table = formatInspectTable(report);
  t.match(table, /^Manifests \(2\)$/m);
  t.match(table, /linux\/amd64 +application\/vnd\.oci\.image\.manifest\.v1\+json$/m);
  t.notMatch(table, /^Layers/m, 'an index has no layers section');
});

t.test('resolve and inspect against a real registry with Basic auth and a docker config (model and the cosign vector)', async (t) => {
  const registry = await startRegistry({ auth: 'basic', t });
  const dir = t.testdir();
  writeModel(join(dir, 'model'));
  const credentials = staticCredentials(registry.host, basicCredential(registry.username, registry.password));
  const store = new RegistryStore({ registry: registry.host, repository: 'models/cli-test' }, { credentials });
  const expected = await populate(store, join(dir, 'model'));
  const ref = `oci://${registry.host}/models/cli-test:v1`;

  const config = join(dir, 'docker-config.json');
  const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
  writeFileSync(config, JSON.stringify({ auths: { [`http://${registry.host}`]: { auth } } }));
  mkdirSync(join(dir, 'dockerdir'));
  writeFileSync(join(dir, 'dockerdir/config.json'), readFileSync(config));
  // The cosign vector (image index + legacy .att manifest) in a second repository of the same registry.
  const slsa = new RegistryStore({ registry: registry.host, repository: 'slsa/example' }, { credentials });
  await loadLayout(slsa, COSIGN_LAYOUT, {
    tagFor: (entry) => (entry.annotations?.kind === 'dev.cosignproject.cosign/atts' ? cosignTag(COSIGN_IMAGE, 'att') : 'latest'),
  });

  const [resolved, anonymous, json] = await Promise.all([
    cli(['resolve', '--docker-config', config, `${registry.host}/models/cli-test@${expected.model.digest}`]),
    cli(['resolve', ref]),
    cli(['inspect', '--output', 'json', ref], { DOCKER_CONFIG: join(dir, 'dockerdir') }),
  ]);
  t.same(resolved, { code: 0, stdout: `${expected.model.digest}\n`, stderr: '' });
  t.equal(anonymous.code, 2);
  t.match(anonymous.stderr, /^modelgate: UNAUTHORIZED: /);
  t.notMatch(anonymous.stderr + resolved.stderr, registry.password, 'password never printed');

  const opened = await openReference(`oci://${registry.host}/slsa/example:latest`, { dockerConfig: config });
  const cosignReport = await inspectReference(opened.store, opened.ref);
  t.equal(cosignReport.digest, COSIGN_IMAGE, 'tag resolves to the signed image index');
  t.same(cosignReport.cosignTags.att, { tag: cosignTag(COSIGN_IMAGE, 'att'), digest: COSIGN_ATT });
  t.same(cosignReport.referrers, []);

  // Succeeds only with credentials (the anonymous call above is refused): $DOCKER_CONFIG/config.json is the default.
  t.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.equal(report.reference, `${registry.host}/models/cli-test:v1@${expected.model.digest}`);
  checkReport(t, report, expected);
});
