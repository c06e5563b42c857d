// Model variants end to end against the real loopback registry (distribution 2.8: OCI image indexes,
// no referrers API, so every signature goes through the tag-schema fallback): `push --variant` builds
// an index of ModelPack manifests with per-variant annotations and platforms; `sign` on the index signs
// the index and every variant; the pipeline verifies the index and every variant a pod could select
// (all, or the one `#variant=NAME` names), denies naming the variant that failed, and policy data can
// restrict variant names; init selects a variant by the documented rule and pulls only that one.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pinLocations } from '../../src/admission/pin.ts';
import { decisionToJson } from '../../src/cli/verify.ts';
import { explainReference } from '../../src/explain/collect.ts';
import { outlineOf } from '../../src/explain/outline.ts';
import { renderTree } from '../../src/explain/tree.ts';
import { initModel } from '../../src/init/pull.ts';
import { pushVariantIndex, selectVariant, VARIANT_ACCELERATOR_ANNOTATION, VARIANT_ANNOTATION, type Variant } from '../../src/modelpack/variants.ts';
import { MediaType, type Descriptor } from '../../src/oci/manifest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { decideArtifact, type ArtifactDecision, type PipelineDeps } from '../../src/pipeline/decide.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { startRegistry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';
import { keyTrustPolicyData, SLSA_V1, trainingProvenance } from '../helpers/signed-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-variants-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const registry = await startRegistry();
t.teardown(() => registry.stop());

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'signer.key');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
for (const name of ['fp16', 'int4', 'arm']) {
  mkdirSync(join(dir, name));
  writeFileSync(join(dir, name, 'model.safetensors'), `${name} weights`);
  writeFileSync(join(dir, name, 'config.json'), JSON.stringify({ quantisation: name }));
}

// The one fixture: a model index of three variants, pushed and signed through the CLI.
const repo = `${registry.host}/models/multi`;
const pushed = await runCli([
  'push', `oci://${repo}:v1`, '-o', 'json',
  '--variant', `fp16=${join(dir, 'fp16')}`, '--variant', `int4=${join(dir, 'int4')}`, '--variant', `arm=${join(dir, 'arm')}`,
  '--variant-platform', 'fp16=linux/amd64', '--variant-platform', 'int4=linux/amd64', '--variant-platform', 'arm=linux/arm64',
  '--variant-accelerator', 'fp16=nvidia', '--variant-annotation', 'int4:org.example.bits=4',
]);
const pushResult = JSON.parse(pushed.stdout || '{}') as { digest: Digest; variants: { name: string; digest: Digest }[] };
const index = pushResult.digest;
const variantDigest = Object.fromEntries((pushResult.variants ?? []).map((v) => [v.name, v.digest]));
const signed = await runCli(['sign', `oci://${repo}@${index}`, '--key', keyPath, '-o', 'json']);
const store = new RegistryStore({ registry: registry.host, repository: 'models/multi' }, { plainHttpRegistries: [registry.host] });
// Provenance for fp16 and int4 only: arm is signed but has none, so a policy requiring it denies arm.
for (const name of ['fp16', 'int4']) {
  const subject = await store.resolve(variantDigest[name]!);
  await attachBundle(store, subject, signStatementBundle([{ name: 'model', digest: subject.digest }], SLSA_V1, trainingProvenance(), privateKey));
}

const deps = async (extra: Record<string, unknown> = {}): Promise<PipelineDeps> => {
  const data = keyTrustPolicyData(publicKey) as { modelgate_config: Record<string, unknown> };
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: { modelgate_config: { ...data.modelgate_config, ...extra } } });
  return { stores: storeProvider(), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine };
};
const pipeline = await deps();
const decide = (location: string, d = pipeline): Promise<ArtifactDecision> => decideArtifact(location, { mode: 'cli' }, d);
const codes = (r: ArtifactDecision): string[] => (r.outcome === 'deny' ? r.decision.reasons.map((x) => x.code) : r.outcome === 'allow' ? [] : [r.failure.code]);

t.test('push --variant: an OCI index of ModelPack manifests with per-variant annotations; sign signs the index and each variant', async (t) => {
  t.equal(pushed.code, 0, pushed.stderr);
  const fetched = await store.fetchManifest('v1');
  t.equal(fetched.descriptor.digest, index, 'the tag names the index');
  if (fetched.manifest.kind !== 'index') throw new Error('not an index');
  t.equal(fetched.manifest.mediaType, MediaType.OCI_INDEX);
  t.match(fetched.manifest.manifests, [
    { digest: variantDigest.fp16, platform: { os: 'linux', architecture: 'amd64' }, annotations: { [VARIANT_ANNOTATION]: 'fp16', [VARIANT_ACCELERATOR_ANNOTATION]: 'nvidia' } },
    { digest: variantDigest.int4, platform: { os: 'linux', architecture: 'amd64' }, annotations: { [VARIANT_ANNOTATION]: 'int4', 'org.example.bits': '4' } },
    { digest: variantDigest.arm, platform: { os: 'linux', architecture: 'arm64' }, annotations: { [VARIANT_ANNOTATION]: 'arm' } },
  ]);
  const child = await store.fetchManifest(variantDigest.int4!);
  t.match(child.manifest, { kind: 'manifest', artifactType: 'application/vnd.cncf.model.manifest.v1+json' });

  t.equal(signed.code, 0, signed.stderr);
  const out = JSON.parse(signed.stdout) as { referrer: Digest; variants: { name: string; digest: Digest; referrer: Digest }[] };
  t.match(out.referrer, /^sha256:/);
  t.same(out.variants.map((v) => [v.name, v.digest]), [['fp16', variantDigest.fp16], ['int4', variantDigest.int4], ['arm', variantDigest.arm]]);
  // No referrers API on distribution 2.8: the fallback tag of each digest lists its signature.
  for (const digest of [index, ...Object.values(variantDigest)]) t.ok((await store.listTags()).includes(digest.replace(':', '-')), `fallback tag of ${digest}`);

  const bad = await runCli(['push', `oci://${repo}:v2`, '--variant', `int4=${join(dir, 'int4')}`, '--variant-platform', 'fp16=linux/amd64']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--variant-platform names variant "fp16", which no --variant gives/);
});

t.test('the index and every variant a pod could select are verified; a failing variant is named', async (t) => {
  const all = await decide(`oci://${repo}@${index}`);
  t.equal(all.outcome, 'deny');
  t.same(codes(all), ['MISSING_PROVENANCE'], 'arm has no provenance');
  if (all.outcome === 'deny') t.match(all.decision.reasons[0]!.message, `variant "arm" (${variantDigest.arm})`);
  t.equal(all.digest, index);
  t.same(all.variants?.map((v) => [v.name, v.outcome]), [['fp16', 'allow'], ['int4', 'allow'], ['arm', 'deny']]);

  const pinned = await decide(`oci://${repo}@${index}#variant=int4`);
  t.equal(pinned.outcome, 'allow', JSON.stringify(codes(pinned)));
  t.same(pinned.variants, [{ name: 'int4', digest: variantDigest.int4, outcome: 'allow' }], 'only the named variant is decided');
  t.match(decisionToJson('x', pinned), { allow: true, digest: index, variants: [{ name: 'int4', outcome: 'allow' }] }, 'verify -o json lists the variants');
  if (pinned.outcome === 'allow') t.match(pinned.evidence, { signers: [/^key sha256:/] }, 'the index itself is verified');

  const missing = await decide(`oci://${repo}@${index}#variant=int8`);
  t.equal(missing.outcome, 'invalid');
  t.same(codes(missing), ['VARIANT_NOT_FOUND']);
  if (missing.outcome === 'invalid') t.match(missing.failure.message, /no variant "int8"; it has fp16 \(linux\/amd64, nvidia\); int4/);

  const onManifest = await decide(`oci://${repo}@${variantDigest.int4}#variant=int4`);
  t.same(codes(onManifest), ['BAD_VARIANT'], 'a selector on a plain manifest is refused');
});

t.test('explain takes #variant= like verify and reports each variant decided', async (t) => {
  const pinned = await explainReference(`oci://${repo}@${index}#variant=int4`, pipeline);
  t.equal(pinned.report.verdict.outcome, 'allow');
  t.same(pinned.report.verdict.variants, [{ name: 'int4', digest: variantDigest.int4, outcome: 'allow' }], 'only the named variant');
  t.equal(pinned.report.digest, index, 'the report is of the index the selector is on');
  const all = await explainReference(`oci://${repo}@${index}`, pipeline);
  t.same(all.report.verdict.variants.map((v) => [v.name, v.outcome]), [['fp16', 'allow'], ['int4', 'allow'], ['arm', 'deny']]);
  const text = renderTree(outlineOf(all.report), { colour: false });
  t.match(text, /Variants decided/);
  t.match(text, new RegExp(`arm +DENY +${variantDigest.arm}`), 'the failing variant is named with its digest');
  const publicKeyPath = join(dir, 'signer.pub');
  writeFileSync(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }));
  const cli = await runCli(['explain', `oci://${repo}@${index}#variant=int8`, '--key', publicKeyPath]);
  t.not(cli.code, 0, 'an unknown variant is not explained as allowed');
  t.match(cli.stdout + cli.stderr, /VARIANT_NOT_FOUND/);
  t.notMatch(cli.stderr, /^\s+at /m, 'no stack trace');
});

t.test('an unsigned index is denied even when its variants are signed', async (t) => {
  const variants = await Promise.all(['fp16', 'int4'].map(async (name) => ({ name, manifest: await store.resolve(variantDigest[name]!) as Descriptor })));
  const unsigned = await pushVariantIndex(store, variants, { annotations: { 'org.example.copy': 'unsigned' } });
  const result = await decide(`oci://${repo}@${unsigned.digest}#variant=int4`);
  t.equal(result.outcome, 'deny');
  t.same(codes(result), ['UNSIGNED']);

  // An index that is no model index (a multi-platform image: no ModelPack artifactType, no variant
  // names) is still decided as one artifact, on its own evidence.
  const child = await store.resolve(variantDigest.int4!);
  const plain = await store.pushManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [{ mediaType: child.mediaType, digest: child.digest, size: child.size, platform: { os: 'linux', architecture: 'amd64' } }] })), MediaType.OCI_INDEX);
  const image = await decide(`oci://${repo}@${plain.digest}`);
  t.equal(image.variants, undefined);
  t.same(codes(image).sort(), ['MISSING_PROVENANCE', 'UNSIGNED']);
});

t.test('policy data variants.allowed restricts the variants a pod may select', async (t) => {
  const restricted = await deps({ variants: { allowed: { fp16: {} } } });
  const int4 = await decide(`oci://${repo}@${index}#variant=int4`, restricted);
  t.same(codes(int4), ['VARIANT_NOT_ALLOWED']);
  if (int4.outcome === 'deny') t.match(int4.decision.reasons[0]!.message, /^variant "int4" .*not in variants.allowed/);
  t.equal((await decide(`oci://${repo}@${index}#variant=fp16`, restricted)).outcome, 'allow');
});

t.test('init selects the variant (URI, then MODELGATE_VARIANT, then node platform and accelerator), verifies it and pulls only it', async (t) => {
  const run = async (uri: string, variant: NonNullable<Parameters<typeof initModel>[2]['variant']>, dest: string) => {
    const events: Record<string, unknown>[] = [];
    const outcome = await initModel(uri, join(dir, dest), { pipeline, cache: undefined, log: (e) => events.push(e), variant });
    return { outcome, chosen: events.find((e) => e.event === 'variant') };
  };
  const uri = `modelgate+oci://${repo}@${index}`;
  const gpu = { os: 'linux', architecture: 'amd64', accelerator: 'nvidia' };
  const cpu = { os: 'linux', architecture: 'amd64', accelerator: null };

  const onGpu = await run(uri, { node: gpu }, 'gpu');
  t.equal(onGpu.outcome.kind, 'published', JSON.stringify(onGpu.outcome));
  t.equal(onGpu.outcome.digest, variantDigest.fp16);
  t.match(onGpu.chosen, { name: 'fp16', rule: 'node platform and accelerator' });
  t.equal(readFileSync(join(dir, 'gpu', 'model.safetensors'), 'utf8'), 'fp16 weights');

  const onCpu = await run(uri, { node: cpu }, 'cpu');
  t.equal(onCpu.outcome.digest, variantDigest.int4, 'a variant needing an accelerator is not chosen without it');
  t.equal(readFileSync(join(dir, 'cpu', 'config.json'), 'utf8'), '{"quantisation":"int4"}');

  const byUri = await run(`${uri}#variant=int4`, { name: 'fp16', node: gpu }, 'uri');
  t.match(byUri.chosen, { name: 'int4', rule: 'storage URI' }, 'the URI wins over MODELGATE_VARIANT and the node');

  const byEnv = await run(uri, { name: 'arm', node: gpu }, 'env');
  t.match(byEnv.chosen, { name: 'arm', rule: 'MODELGATE_VARIANT' });
  t.match(byEnv.outcome, { kind: 'refused', exitCode: 1, reasons: [{ code: 'MISSING_PROVENANCE', message: /variant "arm"/ }] }, 'the selected variant is verified');

  const none = await run(uri, { node: { os: 'linux', architecture: 's390x', accelerator: null } }, 'none');
  t.match(none.outcome, { kind: 'refused', exitCode: 2, reasons: [{ code: 'VARIANT_NOT_SELECTED', message: /no variant runs on this node \(linux\/s390x, accelerator none\).*fp16 \(linux\/amd64, nvidia\); int4 \(linux\/amd64, no accelerator\); arm \(linux\/arm64/ }] });
});

t.test('selectVariant: the more specific accelerator match wins; a tie fails closed', async (t) => {
  const v = (name: string, platform: Variant['platform'], accelerator: string | null): Variant => ({ name, digest: `sha256:${'0'.repeat(64)}` as Digest, platform, accelerator, annotations: {} });
  const amd64 = { os: 'linux', architecture: 'amd64' };
  const node = { ...amd64, accelerator: 'nvidia' };
  t.equal(selectVariant([v('any', null, null), v('gpu', amd64, 'nvidia')], { node }, 'x').name, 'gpu');
  t.equal(selectVariant([v('any', null, null), v('tpu', null, 'tpu')], { node }, 'x').name, 'any');
  t.throws(() => selectVariant([v('a', amd64, null), v('b', null, null)], { node }, 'x'), { code: 'VARIANT_NOT_SELECTED', message: /2 variants fit this node .* a, b/ });
});

t.test('the mutating webhook pins a tagged index reference and keeps its #variant= selector', async (t) => {
  const isvc = { metadata: { name: 'multi', namespace: 'team-a' }, spec: { predictor: { model: { storageUri: `modelgate+oci://${repo}:v1#variant=int4` } } } };
  const pinned = await pinLocations('InferenceService', isvc, pipeline.stores, { timeoutMs: 30_000, signal: new AbortController().signal });
  t.same(pinned.problems, []);
  t.same(pinned.patch.map((p) => p.value), [`modelgate+oci://${repo}:v1@${index}#variant=int4`]);
});
