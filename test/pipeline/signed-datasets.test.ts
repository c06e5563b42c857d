// Signed datasets at the gate (policy data datasets.requireSignature): against the real registry,
// behind the counting fault proxy, a model whose provenance names a dataset pushed with the
// training side's own code (`dataset push`'s artifact, attested by `dataset attest`'s predicate) is
// allowed only when that dataset artifact — fetched by the digest the provenance names — carries a
// verified signature or attestation by a trusted signer: unsigned → DATASET_UNSIGNED naming the
// dataset; signed by another key → DATASET_UNSIGNED; not in the registry, registry errors (503), or
// not an OCI location → DATASET_UNREACHABLE (fail closed). With the default data (false) nothing is
// fetched. 20 models sharing one dataset, decided concurrently with the webhook's caches, read the
// dataset's manifest and discover its evidence once.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DecisionCache } from '../../src/admission/decision-cache.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { datasetArtifact, pushDatasetArtifact } from '../../src/dataset/attestation-artifact.ts';
import { DATASET_PREDICATE_TYPE } from '../../src/dataset/attestation.ts';
import { buildDatasetManifest, serializeDatasetManifest } from '../../src/dataset/manifest.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { decideArtifact, type ArtifactDecision, type PipelineDeps } from '../../src/pipeline/decide.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { ManifestCache } from '../../src/pipeline/manifest-cache.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { startRegistry } from '../helpers/registry.ts';
import { keyTrustPolicyData, pushSignedModel, type NamedDataset } from '../helpers/signed-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-signed-datasets-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const registry = await startRegistry({ t });
const proxy = await startFaultProxy({ upstream: registry.url, rules: [{ method: 'GET', path: /^\/v2\/datasets\/flaky\/manifests\//, fault: { kind: 'status', status: 503 } }] });
t.teardown(() => proxy.stop());
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** A dataset manifest pushed as `dataset push` does, attested (`dataset attest`'s predicate) by `signedBy` unless null. */
async function pushDataset(name: string, signedBy: typeof privateKey | null): Promise<NamedDataset> {
  const data = join(dir, 'data', name);
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'part-0.jsonl'), `{"text":"${name}","label":1}\n`);
  const bytes = serializeDatasetManifest(await buildDatasetManifest(data));
  const store = openStore(parseReference(`${registry.host}/datasets/${name}`));
  const written = await pushDatasetArtifact(store, bytes, 'v1');
  if (signedBy !== null) {
    const artifact = datasetArtifact(bytes);
    const predicate = { manifest: { mediaType: artifact.layer.mediaType, digest: artifact.layer.digest } };
    await attachBundle(store, written, signStatementBundle([{ name: `${name}#oci-artifact`, digest: written.digest }], DATASET_PREDICATE_TYPE, predicate, signedBy));
  }
  return { uri: `oci://${proxy.host}/datasets/${name}`, digest: written.digest };
}

const [signed, unsigned, foreign, flaky] = await Promise.all([
  pushDataset('signed', privateKey),
  pushDataset('unsigned', null),
  pushDataset('foreign', stranger.privateKey),
  pushDataset('flaky', privateKey),
]);
const missing: NamedDataset = { uri: `oci://${proxy.host}/datasets/signed`, digest: `sha256:${'e'.repeat(64)}` };
const notOci: NamedDataset = { uri: 'https://data.acme.dev/reviews.tar', digest: `sha256:${'f'.repeat(64)}` };
const all = [signed, unsigned, foreign, flaky, missing, notOci];

/** A signed model whose signed provenance names `datasets`, located through the proxy. */
async function model(name: string, datasets: readonly NamedDataset[]): Promise<string> {
  const pushed = await pushSignedModel(openStore(parseReference(`${registry.host}/models/${name}`)), dir, name, privateKey, { datasets });
  return `oci://${proxy.host}/models/${name}@${pushed.digest}`;
}

const baseDeps = { stores: storeProvider(), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey, stranger.publicKey], identities: [] }, keyTlogThreshold: 0, timeoutMs: 10_000 };
const [requiring, defaults] = await Promise.all([
  PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: keyTrustPolicyData(publicKey, { datasets: all, requireDatasetSignature: true }) }),
  PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: keyTrustPolicyData(publicKey, { datasets: all }) }),
]);

const codes = (d: ArtifactDecision): string[] => (d.outcome === 'deny' ? d.decision.reasons.map((r) => r.code) : []);
const messages = (d: ArtifactDecision): string => (d.outcome === 'deny' ? d.decision.reasons.map((r) => `${r.code}: ${r.message}`).join('\n') : d.outcome);
const datasetGets = (name: string): number => proxy.requests.filter((r) => r.path.startsWith(`/v2/datasets/${name}/`)).length;

t.test('with datasets.requireSignature, each dataset the provenance names must be signed by a trusted signer', async (t) => {
  const [withSigned, withUnsigned, withForeign, withMissing, withFlaky, withNotOci, withBoth] = await Promise.all([
    model('m-signed', [signed]),
    model('m-unsigned', [unsigned]),
    model('m-foreign', [foreign]),
    model('m-missing', [missing]),
    model('m-flaky', [flaky]),
    model('m-not-oci', [notOci]),
    model('m-both', [signed, unsigned]),
  ]);
  const deps: PipelineDeps = { ...baseDeps, engine: requiring };
  const decide = (location: string): Promise<ArtifactDecision> => decideArtifact(location, { mode: 'admission' }, deps);

  const allowed = await decide(withSigned);
  t.equal(allowed.outcome, 'allow', messages(allowed));

  const denied = await decide(withUnsigned);
  t.same(codes(denied), ['DATASET_UNSIGNED'], messages(denied));
  t.match(messages(denied), `training dataset ${unsigned.uri}@${unsigned.digest} has no signature or attestation by a trusted signer (no signature or attestation found on it)`);

  const byStranger = await decide(withForeign);
  t.same(codes(byStranger), ['DATASET_UNSIGNED'], 'a verified signature by a signer the data does not trust');
  t.match(messages(byStranger), /signed only by key sha256:[0-9a-f]{64}, which policy data does not trust/);

  const notFound = await decide(withMissing);
  t.same(codes(notFound), ['DATASET_UNREACHABLE'], messages(notFound));
  t.match(messages(notFound), `${missing.uri}@${missing.digest} cannot be verified: NOT_FOUND`);

  const registryDown = await decide(withFlaky);
  t.same(codes(registryDown), ['DATASET_UNREACHABLE'], 'a registry error fails closed');
  t.match(messages(registryDown), /cannot be verified: REGISTRY_ERROR/);
  t.equal(registryDown.outcome === 'deny' && registryDown.transient, true, 'a deny resting on a 503 says it is transient');
  t.equal(notFound.outcome === 'deny' && notFound.transient, undefined, 'a deny resting on NOT_FOUND is settled');
  // The admission cache keeps the transient deny only as long as an unavailable registry (then asks again).
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const cache = new DecisionCache({ clock, ttlMs: 60_000, negativeTtlMs: 2_000 });
  let decisions = 0;
  const lookup = (decision: ArtifactDecision) => cache.get('k:' + decision.location, async () => (decisions++, { decision, changesAt: undefined }));
  await lookup(registryDown);
  await lookup(notFound);
  clock.advance(2_500);
  await lookup(registryDown);
  await lookup(notFound);
  t.equal(decisions, 3, 'after 2.5 s the transient deny is decided again, the settled one is still kept');

  const located = await decide(withNotOci);
  t.same(codes(located), ['DATASET_UNREACHABLE']);
  t.match(messages(located), `${notOci.uri} is not an OCI location`);

  const oneOfTwo = await decide(withBoth);
  t.same(codes(oneOfTwo), ['DATASET_UNSIGNED'], 'every dataset is checked');
  t.match(messages(oneOfTwo), unsigned.uri);
  t.notMatch(messages(oneOfTwo), `${signed.uri}@`);

  // The same models under the default data (requireSignature false): allowed, and no dataset is read.
  const before = datasetGets('unsigned');
  const lenient = await decideArtifact(withUnsigned, { mode: 'admission' }, { ...baseDeps, engine: defaults });
  t.equal(lenient.outcome, 'allow', `without datasets.requireSignature the unsigned dataset is not checked: ${messages(lenient)}`);
  t.equal(datasetGets('unsigned'), before, 'nothing was fetched');
});

t.test('20 models sharing one dataset, decided at once, verify it once per TTL (concurrent first checks joined)', async (t) => {
  // 20, not 100: more models only cost suite time (pushing them); the dataset check does not depend on their number.
  const locations = await Promise.all(Array.from({ length: 20 }, (_, i) => model(`shared-${i}`, [signed])));
  const deps: PipelineDeps = { ...baseDeps, engine: requiring, evidenceCache: new EvidenceCache(), manifestCache: new ManifestCache() };
  const before = proxy.requests.length;
  const results = await Promise.all(locations.map((location) => decideArtifact(location, { mode: 'admission' }, deps)));
  t.same(new Set(results.map((r) => r.outcome)), new Set(['allow']), messages(results.find((r) => r.outcome !== 'allow') ?? results[0]!));
  const datasetRequests = proxy.requests.slice(before).filter((r) => r.path.startsWith('/v2/datasets/signed/')).map((r) => `${r.method} ${r.path}`);
  t.ok(datasetRequests.length > 0, 'the dataset was read');
  t.same(datasetRequests, [...new Set(datasetRequests)], `no dataset request was made twice for 20 models (${datasetRequests.length} requests)`);
  t.equal(datasetRequests.filter((r) => r === `GET /v2/datasets/signed/manifests/${signed.digest}`).length, 1, 'its manifest was read once');

  const again = await decideArtifact(locations[0]!, { mode: 'admission' }, deps);
  t.equal(again.outcome, 'allow');
  t.equal(proxy.requests.slice(before).filter((r) => r.path.startsWith('/v2/datasets/signed/')).length, datasetRequests.length, 'a later decision is served from the caches');
});
