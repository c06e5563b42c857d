// The admission webhook end to end: real AdmissionReview JSON posted over HTTPS to the real server,
// evidence in the real loopback registry (behind the fault proxy, which counts requests and stalls
// one repository). ModelPack models pushed, key-signed and attested as in test/pipeline/verify.test.ts.
// Covered: every KServe field gives allow / deny / warn with reasons; tag, unsigned, revoked, a
// registry that hangs and malformed bodies each get the right answer inside the deadline;
// single-flight and cache invalidation counted in registry requests; probes, metrics, logs, UPDATE,
// graceful shutdown finishing an in-flight review.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLogger } from '../../src/logging/logger.ts';
import { Agent, request } from 'undici';
import { DecisionCache } from '../../src/admission/decision-cache.ts';
import { AdmissionMetrics } from '../../src/admission/metrics.ts';
import { AdmissionReviewer, type AdmissionResponse } from '../../src/admission/review.ts';
import { fieldPathToPointer } from '../../src/admission/pin.ts';
import { WebhookServer } from '../../src/admission/server.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import type { ArtifactStore } from '../../src/oci/store.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { startRegistry } from '../helpers/registry.ts';
import { keyTrustPolicyData, pushSignedModel } from '../helpers/signed-models.ts';

const DEADLINE_MS = 4000;

const dir = mkdtempSync(join(tmpdir(), 'modelgate-webhook-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Fixtures, built once.

const registry = await startRegistry({ t });
const proxy = await startFaultProxy({ upstream: registry.url, rules: [{ path: /^\/v2\/models\/hang\//, fault: { kind: 'stall-before-headers' } }] });
t.teardown(() => proxy.stop());
const { privateKey: signingKey, publicKey: trustedKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pushModel = (store: ArtifactStore, name: string, opts: { tag?: string; signed?: boolean } = {}): Promise<Descriptor> => pushSignedModel(store, dir, name, signingKey, opts);
const policyData = (trusted: KeyObject, revoked: readonly string[] = []): unknown => keyTrustPolicyData(trusted, { revoked });

const llamaRepo = `${registry.host}/models/llama`;
const llama = openStore(parseReference(llamaRepo));
const good = await pushModel(llama, 'good', { tag: 'v1' });
const unsigned = await pushModel(llama, 'unsigned', { signed: false });
const fresh1 = await pushModel(openStore(parseReference(`${registry.host}/models/fresh1`)), 'fresh1');
const fresh2 = await pushModel(openStore(parseReference(`${registry.host}/models/fresh2`)), 'fresh2');
const fresh3 = await pushModel(openStore(parseReference(`${registry.host}/models/fresh3`)), 'fresh3');
await pushModel(openStore(parseReference(`${registry.host}/models/hang`)), 'hang');

const at = (repo: string, d: Descriptor): string => `oci://${proxy.host}/models/${repo}@${d.digest}`;
const GOOD = at('llama', good);
const UNSIGNED = at('llama', unsigned);

// Serving certificate for 127.0.0.1 (throw-away, self-signed).
function makeCert(certPath: string, keyPath: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=modelgate-webhook', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath], { stdio: 'pipe' });
}
const certPath = join(dir, 'tls.crt');
const keyPath = join(dir, 'tls.key');
makeCert(certPath, keyPath);
const dispatcher = new Agent({ connect: { ca: readFileSync(certPath, 'utf8') } });
t.teardown(() => dispatcher.close());

const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: policyData(trustedKey) });
const revokedEngine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: policyData(trustedKey, [fresh1.digest]) });

const logLines: Array<Record<string, unknown>> = [];
const logger = createLogger({ service: 'modelgate-webhook', write: (line) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
const metrics = new AdmissionMetrics();
const cache = new DecisionCache({ ttlMs: 60_000, negativeTtlMs: 1_000 });
const reviewer = new AdmissionReviewer({
  deps: { stores: storeProvider(), trust: KEYS_ONLY_TRUST, signers: { keys: [trustedKey], identities: [] }, engine, keyTlogThreshold: 0, timeoutMs: 5000, evidenceCache: new EvidenceCache() },
  modes: { default: 'enforce', namespaces: { dev: 'warn', lab: 'audit' } },
  cache,
  deadlineMs: DEADLINE_MS,
  onCacheLookup: (r) => metrics.cacheLookup(r),
});
const server = await WebhookServer.start({ tls: { certPath, keyPath, reloadIntervalMs: 0 }, host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, logger, metrics });
let closed = false;
t.teardown(async () => {
  if (!closed) await server.close();
});

// ---------------------------------------------------------------------------------------------
// Helpers

let uidCounter = 0;
interface ReviewOptions {
  kind?: string;
  namespace?: string;
  operation?: 'CREATE' | 'UPDATE';
  oldObject?: unknown;
  dryRun?: boolean;
  uid?: string;
}

function review(object: unknown, opts: ReviewOptions = {}): Record<string, unknown> {
  const kind = opts.kind ?? 'InferenceService';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? `uid-${++uidCounter}`,
      kind: { group: 'serving.kserve.io', version: kind === 'InferenceService' ? 'v1beta1' : 'v1alpha1', kind },
      resource: { group: 'serving.kserve.io', version: 'v1beta1', resource: `${kind.toLowerCase()}s` },
      namespace: opts.namespace ?? 'prod',
      name: 'sentiment',
      operation: opts.operation ?? 'CREATE',
      userInfo: { username: 'alice@acme.dev', groups: ['system:authenticated'] },
      object,
      ...(opts.oldObject !== undefined ? { oldObject: opts.oldObject } : {}),
      dryRun: opts.dryRun ?? false,
    },
  };
}

const isvc = (predictor: Record<string, unknown>, rest: Record<string, unknown> = {}) => ({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', spec: { predictor, ...rest } });

async function post(body: unknown, raw?: { payload: string; contentType?: string }, endpoint = 'validate'): Promise<{ status: number; json: Record<string, unknown>; ms: number }> {
  const started = Date.now();
  const res = await request(`${server.url}/${endpoint}`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': raw?.contentType ?? 'application/json' },
    body: raw?.payload ?? JSON.stringify(body),
    headersTimeout: 20_000,
    bodyTimeout: 20_000,
  });
  const json = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode, json, ms: Date.now() - started };
}

async function admit(body: Record<string, unknown>): Promise<AdmissionResponse & { ms: number }> {
  const { status, json, ms } = await post(body);
  if (status !== 200 || json['apiVersion'] !== 'admission.k8s.io/v1' || json['kind'] !== 'AdmissionReview') throw new Error(`status ${status}: ${JSON.stringify(json)}`);
  return { ...(json['response'] as AdmissionResponse), ms };
}

const reasonsOf = (r: AdmissionResponse): Array<{ field: string; code: string }> =>
  (JSON.parse(r.auditAnnotations['reasons'] ?? '[]') as Array<{ field: string; code: string }>).map(({ field, code }) => ({ field, code }));
const digestsOf = (r: AdmissionResponse): Record<string, string> => JSON.parse(r.auditAnnotations['digests'] ?? '{}') as Record<string, string>;

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url, { dispatcher, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, text: await res.body.text() };
}

// ---------------------------------------------------------------------------------------------

t.test('not ready until a reviewer (policy + trust) is installed; healthz always', async (t) => {
  t.equal((await get(`${server.url}/healthz`)).status, 200);
  t.equal((await get(`${server.url}/readyz`)).status, 503);
  t.equal((await get(`${server.metricsUrl}/readyz`)).status, 503);
  const early = await post(review(isvc({ model: { storageUri: GOOD } })));
  t.equal(early.status, 503);
  t.equal(early.json['code'], 'NOT_READY');
  server.setReviewer(reviewer);
  t.equal((await get(`${server.url}/readyz`)).status, 200);
  t.equal((await get(`${server.metricsUrl}/readyz`)).status, 200);
});

t.test('every KServe field: allowed when good, denied naming the field when not', async (t) => {
  const fields: Array<{ field: string; kind?: string; object: (uri: string) => unknown }> = [
    { field: 'spec.predictor.model.storageUri', object: (u) => isvc({ model: { modelFormat: { name: 'sklearn' }, storageUri: u } }) },
    { field: 'spec.predictor.sklearn.storageUri', object: (u) => isvc({ sklearn: { storageUri: u } }) },
    { field: 'spec.predictor.storageUris[0].uri', object: (u) => isvc({ storageUris: [{ uri: u, mountPath: '/mnt/models/a' }] }) },
    { field: 'spec.predictor.workerSpec.containers[0].env[0].value', object: (u) => isvc({ workerSpec: { containers: [{ name: 'worker-container', env: [{ name: 'STORAGE_URI', value: u }] }] } }) },
    { field: 'spec.predictor.containers[0].env[0].value', object: (u) => isvc({ containers: [{ name: 'kserve-container', env: [{ name: 'STORAGE_URI', value: u }] }] }) },
    { field: 'spec.transformer.storageUris[0].uri', object: (u) => isvc({}, { transformer: { storageUris: [{ uri: u }] } }) },
    { field: 'spec.explainer.art.storageUri', object: (u) => isvc({}, { explainer: { art: { storageUri: u } } }) },
    { field: 'spec.explainer.storageUris[0].uri', object: (u) => isvc({}, { explainer: { storageUris: [{ uri: u }] } }) },
    { field: 'spec.canary[0].predictor.model.storageUri', object: (u) => isvc({}, { canary: [{ trafficPercent: 10, predictor: { model: { storageUri: u } } }] }) },
    { field: 'spec.model.storageUri', kind: 'TrainedModel', object: (u) => ({ spec: { inferenceService: 'parent', model: { framework: 'sklearn', storageUri: u } } }) },
    { field: 'spec.model.uri', kind: 'LLMInferenceService', object: (u) => ({ spec: { model: { uri: u } } }) },
    { field: 'spec.model.lora.adapters[0].uri', kind: 'LLMInferenceService', object: (u) => ({ spec: { model: { lora: { adapters: [{ uri: u }] } } } }) },
  ];
  const run = (uri: string) => Promise.all(fields.map((f) => admit(review(f.object(uri), f.kind ? { kind: f.kind } : {}))));
  const allowed = await run(GOOD);
  const denied = await run(UNSIGNED);
  for (const [i, f] of fields.entries()) {
    const ok = allowed[i]!;
    t.equal(ok.allowed, true, `${f.field}: signed model allowed (${ok.auditAnnotations["reasons"]})`);
    t.same(digestsOf(ok), { [f.field]: good.digest }, `${f.field}: digest decided on is reported`);
    t.equal(ok.auditAnnotations['decision'], 'allow');
    const no = denied[i]!;
    t.equal(no.allowed, false, `${f.field}: unsigned model denied`);
    t.equal(no.status?.code, 403);
    t.match(no.status?.message, `${f.field} (${UNSIGNED}): `, `${f.field}: the message names the field and location`);
    t.match(no.status?.message, 'UNSIGNED: ');
    t.match(no.status?.message, 'to fix: sign the model');
    t.same(reasonsOf(no).map((r) => r.field), reasonsOf(no).map(() => f.field));
    t.ok(reasonsOf(no).some((r) => r.code === 'UNSIGNED'));
    t.same(digestsOf(no), { [f.field]: unsigned.digest });
  }
  // All of them in one object: every location decided and reported.
  const all = await admit(review(isvc({ model: { storageUri: GOOD }, storageUris: [{ uri: GOOD }] }, { transformer: { storageUris: [{ uri: UNSIGNED }] } })));
  t.equal(all.allowed, false);
  t.same(Object.keys(digestsOf(all)).sort(), ['spec.predictor.model.storageUri', 'spec.predictor.storageUris[0].uri', 'spec.transformer.storageUris[0].uri']);
  t.same([...new Set(reasonsOf(all).map((r) => r.field))], ['spec.transformer.storageUris[0].uri'], 'only the bad location is blamed');
});

t.test('modes: warn and audit admit with warnings / annotations; enforce denies', async (t) => {
  const object = isvc({ model: { storageUri: UNSIGNED } });
  const warn = await admit(review(object, { namespace: 'dev' }));
  t.equal(warn.allowed, true);
  t.equal(warn.status, undefined);
  t.match(warn.warnings?.join('\n'), /spec\.predictor\.model\.storageUri: UNSIGNED: /);
  t.equal(warn.auditAnnotations['mode'], 'warn');
  t.equal(warn.auditAnnotations['decision'], 'warn');
  const audit = await admit(review(object, { namespace: 'lab' }));
  t.equal(audit.allowed, true);
  t.equal(audit.warnings, undefined);
  t.equal(audit.auditAnnotations['decision'], 'audit');
  t.ok(reasonsOf(audit).some((r) => r.code === 'UNSIGNED'));
  const enforce = await admit(review(object, { namespace: 'prod' }));
  t.equal(enforce.allowed, false);
});

t.test('a tag, a non-OCI location, a malformed field, an unsupported kind', async (t) => {
  const [tag, s3, malformed, pod, del, indirect, initScheme] = await Promise.all([
    admit(review(isvc({ model: { storageUri: `oci://${proxy.host}/models/llama:v1` } }))),
    admit(review(isvc({ model: { storageUri: 's3://bucket/model' } }))),
    admit(review(isvc({ model: { storageUri: 7 } }))),
    admit(review({ spec: {} }, { kind: 'Pod' })),
    post({ ...review(isvc({ model: { storageUri: UNSIGNED } })), request: { ...(review(isvc({})).request as object), operation: 'DELETE' } }),
    admit(review(isvc({ model: { modelFormat: { name: 'sklearn' }, storage: { key: 'localMinIO', path: 'sklearn/model.joblib' } } }))),
    admit(review(isvc({ model: { storageUri: GOOD.replace(/^oci:\/\//, 'modelgate+oci://') } }))),
  ]);
  t.equal(tag.allowed, false);
  t.ok(reasonsOf(tag).some((r) => r.code === 'TAG_NOT_PINNED'));
  t.same(digestsOf(tag), { 'spec.predictor.model.storageUri': good.digest }, 'the tag is resolved once and the digest reported');
  t.match(tag.status?.message, 'pin the location by digest');
  t.equal(s3.allowed, false);
  t.ok(reasonsOf(s3).some((r) => r.code === 'UNVERIFIABLE_LOCATION'));
  t.equal(malformed.allowed, false);
  t.same(reasonsOf(malformed), [{ field: 'spec.predictor.model.storageUri', code: 'MALFORMED_LOCATION' }]);
  t.equal(pod.allowed, false);
  t.same(reasonsOf(pod), [{ field: 'kind', code: 'UNSUPPORTED_KIND' }]);
  t.equal((del.json['response'] as AdmissionResponse).allowed, true, 'DELETE loads no model');
  t.equal(indirect.allowed, false, 'a model named through a storage Secret is not admitted unseen');
  t.same(reasonsOf(indirect), [{ field: 'spec.predictor.model.storage', code: 'INDIRECT_LOCATION' }]);
  t.equal(initScheme.allowed, true, 'the init container scheme modelgate+oci:// is verified like oci://');
  t.same(digestsOf(initScheme), { 'spec.predictor.model.storageUri': good.digest });
});

t.test('UID echoed, dryRun decided the same, UPDATE marks unchanged locations and answers them from the cache', async (t) => {
  const object = isvc({ model: { storageUri: GOOD } });
  const dry = await admit(review(object, { uid: 'e3b0c442-98fc-1c14-9afb-f4c8996fb924', dryRun: true }));
  t.equal(dry.uid, 'e3b0c442-98fc-1c14-9afb-f4c8996fb924');
  t.equal(dry.allowed, true);
  const lines = logLines.length;
  const updated = isvc({ model: { storageUri: GOOD } }, { transformer: { storageUris: [{ uri: UNSIGNED }] } });
  const update = await admit(review(updated, { operation: 'UPDATE', oldObject: object }));
  t.equal(update.allowed, false, 'the decision covers every location, changed or not');
  // A second UPDATE: the unchanged predictor location is answered from the cache.
  const again = await admit(review(updated, { operation: 'UPDATE', oldObject: updated }));
  t.equal(again.allowed, false);
  const entries = logLines.slice(lines).filter((l) => l['operation'] === 'UPDATE');
  t.equal(entries.length, 2, 'one structured log line per review');
  t.equal((entries[1] as { locations: Array<{ changed: boolean }> }).locations.every((l) => !l.changed), true, 'nothing changed in the second update');
  const entry = entries[0] as { locations: Array<{ field: string; changed: boolean; cache: string; digest: string; codes: string[] }>; decision: string; uid: string; durationMs: number; resource: string };
  t.ok(entry, 'one structured log line per review');
  t.equal(entry.decision, 'deny');
  t.equal(entry.resource, 'InferenceService prod/sentiment');
  t.type(entry.durationMs, 'number');
  const predictor = entry.locations.find((l) => l.field === 'spec.predictor.model.storageUri')!;
  const transformer = entry.locations.find((l) => l.field === 'spec.transformer.storageUris[0].uri')!;
  t.equal(predictor.changed, false);
  t.equal((entries[1] as { locations: Array<{ field: string; cache: string }> }).locations.find((l) => l.field === 'spec.predictor.model.storageUri')!.cache, 'hit');
  t.equal(predictor.digest, good.digest);
  t.equal(transformer.changed, true);
  t.same(transformer.codes.includes('UNSIGNED'), true);
});

t.test('single-flight, warm cache and policy change, counted in registry requests', async (t) => {
  const requestsDuring = async (fn: () => Promise<unknown>): Promise<number> => {
    const before = proxy.requests.length;
    await fn();
    return proxy.requests.length - before;
  };
  const object = (d: Descriptor, repo: string) => isvc({ model: { storageUri: at(repo, d) } });
  const cold = await requestsDuring(() => admit(review(object(fresh2, 'fresh2'))));
  t.ok(cold >= 3, `one cold decision reads manifest and evidence (${cold} requests)`);
  let results: AdmissionResponse[] = [];
  const concurrent = await requestsDuring(async () => {
    results = await Promise.all(Array.from({ length: 8 }, () => admit(review(object(fresh1, 'fresh1')))));
  });
  t.equal(concurrent, cold, '8 concurrent reviews of one artifact cost one verification');
  t.ok(results.every((r) => r.allowed));
  const warm = await requestsDuring(async () => {
    const r = await admit(review(object(fresh1, 'fresh1')));
    t.equal(r.allowed, true);
  });
  t.equal(warm, 0, 'a warm decision asks the registry nothing');

  reviewer.setEngine(revokedEngine);
  const afterChange = await requestsDuring(async () => {
    const r = await admit(review(object(fresh1, 'fresh1')));
    t.equal(r.allowed, false, 'the new policy decides: no stale allow');
    t.ok(reasonsOf(r).some((x) => x.code === 'REVOKED_DIGEST'));
    t.match(r.status?.message, 'this model version is revoked');
  });
  t.ok(afterChange > 0 && afterChange < cold, `policy change misses the decision cache by key, evidence is reused (${afterChange} requests)`);
  reviewer.setEngine(engine);

  // The same new artifact used by four resources at once (different keys): one evidence discovery,
  // then each decision only resolves the manifest and finds the verified evidence cached.
  const spread = await requestsDuring(async () => {
    const answers = await Promise.all(['team-a', 'team-b', 'team-c', 'team-d'].map((namespace) => admit(review(object(fresh3, 'fresh3'), { namespace }))));
    t.ok(answers.every((r) => r.allowed));
  });
  t.equal(spread, cold + 3 * afterChange, `4 concurrent first sightings in different resources: one verification (${spread} requests)`);

  const metricsText = (await get(`${server.metricsUrl}/metrics`)).text;
  t.match(metricsText, /modelgate_admission_cache_lookups_total\{result="shared"\} [1-9]/);
  t.match(metricsText, /modelgate_admission_cache_lookups_total\{result="hit"\} [1-9]/);
  t.match(metricsText, /modelgate_admission_reviews_total\{decision="deny",mode="enforce"\} [1-9]/);
  t.match(metricsText, /modelgate_admission_review_duration_seconds_bucket/);
});

t.test('malformed bodies: 400 with a code, never a review', async (t) => {
  const notJson = await post(undefined, { payload: '{"apiVersion": ' });
  t.equal(notJson.status, 400);
  t.equal(notJson.json['code'], 'REVIEW_INVALID');
  const wrongVersion = await post({ ...review(isvc({})), apiVersion: 'admission.k8s.io/v1beta1' });
  t.equal(wrongVersion.status, 400);
  t.match(wrongVersion.json['message'], /apiVersion/);
  const noUid = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { group: '', version: 'v1', kind: 'InferenceService' }, operation: 'CREATE', userInfo: {} } });
  t.equal(noUid.status, 400);
  t.equal(noUid.json['code'], 'REVIEW_INVALID');
  const xml = await post(undefined, { payload: '<review/>', contentType: 'application/xml' });
  t.equal(xml.status, 415);
  t.equal(xml.json['code'], 'UNSUPPORTED_MEDIA_TYPE');
  const text = await post(undefined, { payload: 'hello', contentType: 'text/plain' });
  t.equal(text.status, 400, 'a plain-text body is not a review');
  const huge = await post(undefined, { payload: JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) }) });
  t.equal(huge.status, 413);
  t.equal(huge.json['code'], 'BODY_TOO_LARGE');
});

t.test('mutate: tags pinned to digests with a JSON Patch; the pinned object then validates', async (t) => {
  t.equal(fieldPathToPointer('spec.predictor.storageUris[0].uri'), '/spec/predictor/storageUris/0/uri');
  t.equal(fieldPathToPointer('spec.canary[1].predictor.containers[0].env[2].value'), '/spec/canary/1/predictor/containers/0/env/2/value');
  const tag = `oci://${proxy.host}/models/llama:v1`;
  const object = isvc({ model: { storageUri: tag }, storageUris: [{ uri: GOOD }] }, { transformer: { storageUris: [{ uri: 's3://b/t' }, { uri: `oci://${proxy.host}/models/llama:missing` }] } });
  const { status, json } = await post(review(object, { uid: 'mutate-1' }), undefined, 'mutate');
  t.equal(status, 200);
  const response = json['response'] as AdmissionResponse;
  t.equal(response.uid, 'mutate-1');
  t.equal(response.allowed, true);
  t.equal(response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(response.patch!, 'base64').toString()) as Array<{ op: string; path: string; value: string }>;
  t.same(patch, [{ op: 'replace', path: '/spec/predictor/model/storageUri', value: `${tag}@${good.digest}` }], 'only the tag is pinned; digests, s3 and unresolvable tags are left alone');
  t.match(response.warnings?.join('\n'), /spec\.transformer\.storageUris\[1\]\.uri: NOT_FOUND: /);
  const pinnedObject = isvc({ model: { storageUri: patch[0]!.value }, storageUris: [{ uri: GOOD }] });
  const validated = await admit(review(pinnedObject));
  t.equal(validated.allowed, true, 'tag@digest is pinned for the policy');
  t.same(digestsOf(validated), { 'spec.predictor.model.storageUri': good.digest, 'spec.predictor.storageUris[0].uri': good.digest });
});

t.test('the serving certificate is reloaded when its file changes', async (t) => {
  const rotDir = join(dir, 'rotate');
  mkdirSync(rotDir);
  const [cert, key] = [join(rotDir, 'tls.crt'), join(rotDir, 'tls.key')];
  makeCert(cert, key);
  const oldCa = readFileSync(cert, 'utf8');
  const rotating = await WebhookServer.start({ tls: { certPath: cert, keyPath: key, reloadIntervalMs: 50 }, host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, logger, metrics: new AdmissionMetrics() });
  t.teardown(() => rotating.close());
  const healthz = async (ca: string): Promise<number | string> => {
    const agent = new Agent({ connect: { ca } });
    try {
      return (await request(`${rotating.url}/healthz`, { dispatcher: agent, headersTimeout: 5000 })).statusCode;
    } catch (err) {
      return (err as { code?: string }).code ?? 'error';
    } finally {
      await agent.close();
    }
  };
  t.equal(await healthz(oldCa), 200);
  const [nextCert, nextKey] = [join(rotDir, 'next.crt'), join(rotDir, 'next.key')];
  makeCert(nextCert, nextKey);
  writeFileSync(key, readFileSync(nextKey));
  writeFileSync(cert, readFileSync(nextCert));
  const newCa = readFileSync(nextCert, 'utf8');
  while ((await healthz(newCa)) !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(await healthz(newCa), 200, 'the new certificate is served');
  t.not(await healthz(oldCa), 200, 'the old one is not');
  t.ok(logLines.some((l) => l['msg'] === 'serving certificate reloaded'));
});

t.test('a registry that hangs: denied inside the deadline naming the cause; shutdown finishes the in-flight review', async (t) => {
  const hanging = isvc({ model: { storageUri: `oci://${proxy.host}/models/hang@sha256:${'a'.repeat(64)}` } });
  // In flight while the server shuts down: the review is answered (inside the deadline), then the
  // server closes.
  const hangingBefore = proxy.count(undefined, /^\/v2\/models\/hang\//);
  const inFlight = admit(review(hanging));
  // Close only once the review is really in flight (its registry call reached the hanging registry):
  // a fixed sleep raced the request on a loaded machine.
  while (proxy.count(undefined, /^\/v2\/models\/hang\//) === hangingBefore) await new Promise((resolve) => setTimeout(resolve, 20));
  const closing = server.close();
  closed = true;
  const answer = await inFlight;
  t.equal(answer.allowed, false);
  // The registry hangs forever: an answer at all, DEADLINE_EXCEEDED, is the review deadline honoured.
  t.ok(answer.ms >= DEADLINE_MS - 10, `answered in ${answer.ms} ms, at the deadline (${DEADLINE_MS} ms)`);
  t.same(reasonsOf(answer).map((r) => r.code), ['DEADLINE_EXCEEDED'], 'the deadline is the cause, not a registry timeout racing it');
  t.match(answer.status?.message, 'the registry did not answer in time');
  // The review was answered (not reset) although close() had been called while it was in flight.
  await closing;
  t.pass('close finished after answering the in-flight review');
  t.equal(server.ready, false);
});
