// One manifest fetch per digest, shared by every decision key: 200 concurrent reviews from 200
// different InferenceServices (200 decision keys) naming one new digest-pinned model read its
// manifest from the real registry (behind the counting fault proxy) at most a few times, and are all
// allowed. A failed fetch is shared too, but only for the negative TTL (moved on an injected clock):
// after it the registry is asked again. Tags are never cached.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DecisionCache } from '../../src/admission/decision-cache.ts';
import { AdmissionReviewer } from '../../src/admission/review.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { decideArtifact, type PipelineDeps } from '../../src/pipeline/decide.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { ManifestCache } from '../../src/pipeline/manifest-cache.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { admissionReview } from '../helpers/webhook-process.ts';
import { startRegistry } from '../helpers/registry.ts';
import { keyTrustPolicyData, pushSignedModel } from '../helpers/signed-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-manifest-sharing-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const registry = await startRegistry({ t });
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const popular = await pushSignedModel(openStore(parseReference(`${registry.host}/models/popular`)), dir, 'popular', privateKey, { tag: 'v1' });
const flaky = await pushSignedModel(openStore(parseReference(`${registry.host}/models/flaky`)), dir, 'flaky', privateKey);
// The first three GETs of the flaky model's manifest fail (one call: the client's first try and two retries).
const proxy = await startFaultProxy({ upstream: registry.url, rules: [{ method: 'GET', path: new RegExp(`^/v2/models/flaky/manifests/${flaky.digest}$`), nth: [1, 2, 3], fault: { kind: 'status', status: 503 } }] });
t.teardown(() => proxy.stop());

const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: keyTrustPolicyData(publicKey) });
const baseDeps = { stores: storeProvider(), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, keyTlogThreshold: 0, timeoutMs: 10_000 };

t.test('200 concurrent reviews under 200 decision keys fetch the manifest of one digest at most 3 times', async (t) => {
  const manifestCache = new ManifestCache();
  const reviewer = new AdmissionReviewer({
    deps: { ...baseDeps, evidenceCache: new EvidenceCache(), manifestCache },
    modes: { default: 'enforce' },
    cache: new DecisionCache(),
    deadlineMs: 60_000, // 200 decisions on a shared 2-core machine: the deadline is not what is tested here
  });
  const location = `oci://${proxy.host}/models/popular@${popular.digest}`;
  const reviews = Array.from({ length: 200 }, (_, i) => admissionReview('prod', location, `sentiment-${i}`));
  const results = await Promise.all(reviews.map((r) => reviewer.review(r)));
  const denied = results.filter((r) => !r.review.response.allowed);
  t.equal(denied.length, 0, `all 200 allowed${denied[0] ? ` (first denial: ${denied[0].review.response.status?.message})` : ''}`);
  t.same(new Set(results.map((r) => r.summary.verdicts[0]?.cache)), new Set(['miss']), '200 distinct decision keys (no decision was shared)');
  // Without the shared cache: 202 GETs of manifests by digest (the subject's once per decision key, plus the evidence's).
  const byDigest = proxy.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v2/models/popular/manifests/sha256:'));
  t.ok(byDigest.length <= 3, `manifest GETs by digest: ${byDigest.length} (at most 3: the subject's and its signature's and attestation's)`);
  t.equal(byDigest.filter((r) => r.path === `/v2/models/popular/manifests/${popular.digest}`).length, 1, 'the subject manifest was read once');
  t.equal(manifestCache.fetches, byDigest.length, 'every manifest read by digest went through the shared cache');
  const paths = proxy.requests.filter((r) => r.path.startsWith('/v2/models/popular/')).map((r) => `${r.method} ${r.path}`);
  t.same(paths, [...new Set(paths)], `no registry request was made twice: the 200 reviews cost one cold decision (${paths.length} requests)`);

  // A tag is resolved by every decision (never cached by digest), even with the cache.
  const tagGets = (): number => proxy.requests.filter((r) => r.path === '/v2/models/popular/manifests/v1').length;
  const tagged = { ...baseDeps, manifestCache };
  const before = tagGets();
  t.equal((await decideArtifact(`oci://${proxy.host}/models/popular:v1`, { mode: 'cli' }, tagged)).digest, popular.digest);
  t.equal((await decideArtifact(`oci://${proxy.host}/models/popular:v1`, { mode: 'cli' }, tagged)).digest, popular.digest);
  t.equal(tagGets(), before + 2, 'the tag was asked for by each decision');
});

t.test('a failed fetch is shared only for the negative TTL', async (t) => {
  const clock = new ManualClock();
  const manifestCache = new ManifestCache({ negativeTtlMs: 1_000, clock });
  const deps: PipelineDeps = { ...baseDeps, manifestCache };
  const location = `oci://${proxy.host}/models/flaky@${flaky.digest}`;
  const subjectGets = (): number => proxy.requests.filter((r) => r.method === 'GET' && r.path === `/v2/models/flaky/manifests/${flaky.digest}`).length;

  const first = await decideArtifact(location, { mode: 'cli' }, deps);
  t.equal(first.outcome, 'unavailable', 'the registry failed (503 three times)');
  t.equal(first.outcome === 'unavailable' && first.failure.code, 'REGISTRY_ERROR');
  const afterFailure = subjectGets();
  t.equal(afterFailure, 3, 'one call: the first try and two retries');

  clock.advance(999);
  const second = await decideArtifact(location, { mode: 'cli' }, deps);
  t.equal(second.outcome, 'unavailable', 'within the negative TTL the failure is shared');
  t.equal(subjectGets(), afterFailure, 'without asking the registry');

  clock.advance(2);
  const third = await decideArtifact(location, { mode: 'cli' }, deps);
  t.equal(subjectGets(), afterFailure + 1, 'after the negative TTL the registry is asked again');
  t.equal(third.outcome, 'allow', 'and the model, now readable, is allowed');

  const fourth = await decideArtifact(location, { mode: 'cli' }, deps);
  t.equal(fourth.outcome, 'allow');
  t.equal(subjectGets(), afterFailure + 1, 'the good manifest is kept');
});

t.test('a caller whose deadline passes stops waiting without failing the others', async (t) => {
  const manifestCache = new ManifestCache();
  const store = openStore(parseReference(`${proxy.host}/models/popular`));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  // The shared fetch: the real registry read, held until the impatient caller has given up.
  const fetch = async () => {
    await gate;
    return store.fetchManifest(popular.digest, { timeoutMs: 10_000 });
  };
  const impatient = new AbortController();
  const first = manifestCache.get('popular', popular.digest, fetch, impatient.signal);
  const second = manifestCache.get('popular', popular.digest, fetch);
  impatient.abort();
  await t.rejects(first, { code: 'ABORTED' });
  release();
  t.equal((await second).descriptor.digest, popular.digest, 'the other caller gets the manifest');
  t.equal(manifestCache.fetches, 1, 'from one fetch');
  t.equal((await manifestCache.get('popular', popular.digest, fetch)).descriptor.digest, popular.digest, 'and it is kept');
  t.equal(manifestCache.fetches, 1);
});
