// The warm path of the admission reviewer: repeated reviews are answered from the decision cache
// without re-running the policy or asking the registry, and a cache hit is exactly the answer a fresh
// reviewer (empty cache) gives. Every part of the policy input except the evidence is in the key:
// changing one (namespace, name, field path, operation, user name / uid / groups, the location as
// written) costs one policy evaluation and one registry request (the model's manifest, checked to
// exist; its evidence comes from the evidence cache). The time the policy sees matters
// only through exception expiries, so a decision is not kept past the next one. Counted: policy
// evaluations (a counting wrapper around the real engine) and registry requests (the fault proxy).
// The reviewers and caches read a ManualClock: expiries are reached by moving it, never by waiting,
// so every assertion runs however slow the machine is.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DecisionCache, nextTimeBoundary, type CacheResult } from '../../src/admission/decision-cache.ts';
import { AdmissionReviewer, type AdmissionResponse } from '../../src/admission/review.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { startRegistry } from '../helpers/registry.ts';
import { keyTrustPolicyData, pushSignedModel } from '../helpers/signed-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-warm-cache-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const registry = await startRegistry({ t });
const proxy = await startFaultProxy({ upstream: registry.url });
t.teardown(() => proxy.stop());
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const models = openStore(parseReference(`${registry.host}/models/warm`));
const good = await pushSignedModel(models, dir, 'good', privateKey);
const unsigned = await pushSignedModel(models, dir, 'unsigned', privateKey, { signed: false });
const GOOD = `oci://${proxy.host}/models/warm@${good.digest}`;
const UNSIGNED = `oci://${proxy.host}/models/warm@${unsigned.digest}`;
// The same artifact written another way (KServe's modelcar spelling): the policy sees the location as written.
const UNSIGNED_NATIVE = `oci+native://${proxy.host}/models/warm@${unsigned.digest}`;

// An exception for the unsigned model (as written with oci://) that expires 15 s of the test clock
// later (the last test moves the clock to it), well inside the cache's 60 s TTL.
const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
const expiresAt = clock.now() + 15_000;
const expires = new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
const data = keyTrustPolicyData(publicKey, {
  exceptions: { 'warm-test': { uri: UNSIGNED, approvedBy: 'security@acme.dev', reason: 'warm-cache test', expires, waive: ['UNSIGNED', 'MISSING_PROVENANCE', 'INSUFFICIENT_SIGNATURES'] } },
});
const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data });

/** The real engine, with its evaluations counted. */
let evaluations = 0;
const countingEngine = new Proxy(engine, {
  get(target, property) {
    const value: unknown = Reflect.get(target, property, target);
    if (property === 'decide') return (...args: Parameters<PolicyEngine['decide']>) => (evaluations++, target.decide(...args));
    return typeof value === 'function' ? value.bind(target) : value;
  },
});

const deps = { stores: storeProvider(), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, keyTlogThreshold: 0, timeoutMs: 5_000 };
const lookups: CacheResult[] = [];
const reviewer = new AdmissionReviewer({
  deps: { ...deps, engine: countingEngine, evidenceCache: new EvidenceCache() },
  modes: { default: 'enforce' },
  cache: new DecisionCache({ ttlMs: 60_000, clock }),
  clock,
  onCacheLookup: (result) => lookups.push(result),
});
/** A reviewer with nothing cached: what a fresh evaluation answers. */
const fresh = (): AdmissionReviewer => new AdmissionReviewer({ deps: { ...deps, engine }, modes: { default: 'enforce' }, cache: new DecisionCache({ clock }), clock });

interface Variation {
  namespace?: string;
  name?: string;
  field?: 'model' | 'sklearn';
  operation?: 'CREATE' | 'UPDATE';
  username?: string;
  userUid?: string;
  groups?: string[];
  uri?: string;
}

let uids = 0;
function body(v: Variation = {}): { uid: string; review: unknown } {
  const uid = `uid-${++uids}`;
  const predictor = v.field === 'sklearn' ? { sklearn: { storageUri: v.uri ?? GOOD } } : { model: { modelFormat: { name: 'huggingface' }, storageUri: v.uri ?? GOOD } };
  const object = { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: v.name ?? 'sentiment' }, spec: { predictor } };
  return {
    uid,
    review: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid,
        kind: { group: 'serving.kserve.io', version: 'v1beta1', kind: 'InferenceService' },
        namespace: v.namespace ?? 'prod',
        name: v.name ?? 'sentiment',
        operation: v.operation ?? 'CREATE',
        userInfo: { username: v.username ?? 'alice@acme.dev', uid: v.userUid ?? 'u-1', groups: v.groups ?? ['ml-team'] },
        object,
        ...(v.operation === 'UPDATE' ? { oldObject: object } : {}),
      },
    },
  };
}

/** The response with the request UID blanked (the only part that differs between identical reviews). */
const withoutUid = (response: AdmissionResponse): string => JSON.stringify({ ...response, uid: '' });

async function answer(r: AdmissionReviewer, b: { review: unknown }): Promise<AdmissionResponse> {
  return (await r.review(b.review)).review.response;
}

t.test('repeated identical reviews: one policy evaluation, no registry requests, the same answer', async (t) => {
  const first = await answer(reviewer, body());
  t.equal(first.allowed, true, 'the signed model is allowed');
  t.equal(evaluations, 1);
  const registryAfterFirst = proxy.requests.length;
  t.ok(registryAfterFirst > 0, 'the first review read the registry');
  lookups.length = 0;
  for (let i = 0; i < 50; i++) {
    const b = body();
    const response = await answer(reviewer, b);
    t.equal(response.uid, b.uid, 'UID echoed');
    if (withoutUid(response) !== withoutUid(first)) t.fail(`review ${i} answered differently`);
  }
  t.equal(evaluations, 1, 'the policy ran once for 51 reviews');
  t.equal(proxy.requests.length, registryAfterFirst, 'no registry request after the first review');
  t.same([...new Set(lookups)], ['hit'], 'every later review was a cache hit');
  t.equal(withoutUid(await answer(fresh(), body())), withoutUid(first), 'a hit is byte for byte what a fresh evaluation answers');
});

t.test('each input the policy sees is part of the key: a change costs one evaluation, and no evidence is read again', async (t) => {
  const variations: Array<[string, Variation]> = [
    ['namespace', { namespace: 'staging' }],
    ['resource name', { name: 'sentiment-v2' }],
    ['field path', { field: 'sklearn' }],
    ['operation', { operation: 'UPDATE' }],
    ['user name', { username: 'bob@acme.dev' }],
    ['user uid', { userUid: 'u-2' }],
    ['user groups', { groups: ['ml-team', 'admins'] }],
  ];
  for (const [what, variation] of variations) {
    const before = { evaluations, registry: proxy.requests.length };
    const response = await answer(reviewer, body(variation));
    t.equal(evaluations, before.evaluations + 1, `${what}: the policy ran again`);
    const asked = proxy.requests.slice(before.registry).map((r) => `${r.method} ${r.path}`);
    t.same(asked, [`GET /v2/models/warm/manifests/${good.digest}`], `${what}: only the manifest was checked; the evidence came from the evidence cache`);
    t.equal(withoutUid(response), withoutUid(await answer(fresh(), body(variation))), `${what}: same answer as a fresh evaluation`);
    await answer(reviewer, body(variation));
    t.equal(evaluations, before.evaluations + 1, `${what}: the changed review is then cached under its own key`);
  }
});

t.test('the location as written is read by the policy: one digest, two spellings, two decisions', async (t) => {
  t.ok(clock.now() < expiresAt, 'the test clock is before the expiry');
  const asWritten = await answer(reviewer, body({ uri: UNSIGNED }));
  t.equal(asWritten.allowed, true, 'the exception for this spelling waives the missing signature');
  t.match(asWritten.warnings?.join('\n'), /EXCEPTION_APPLIED/);
  const before = evaluations;
  const otherSpelling = await answer(reviewer, body({ uri: UNSIGNED_NATIVE }));
  t.equal(evaluations, before + 1, 'the other spelling missed the cache');
  t.equal(otherSpelling.allowed, false, 'and is denied: the exception names the other spelling');
  t.match(otherSpelling.status?.message, /UNSIGNED/);
  t.equal(withoutUid(otherSpelling), withoutUid(await answer(fresh(), body({ uri: UNSIGNED_NATIVE }))));
});

t.test('a decision is not kept past the next exception expiry', async (t) => {
  t.equal(nextTimeBoundary(data, expiresAt - 1_000), expiresAt, 'the boundary is the exception expiry');
  t.equal(nextTimeBoundary(data, expiresAt), undefined, 'none after it');
  t.equal(nextTimeBoundary({ modelgate_config: { exceptions: {} } }, clock.now()), undefined);
  t.equal(nextTimeBoundary(null, clock.now()), undefined);

  const before = evaluations;
  t.equal((await answer(reviewer, body({ uri: UNSIGNED }))).allowed, true, 'still waived');
  t.equal(evaluations, before, 'answered from the cache');
  clock.set(expiresAt - 1);
  t.equal((await answer(reviewer, body({ uri: UNSIGNED }))).allowed, true, 'one millisecond before the expiry: still waived');
  t.equal(evaluations, before, 'and still answered from the cache');
  clock.set(expiresAt);
  const after = await answer(reviewer, body({ uri: UNSIGNED }));
  t.equal(evaluations, before + 1, 'after the expiry the policy ran again');
  t.equal(after.allowed, false, 'and the expired exception no longer waives');
  t.match(after.warnings?.join('\n') ?? after.auditAnnotations['reasons'], /EXCEPTION_EXPIRED/);
  t.equal(withoutUid(after), withoutUid(await answer(fresh(), body({ uri: UNSIGNED }))));
});
