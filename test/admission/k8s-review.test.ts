// The webhook reading Kubernetes during a review, against the fake Kubernetes API
// (test/helpers/fake-kube-api.ts) and the real registry with Basic auth:
//  - namespace-label modes: label → mode, invalid label → enforce + warning, the static map wins,
//    an unreadable namespace → enforce (never fail open), labels cached (counted API reads);
//  - pull secrets: with the service account's / the predictor's dockerconfigjson Secret the review is
//    allowed, without it denied with the registry's UNAUTHORIZED (the decision cache keys on the
//    credentials scope), an unreadable service account → K8S_FORBIDDEN deny, and the password is in
//    no log line.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { DecisionCache } from '../../src/admission/decision-cache.ts';
import { AdmissionMetrics } from '../../src/admission/metrics.ts';
import { AdmissionReviewer, type AdmissionMode, type AdmissionResponse } from '../../src/admission/review.ts';
import { WebhookServer } from '../../src/admission/server.ts';
import { KubeClient } from '../../src/k8s/client.ts';
import { NamespaceLabelModes } from '../../src/k8s/namespace-modes.ts';
import { KubePullSecrets } from '../../src/k8s/pull-secrets.ts';
import { ANONYMOUS, basicCredential, staticCredentials } from '../../src/oci/credentials.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { startFakeKubeApi } from '../helpers/fake-kube-api.ts';
import { startRegistry } from '../helpers/registry.ts';
import { keyTrustPolicyData, pushSignedModel } from '../helpers/signed-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-k8s-review-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const api = await startFakeKubeApi({ t });
const client = KubeClient.load({ kubeconfig: api.kubeconfig(), timeoutMs: 120_000 });
const registry = await startRegistry({ auth: 'basic', t });
const { privateKey: signingKey, publicKey: trustedKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pushCredentials = staticCredentials(registry.host, basicCredential(registry.username, registry.password));
const model = await pushSignedModel(openStore(parseReference(`${registry.host}/models/private`), { registry: { credentials: pushCredentials } }), dir, 'private', signingKey);
const PRIVATE = `oci://${registry.host}/models/private@${model.digest}`;

// ---------------------------------------------------------------------------------------------
// Kubernetes objects

const dockerconfigjson = (password: string): string =>
  Buffer.from(JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${password}`).toString('base64') } } })).toString('base64');
const pullSecret = (ns: string, name: string, password = registry.password) =>
  api.put('secrets', `${ns}/${name}`, { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name, namespace: ns }, data: { '.dockerconfigjson': dockerconfigjson(password) } });
const namespace = (name: string, labels: Record<string, string> = {}) => api.put('namespaces', name, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });

// team-a: the service account `runner` lists the pull secret.
api.put('serviceaccounts', 'team-a/runner', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'runner', namespace: 'team-a' }, imagePullSecrets: [{ name: 'regcred' }] });
pullSecret('team-a', 'regcred');
// team-b: a default service account without pull secrets.
api.put('serviceaccounts', 'team-b/default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'team-b' } });
// team-c: no service account object; the predictor names the secret (and one that does not exist).
pullSecret('team-c', 'direct');
// team-d: reading its service account is forbidden (fault below).
for (const [name, mode] of [['team-a'], ['team-b'], ['team-c'], ['team-d'], ['lab', 'audit'], ['dev', 'warn'], ['typo', 'enforcing'], ['pinned', 'warn'], ['broken', 'audit']] as const) {
  namespace(name, mode === undefined ? {} : { 'modelgate.dev/mode': mode });
}
api.fault = (r) => (r.path.startsWith('/api/v1/namespaces/team-d/serviceaccounts/') || r.path === '/api/v1/namespaces/broken' ? { status: 403, reason: 'Forbidden' } : undefined);

// ---------------------------------------------------------------------------------------------
// The webhook

const logLines: string[] = [];
const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, done) => done(void logLines.push(chunk.toString())) }));
const problem = (p: { namespace: string; code: string; message: string }): void => logger.warn(p, 'kubernetes lookup problem');

// Budgets no answer here should reach, loaded machine or not (nothing in this file hangs on purpose).
const registryOptions = { timeoutMs: 120_000 };
const base = { credentials: ANONYMOUS, scope: 'mounted:none', stores: storeProvider({ registry: { ...registryOptions, credentials: ANONYMOUS } }) };
const pullSecrets = new KubePullSecrets({ client, base, makeStores: (credentials) => storeProvider({ registry: { ...registryOptions, credentials } }), ttlMs: 30_000, onProblem: problem });
const modes = new NamespaceLabelModes({ client, ttlMs: 30_000, errorTtlMs: 100, onProblem: problem });
const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: keyTrustPolicyData(trustedKey) });
const reviewer = new AdmissionReviewer({
  deps: { stores: base.stores, trust: KEYS_ONLY_TRUST, signers: { keys: [trustedKey], identities: [] }, engine, keyTlogThreshold: 0, timeoutMs: 120_000, evidenceCache: new EvidenceCache() },
  modes: { default: 'enforce', namespaces: { pinned: 'audit' } },
  cache: new DecisionCache({ ttlMs: 60_000, negativeTtlMs: 1_000 }),
  deadlineMs: 180_000,
  credentialsScope: base.scope,
  namespaceModes: modes,
  reviewCredentials: pullSecrets,
});

const certPath = join(dir, 'tls.crt');
const keyPath = join(dir, 'tls.key');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=webhook', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath], { stdio: 'pipe' });
const dispatcher = new Agent({ connect: { ca: readFileSync(certPath, 'utf8') } });
t.teardown(() => dispatcher.close());
const server = await WebhookServer.start({ tls: { certPath, keyPath, reloadIntervalMs: 0 }, host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, logger, metrics: new AdmissionMetrics(), reviewer });
t.teardown(() => server.close());

let uid = 0;
async function admit(ns: string, predictor: Record<string, unknown>): Promise<AdmissionResponse & { codes: string[] }> {
  const body = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `k8s-${++uid}`,
      kind: { group: 'serving.kserve.io', version: 'v1beta1', kind: 'InferenceService' },
      namespace: ns,
      name: 'sentiment',
      operation: 'CREATE',
      userInfo: { username: 'alice@acme.dev' },
      object: { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'sentiment', namespace: ns }, spec: { predictor } },
    },
  };
  const res = await request(`${server.url}/validate`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), headersTimeout: 0, bodyTimeout: 0 });
  const json = (await res.body.json()) as { response: AdmissionResponse };
  const codes = (JSON.parse(json.response.auditAnnotations['reasons'] ?? '[]') as Array<{ code: string }>).map((r) => r.code);
  return { ...json.response, codes };
}

const S3 = { model: { modelFormat: { name: 'sklearn' }, storageUri: 's3://bucket/model' } }; // unverifiable: a problem in every namespace
const modeOf = (r: AdmissionResponse): AdmissionMode => r.auditAnnotations['mode'] as AdmissionMode;

t.test('namespace label modes; static map first; invalid or unreadable → enforce', async (t) => {
  const lab = await admit('lab', S3);
  t.equal(modeOf(lab), 'audit');
  t.equal(lab.allowed, true);
  const dev = await admit('dev', S3);
  t.equal(modeOf(dev), 'warn');
  t.equal(dev.allowed, true);
  t.ok((dev.warnings ?? []).some((w) => w.includes('UNVERIFIABLE_LOCATION')));
  const none = await admit('team-b', S3);
  t.equal(modeOf(none), 'enforce', 'no label: the global mode');
  t.equal(none.allowed, false);

  const typo = await admit('typo', S3);
  t.equal(modeOf(typo), 'enforce', 'invalid label value → enforce');
  t.equal(typo.allowed, false);
  t.ok(logLines.some((l) => l.includes('INVALID_MODE_LABEL') && l.includes('typo')), 'and a warning');

  const pinned = await admit('pinned', S3);
  t.equal(modeOf(pinned), 'audit', 'the static --namespace-mode map wins over the label (warn)');

  const broken = await admit('broken', S3);
  t.equal(modeOf(broken), 'enforce', 'label unreadable (403) → enforce, not the label audit');
  t.equal(broken.allowed, false);
  t.ok(logLines.some((l) => l.includes('K8S_FORBIDDEN') && l.includes('broken')));

  const reads = (ns: string): number => api.log.filter((r) => r.path === `/api/v1/namespaces/${ns}`).length;
  const before = reads('lab');
  await admit('lab', S3);
  await admit('lab', S3);
  t.equal(reads('lab'), before, 'labels are cached');
  t.equal(reads('pinned'), 0, 'a namespace in the static map is never read');
});

t.test('pull secrets: allowed with the namespace secret, UNAUTHORIZED without, password never logged', async (t) => {
  const withSecret = await admit('team-a', { serviceAccountName: 'runner', model: { modelFormat: { name: 'onnx' }, storageUri: PRIVATE } });
  t.equal(withSecret.allowed, true, `allowed through the service account's pull secret (${withSecret.codes.join(',')})`);

  const without = await admit('team-b', { model: { modelFormat: { name: 'onnx' }, storageUri: PRIVATE } });
  t.equal(without.allowed, false, 'same location, namespace without the secret: denied (the cache keys on the credentials scope)');
  t.same(without.codes, ['UNAUTHORIZED']);

  const direct = await admit('team-c', { imagePullSecrets: [{ name: 'gone' }, { name: 'direct' }], model: { modelFormat: { name: 'onnx' }, storageUri: PRIVATE } });
  t.equal(direct.allowed, true, `allowed through spec.predictor.imagePullSecrets (${direct.codes.join(',')})`);
  t.ok(logLines.some((l) => l.includes('PULL_SECRET_SKIPPED') && l.includes('team-c/gone')), 'a missing secret is skipped and reported');

  const forbidden = await admit('team-d', { model: { modelFormat: { name: 'onnx' }, storageUri: PRIVATE } });
  t.equal(forbidden.allowed, false, 'service account unreadable: denied');
  t.same(forbidden.codes, ['K8S_FORBIDDEN']);
  t.match(forbidden.status?.message ?? '', /K8S_FORBIDDEN.*RBAC/);

  const secretReads = api.log.filter((r) => r.path === '/api/v1/namespaces/team-a/secrets/regcred').length;
  await admit('team-a', { serviceAccountName: 'runner', model: { modelFormat: { name: 'onnx' }, storageUri: PRIVATE } });
  t.equal(api.log.filter((r) => r.path === '/api/v1/namespaces/team-a/secrets/regcred').length, secretReads, 'secrets are cached');

  const all = logLines.join('\n');
  t.notOk(all.includes(registry.password), 'the password is in no log line');
  t.notOk(all.includes(Buffer.from(`${registry.username}:${registry.password}`).toString('base64')), 'nor its base64 form');
  t.ok(logLines.length > 5);
});
