/**
 * charts/modelgate with the sha256-pinned helm v4 (test/helpers/helm.ts): `helm lint` and `helm template`
 * with the default values and with each non-default mode; every rendered object is validated against the
 * Kubernetes schemas (kubernetes-models, its cert-manager and prometheus-operator models) and KServe's
 * ClusterStorageContainer schema (test/fixtures), and the security settings are asserted. values.schema.json
 * refusing a bad value, and the README listing every value, are tested too.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import t from 'tap';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import * as k8sClient from '@kubernetes/client-node';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as admission from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import { validate as validateContainer } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Container';
import * as certManager from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { runHelm, type HelmResult } from '../helpers/helm.ts';
import { REPO } from '../helpers/run-cli.ts';

const CHART = join(REPO, 'charts/modelgate');
const NAMESPACE = 'modelgate-system';
const RELEASE = 'mg';
const FULLNAME = 'mg-modelgate';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
}

type Validator = (object: K8sObject) => void;
const model =
  (ctor: new (data: never) => { validate(): void }): Validator =>
  (object) => {
    const { apiVersion: _a, kind: _k, ...rest } = object;
    new ctor(rest as never).validate();
  };

const ajv = new Ajv({ allErrors: true, strict: false });
const cscSchema = ajv.compile(JSON.parse(await readFile(join(REPO, 'test/fixtures/kserve-clusterstoragecontainer.schema.json'), 'utf8')) as object);
const validateCsc: Validator = (object) => {
  if (!cscSchema(object)) throw new Error(`ClusterStorageContainer: ${ajv.errorsText(cscSchema.errors)}`);
  const container = (object.spec as { container: unknown }).container;
  if (!validateContainer(container)) throw new Error(`ClusterStorageContainer spec.container: ${JSON.stringify((validateContainer as { errors?: unknown }).errors)}`);
  const unknown = unknownFields(container, 'V1Container', 'spec.container');
  if (unknown.length > 0) throw new Error(`ClusterStorageContainer: unknown fields: ${unknown.join(', ')}`);
};

/**
 * kubernetes-models' schemas accept unknown fields (the API server would drop them, or refuse them under
 * strict field validation), so built-in kinds are also walked with @kubernetes/client-node's attribute
 * type maps: any field the API type does not have is reported with its path.
 */
type AttributeMap = Array<{ baseName: string; type: string }>;
const API_TYPES = k8sClient as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap } | undefined>;
function unknownFields(value: unknown, type: string, path: string): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array !== null) return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(item, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) return value !== null && typeof value === 'object' ? Object.entries(value).flatMap(([key, item]) => unknownFields(item, map[1]!, `${path}.${key}`)) : [];
  const attributes = API_TYPES[type]?.getAttributeTypeMap?.();
  if (attributes === undefined || value === null || typeof value !== 'object') return [];
  const known = new Map(attributes.map((attribute) => [attribute.baseName, attribute.type]));
  return Object.entries(value).flatMap(([key, item]) => (known.has(key) ? unknownFields(item, known.get(key)!, `${path}.${key}`) : [`${path}.${key}`]));
}
const strict =
  (validator: Validator): Validator =>
  (object) => {
    validator(object);
    const unknown = unknownFields(object, `V1${object.kind}`, object.kind);
    if (unknown.length > 0) throw new Error(`unknown fields: ${unknown.join(', ')}`);
  };

const VALIDATORS: Record<string, Validator> = {
  'v1/Secret': strict(model(core.Secret)),
  'v1/Service': strict(model(core.Service)),
  'v1/ServiceAccount': strict(model(core.ServiceAccount)),
  'v1/ConfigMap': strict(model(core.ConfigMap)),
  'apps/v1/Deployment': strict(model(apps.Deployment)),
  'policy/v1/PodDisruptionBudget': strict(model(policyV1.PodDisruptionBudget)),
  'rbac.authorization.k8s.io/v1/ClusterRole': strict(model(rbac.ClusterRole)),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': strict(model(rbac.ClusterRoleBinding)),
  'rbac.authorization.k8s.io/v1/Role': strict(model(rbac.Role)),
  'rbac.authorization.k8s.io/v1/RoleBinding': strict(model(rbac.RoleBinding)),
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': strict(model(admission.ValidatingWebhookConfiguration)),
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': strict(model(admission.MutatingWebhookConfiguration)),
  'networking.k8s.io/v1/NetworkPolicy': strict(model(networking.NetworkPolicy)),
  'cert-manager.io/v1/Issuer': model(certManager.Issuer),
  'cert-manager.io/v1/Certificate': model(certManager.Certificate),
  'monitoring.coreos.com/v1/ServiceMonitor': model(monitoring.ServiceMonitor),
  'serving.kserve.io/v1alpha1/ClusterStorageContainer': validateCsc,
};

const home = await mkdtemp(join(tmpdir(), 'modelgate-helm-'));
t.teardown(() => rm(home, { recursive: true, force: true }));

async function helm(args: readonly string[], values?: object): Promise<HelmResult> {
  const extra: string[] = [];
  if (values !== undefined) {
    const file = join(home, `values-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(values));
    extra.push('--values', file);
  }
  return runHelm([...args, ...extra], { home });
}

async function render(values?: object): Promise<K8sObject[]> {
  const result = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE], values);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

function find(objects: readonly K8sObject[], kind: string, name = FULLNAME): K8sObject | undefined {
  return objects.find((object) => object.kind === kind && object.metadata.name === name);
}

function must(objects: readonly K8sObject[], kind: string, name = FULLNAME): K8sObject {
  const object = find(objects, kind, name);
  if (object === undefined) throw new Error(`${kind}/${name} not rendered (have: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')})`);
  return object;
}

const PEM_KEY = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexample\n-----END PUBLIC KEY-----\n';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

const REAL_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const POLICY_DATA = JSON.parse(await readFile(join(REPO, 'policies/data.json'), 'utf8')) as object;

/** The value sets rendered and validated; each name says what it turns on. */
const VALUE_SETS: Record<string, object | undefined> = {
  default: undefined,
  'signer key and policy data': { signers: { keys: { release: REAL_KEY } }, policy: { data: POLICY_DATA } },
  'certManager, mutating on': { certificates: { mode: 'certManager' }, mutating: { enabled: true } },
  'certManager with a ClusterIssuer': { certificates: { mode: 'certManager', certManager: { issuerRef: { kind: 'ClusterIssuer', name: 'corp-ca', group: 'cert-manager.io' } } } },
  'webhook-managed TLS, namespace label, k8s pull secrets, mutating on': {
    certificates: { mode: 'webhook' },
    mutating: { enabled: true },
    webhook: { namespaceModeLabel: 'modelgate.dev/mode' },
    registry: { k8sPullSecrets: true },
  },
  'keys in Kubernetes Secrets': { signers: { keyRefs: ['k8s://signing/release-key', 'k8s://signing/ci-key', 'k8s://modelgate-system/backup-key'] }, storageInitializer: { enabled: false } },
  'serviceMonitor and networkPolicy on': { serviceMonitor: { enabled: true, labels: { release: 'prom' } }, networkPolicy: { enabled: true } },
  'keyless signers with a trust root, storage initializer with a node cache and a registry Secret': {
    signers: { keys: { release: REAL_KEY, backup: PEM_KEY }, identities: [{ identity: 'ci@acme.dev', issuer: 'https://issuer.acme.dev' }, { identity: 'release@acme.dev', issuer: 'https://issuer.acme.dev' }], keyTlogThreshold: 1 },
    policy: { data: POLICY_DATA },
    trust: { trustedRoot: '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' },
    registry: { plainHttp: ['registry.local:5000', 'mirror.local:5000'] },
    storageInitializer: { registrySecretName: 'model-registry', cache: { enabled: true } },
  },
  'image by digest, signers, data, trust root, bundle volume, registry secret': {
    image: { digest: DIGEST },
    signers: { keys: { release: PEM_KEY }, identities: [{ identity: 'https://github.com/acme/train/.github/workflows/t.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com' }] },
    // A bundle volume only without the storage initializer (model pods could not mount it).
    policy: { data: { trusted_builders: ['https://github.com/actions/runner'] }, bundleVolume: { configMap: { name: 'my-bundle' } } },
    storageInitializer: { enabled: false },
    trust: { trustedRoot: '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' },
    registry: { dockerConfigSecret: 'registry-creds', plainHttp: ['registry.local:5000'] },
    webhook: { namespaceModes: { dev: 'warn' }, mode: 'audit' },
    podAntiAffinity: 'hard',
  },
};

const rendered = new Map<string, K8sObject[]>();
for (const [name, values] of Object.entries(VALUE_SETS)) rendered.set(name, await render(values));
const get = (name: string): K8sObject[] => rendered.get(name)!;

// Lint each certificate mode and each optional object once (the other sets only change values that the
// rendering above already exercises).
const LINTED = ['default', 'certManager, mutating on', 'webhook-managed TLS, namespace label, k8s pull secrets, mutating on', 'serviceMonitor and networkPolicy on', 'image by digest, signers, data, trust root, bundle volume, registry secret'];
t.test('helm lint --strict passes with the default and the non-default value sets', async (t) => {
  const results = await Promise.all(LINTED.map((set) => helm(['lint', '--strict', CHART, '--namespace', NAMESPACE], VALUE_SETS[set])));
  for (const [i, result] of results.entries()) t.equal(result.code, 0, `lint ${LINTED[i]}: ${result.stdout}${result.stderr}`);
});

t.test('every rendered object validates against its Kubernetes / cert-manager / prometheus-operator / KServe schema', async (t) => {
  for (const [set, objects] of rendered) {
    for (const object of objects) {
      const key = `${object.apiVersion}/${object.kind}`;
      const validator = VALIDATORS[key];
      if (validator === undefined) {
        t.fail(`${set}: no schema for ${key} (${object.metadata.name})`);
        continue;
      }
      t.doesNotThrow(() => validator(object), `${set}: ${key} ${object.metadata.name}`);
      // signers.keyRefs: the Roles granting `get` on the key Secrets live in the Secrets' namespaces (checked in the RBAC test).
      const keyRole = ['Role', 'RoleBinding'].includes(object.kind) && object.metadata.name === `${FULLNAME}-keys`;
      if (!keyRole && !['ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ClusterStorageContainer'].includes(object.kind)) {
        t.equal(object.metadata.namespace, NAMESPACE, `${set}: ${object.kind} ${object.metadata.name} is namespaced to the release`);
      }
    }
  }
  // The validators do reject a broken object.
  t.throws(() => VALIDATORS['apps/v1/Deployment']!({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two' } }));
  t.throws(
    () => VALIDATORS['apps/v1/Deployment']!({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'a', readinesProbe: {} }] } } } }),
    /unknown fields: Deployment\.spec\.template\.spec\.containers\[0\]\.readinesProbe/,
  );
  t.throws(() => validateCsc({ apiVersion: 'serving.kserve.io/v1alpha1', kind: 'ClusterStorageContainer', metadata: { name: 'x' }, spec: { container: { name: 'storage-initializer' }, supportedUriFormat: [] } }));
});

interface PodSpec {
  replicas?: number;
  template: { spec: { securityContext: Record<string, unknown>; automountServiceAccountToken: boolean; affinity?: Record<string, unknown>; containers: Container[]; volumes: Array<Record<string, unknown>> } };
}
interface Container {
  image: string;
  args: string[];
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] }; seccompProfile: { type: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}

t.test('webhook Deployment: 2 replicas, anti-affinity, non-root, read-only root, seccomp, no escalation, probes, limits', async (t) => {
  for (const [set, objects] of rendered) {
    const deployment = must(objects, 'Deployment').spec as PodSpec;
    const pod = deployment.template.spec;
    const [container] = pod.containers;
    t.equal(deployment.replicas, 2, `${set}: replicas`);
    t.ok(pod.affinity?.podAntiAffinity, `${set}: pod anti-affinity`);
    t.equal(pod.securityContext.runAsNonRoot, true, `${set}: pod runAsNonRoot`);
    t.equal(pod.securityContext.runAsUser, 65532, `${set}: fixed uid`);
    t.same(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    t.match(container!.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false });
    t.same(container!.securityContext.capabilities.drop, ['ALL']);
    t.equal(container!.securityContext.seccompProfile.type, 'RuntimeDefault');
    t.ok(container!.resources.requests.cpu && container!.resources.requests.memory && container!.resources.limits.cpu && container!.resources.limits.memory, `${set}: requests and limits`);
    t.equal(container!.livenessProbe.httpGet.path, '/healthz');
    t.equal(container!.readinessProbe.httpGet.path, '/readyz');
    t.ok(container!.volumeMounts.some((m) => m.mountPath === '/tmp'), `${set}: writable /tmp`);
    t.ok(pod.volumes.some((v) => v.name === 'tmp' && 'emptyDir' in v), `${set}: /tmp is an emptyDir`);
    t.equal(container!.args[0], 'webhook');
    t.ok(container!.args.includes('--deadline=8000'), `${set}: the webhook's own deadline stays below the 10 s timeout`);
    const pdb = must(objects, 'PodDisruptionBudget');
    t.equal((pdb.spec as { minAvailable: number }).minAvailable, 1, `${set}: PDB keeps one webhook up`);
  }
  const [digestContainer] = (must(get('image by digest, signers, data, trust root, bundle volume, registry secret'), 'Deployment').spec as PodSpec).template.spec.containers;
  t.equal(digestContainer!.image, `ghcr.io/modelgate/modelgate@${DIGEST}`, 'image by digest only');
  t.match(digestContainer!.args, ['webhook', /--port=/]);
  for (const arg of [
    '--key=/etc/modelgate/keys/release.pem',
    '--data=/etc/modelgate/policy-data/data.json',
    '--trusted-root=/etc/modelgate/trust/trusted_root.json',
    '--policy=/etc/modelgate/policy',
    '--docker-config=/etc/modelgate/registry/config.json',
    '--plain-http=registry.local:5000',
    '--namespace-mode=dev=warn',
    '--mode=audit',
    '--certificate-oidc-issuer=https://token.actions.githubusercontent.com',
  ]) {
    t.ok(digestContainer!.args.includes(arg), `args include ${arg}`);
  }
  t.notOk(find(get('image by digest, signers, data, trust root, bundle volume, registry secret'), 'ClusterStorageContainer', 'modelgate'), 'storage initializer off');
  const digestCsc = must(await render({ image: { digest: DIGEST } }), 'ClusterStorageContainer', 'modelgate');
  t.equal((digestCsc.spec as { container: { image: string } }).container.image, `ghcr.io/modelgate/modelgate@${DIGEST}`, 'init container image by digest too');
  const [defaultContainer] = (must(get('default'), 'Deployment').spec as PodSpec).template.spec.containers;
  t.equal(defaultContainer!.image, 'ghcr.io/modelgate/modelgate:0.1.0', 'default image: appVersion tag');
});

interface Webhook {
  name: string;
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  admissionReviewVersions: string[];
  clientConfig: { caBundle?: string; service: { name: string; namespace: string; path: string; port: number } };
  rules: Array<{ apiGroups: string[]; apiVersions: string[]; resources: string[]; operations: string[] }>;
  namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> };
}

t.test('webhook configurations: Fail, no side effects, timeout, KServe rules, kube-system and own namespace excluded', async (t) => {
  for (const [set, objects] of rendered) {
    const kinds = ['ValidatingWebhookConfiguration', ...(find(objects, 'MutatingWebhookConfiguration') ? ['MutatingWebhookConfiguration'] : [])];
    for (const kind of kinds) {
      const [hook] = must(objects, kind).webhooks as Webhook[];
      t.equal(hook!.failurePolicy, 'Fail', `${set} ${kind}: failurePolicy Fail`);
      t.equal(hook!.sideEffects, 'None');
      t.equal(hook!.timeoutSeconds, 10);
      t.same(hook!.admissionReviewVersions, ['v1']);
      t.same(hook!.clientConfig.service, { name: FULLNAME, namespace: NAMESPACE, path: kind.startsWith('Validating') ? '/validate' : '/mutate', port: 443 });
      const resources = hook!.rules.flatMap((rule) => rule.resources.map((resource) => `${rule.apiGroups.join()}/${rule.apiVersions.join('+')}/${resource}:${rule.operations.join('+')}`));
      t.same(resources.sort(), [
        'serving.kserve.io/v1alpha1+v1alpha2/llminferenceservices:CREATE+UPDATE',
        'serving.kserve.io/v1alpha1/trainedmodels:CREATE+UPDATE',
        'serving.kserve.io/v1beta1/inferenceservices:CREATE+UPDATE',
      ]);
      const byName = hook!.namespaceSelector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name');
      t.equal(byName?.operator, 'NotIn');
      t.ok(byName?.values.includes('kube-system') && byName.values.includes(NAMESPACE), `${set} ${kind}: kube-system and ${NAMESPACE} excluded`);
      t.match(hook!.namespaceSelector.matchExpressions, [{}, { key: 'modelgate.dev/ignore', operator: 'NotIn', values: ['true'] }], 'opt-out label');
    }
  }
  t.notOk(find(get('default'), 'MutatingWebhookConfiguration'), 'mutating webhook off by default');
});

t.test('certificates: chart-generated CA matches the Secret, cert-manager injection, webhook-managed bootstrap', async (t) => {
  const objects = get('default');
  const secret = must(objects, 'Secret', `${FULLNAME}-tls`) as K8sObject & { data: Record<string, string>; type: string };
  t.equal(secret.type, 'kubernetes.io/tls');
  const ca = new X509Certificate(Buffer.from(secret.data['ca.crt']!, 'base64'));
  const leaf = new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64'));
  t.ok(leaf.verify(ca.publicKey), 'serving certificate signed by the chart CA');
  t.match(leaf.subjectAltName, `DNS:${FULLNAME}.${NAMESPACE}.svc`);
  const [hook] = must(objects, 'ValidatingWebhookConfiguration').webhooks as Webhook[];
  t.equal(hook!.clientConfig.caBundle, secret.data['ca.crt'], 'caBundle is the CA in the Secret');

  const cm = get('certManager, mutating on');
  t.notOk(find(cm, 'Secret', `${FULLNAME}-tls`), 'cert-manager writes the Secret');
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
    const config = must(cm, kind);
    t.equal(config.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/${FULLNAME}`);
    t.notOk((config.webhooks as Webhook[])[0]!.clientConfig.caBundle, 'caBundle left to cainjector');
  }
  t.match(must(cm, 'Certificate').spec, { secretName: `${FULLNAME}-tls`, dnsNames: [FULLNAME, `${FULLNAME}.${NAMESPACE}`, `${FULLNAME}.${NAMESPACE}.svc`, `${FULLNAME}.${NAMESPACE}.svc.cluster.local`] });
  t.ok(find(cm, 'Issuer', `${FULLNAME}-ca`), 'self-signed CA issuer when no issuerRef is given');
  const external = get('certManager with a ClusterIssuer');
  t.notOk(find(external, 'Issuer', `${FULLNAME}-ca`), 'no own issuer with an issuerRef');
  t.match(must(external, 'Certificate').spec, { issuerRef: { kind: 'ClusterIssuer', name: 'corp-ca' } });

  const bootstrap = get('webhook-managed TLS, namespace label, k8s pull secrets, mutating on');
  t.notOk(find(bootstrap, 'Secret', `${FULLNAME}-tls`), 'the webhook creates its own Secret');
  const [container] = (must(bootstrap, 'Deployment').spec as PodSpec).template.spec.containers;
  t.match(container!.args, ['webhook']);
  for (const arg of [
    '--tls-bootstrap',
    `--tls-secret=${NAMESPACE}/${FULLNAME}-tls`,
    `--webhook-config=${FULLNAME}`,
    `--mutating-webhook-config=${FULLNAME}`,
    `--service=${FULLNAME}.${NAMESPACE}`,
    '--tls-validity=365d',
    '--namespace-mode-label=modelgate.dev/mode',
    '--k8s-pull-secrets',
    '--k8s-timeout=5000',
  ]) {
    t.ok(container!.args.includes(arg), arg);
  }
  t.notOk(container!.args.some((arg) => arg.startsWith('--tls-cert')), 'no mounted certificate');
});

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

t.test('RBAC is least privilege: nothing by default, only what each enabled feature needs', async (t) => {
  for (const set of ['default', 'certManager, mutating on', 'serviceMonitor and networkPolicy on', 'image by digest, signers, data, trust root, bundle volume, registry secret']) {
    const objects = get(set);
    t.notOk(objects.some((o) => ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(o.kind)), `${set}: no roles`);
    t.equal((must(objects, 'Deployment').spec as PodSpec).template.spec.automountServiceAccountToken, false, `${set}: no API token mounted`);
  }
  const objects = get('webhook-managed TLS, namespace label, k8s pull secrets, mutating on');
  t.equal((must(objects, 'Deployment').spec as PodSpec).template.spec.automountServiceAccountToken, true);
  const all = [...(must(objects, 'ClusterRole').rules as Rule[]), ...(must(objects, 'Role').rules as Rule[])];
  for (const rule of all) {
    t.notOk(rule.verbs.includes('*') || rule.resources.includes('*') || rule.apiGroups.includes('*'), 'no wildcards');
    t.notOk(rule.verbs.some((verb) => ['delete', 'deletecollection', 'escalate', 'bind', 'impersonate'].includes(verb)), 'no destructive or escalating verbs');
  }
  const summary = all.map((r) => `${r.apiGroups.join()}:${r.resources.join('+')}:${r.verbs.join('+')}${r.resourceNames ? `@${r.resourceNames.join('+')}` : ''}`).sort();
  t.same(summary, [
    ':namespaces:get',
    `:secrets:create`,
    `:secrets:get+update@${FULLNAME}-tls`,
    ':serviceaccounts+secrets:get',
    `admissionregistration.k8s.io:mutatingwebhookconfigurations:get+patch@${FULLNAME}`,
    `admissionregistration.k8s.io:validatingwebhookconfigurations:get+patch@${FULLNAME}`,
  ]);
  t.equal(must(objects, 'Role').metadata.namespace, NAMESPACE, 'Secret rights only in the release namespace');

  // signers.keyRefs: `get` on exactly the named Secrets, one Role per namespace, bound to the webhook's account.
  const keyed = get('keys in Kubernetes Secrets');
  const deployment = (must(keyed, 'Deployment').spec as PodSpec).template.spec;
  t.equal(deployment.automountServiceAccountToken, true, 'the token is mounted to read the Secrets');
  t.same(deployment.containers[0]!.args.filter((a) => a.startsWith('--key=')), ['--key=k8s://signing/release-key', '--key=k8s://signing/ci-key', '--key=k8s://modelgate-system/backup-key']);
  const roles = keyed.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
  t.same(roles.map((r) => `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`).sort(), [`Role modelgate-system/${FULLNAME}-keys`, `Role signing/${FULLNAME}-keys`]);
  const rulesIn = (namespace: string): Rule[] => roles.find((r) => r.metadata.namespace === namespace)!.rules as Rule[];
  t.same(rulesIn('signing'), [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['release-key', 'ci-key'], verbs: ['get'] }]);
  t.same(rulesIn(NAMESPACE), [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['backup-key'], verbs: ['get'] }]);
  for (const namespace of ['signing', NAMESPACE]) {
    const binding = keyed.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === namespace)!;
    t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${FULLNAME}-keys` });
    t.same(binding.subjects, [{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
  }
  const withoutRbac = await render({ signers: { keyRefs: ['k8s://signing/release-key'] }, storageInitializer: { enabled: false }, rbac: { create: false } });
  t.notOk(withoutRbac.some((o) => o.kind === 'Role' || o.kind === 'RoleBinding'), 'rbac.create false: no Role (the operator grants it)');
});

t.test('ConfigMaps for policy data, keys and trust root; ClusterStorageContainer; ServiceMonitor; NetworkPolicy', async (t) => {
  const objects = get('image by digest, signers, data, trust root, bundle volume, registry secret');
  const data = must(objects, 'ConfigMap', `${FULLNAME}-policy-data`).data as Record<string, string>;
  t.same(JSON.parse(data['data.json']!), { trusted_builders: ['https://github.com/actions/runner'] });
  t.equal((must(objects, 'ConfigMap', `${FULLNAME}-keys`).data as Record<string, string>)['release.pem'], PEM_KEY);
  t.ok((must(objects, 'ConfigMap', `${FULLNAME}-trust-root`).data as Record<string, string>)['trusted_root.json']);
  t.notOk(get('default').some((o) => o.kind === 'ConfigMap'), 'no empty ConfigMaps by default');

  const csc = must(get('default'), 'ClusterStorageContainer', 'modelgate').spec as { container: { command: string[]; securityContext: Record<string, unknown>; env?: unknown; volumeMounts?: unknown }; supportedUriFormats: unknown[] };
  t.same(csc.container.command, ['modelgate', 'init']);
  t.same(csc.supportedUriFormats, [{ prefix: 'modelgate+oci://' }]);
  t.match(csc.container.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  t.equal(csc.container.env, undefined, 'default: nothing to configure (no signer, no data)');
  t.equal(csc.container.volumeMounts, undefined, 'no volume model pods do not have');

  // The storage initializer is configured from the webhook's values, inline: every variable is a row of the settings table.
  const full = must(get('keyless signers with a trust root, storage initializer with a node cache and a registry Secret'), 'ClusterStorageContainer', 'modelgate').spec as {
    container: { env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string; optional: boolean } } }>; volumeMounts: Array<{ name: string; mountPath: string }> };
  };
  const env = Object.fromEntries(full.container.env.map((e) => [e.name, e]));
  const { SETTINGS } = await import('../../src/config/settings.ts');
  for (const name of Object.keys(env)) t.ok(SETTINGS.some((s) => s.env === name), `${name} is a setting the loader reads`);
  t.equal(env.MODELGATE_KEYS_PEM?.value, `${PEM_KEY.trim()}\n${REAL_KEY.trim()}`, 'both keys, in name order');
  t.equal(env.MODELGATE_CERTIFICATE_IDENTITY?.value, 'ci@acme.dev,release@acme.dev');
  t.equal(env.MODELGATE_CERTIFICATE_OIDC_ISSUER?.value, 'https://issuer.acme.dev,https://issuer.acme.dev');
  t.equal(env.MODELGATE_KEY_TLOG_THRESHOLD?.value, '1');
  t.same(JSON.parse(env.MODELGATE_POLICY_DATA_JSON!.value!), POLICY_DATA);
  t.match(env.MODELGATE_TRUSTED_ROOT_JSON?.value, /trustedroot/, 'keyless: the trust root inline');
  t.equal(env.MODELGATE_PLAIN_HTTP?.value, 'registry.local:5000,mirror.local:5000');
  t.equal(env.MODELGATE_CACHE_DIR?.value, '/var/cache/modelgate');
  t.same(env.MODELGATE_DOCKER_CONFIG_JSON?.valueFrom, { secretKeyRef: { name: 'model-registry', key: '.dockerconfigjson', optional: true } }, 'credentials stay a Secret of the model namespace');
  t.same(full.container.volumeMounts, [{ name: 'modelgate-cache', mountPath: '/var/cache/modelgate' }]);
  const keyOnly = must(get('signer key and policy data'), 'ClusterStorageContainer', 'modelgate').spec as { container: { env: Array<{ name: string }> } };
  t.same(keyOnly.container.env.map((e) => e.name), ['MODELGATE_KEYS_PEM', 'MODELGATE_POLICY_DATA_JSON'], 'key-only: no trust root');

  const monitored = get('serviceMonitor and networkPolicy on');
  t.match(must(monitored, 'ServiceMonitor'), { metadata: { labels: { release: 'prom' } }, spec: { endpoints: [{ port: 'metrics', path: '/metrics' }] } });
  const netpol = must(monitored, 'NetworkPolicy').spec as { policyTypes: string[]; ingress: Array<{ ports: Array<{ port: number }> }> };
  t.same(netpol.policyTypes, ['Ingress', 'Egress']);
  t.same(netpol.ingress.map((rule) => rule.ports[0]!.port), [8443, 9090]);
  t.notOk(find(get('default'), 'ServiceMonitor') ?? find(get('default'), 'NetworkPolicy'), 'both off by default');
  const service = must(get('default'), 'Service').spec as { ports: Array<{ name: string; port: number; targetPort: string }> };
  t.same(service.ports.map((p) => `${p.name}:${p.port}->${p.targetPort}`), ['https:443->https', 'metrics:9090->metrics']);
});

t.test('realistic trust data fits the storage initializer: 50 keys and 500 allowlist entries, measured', async (t) => {
  const keys = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`signer-${String(i).padStart(2, '0')}`, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()]));
  const base = (POLICY_DATA as { modelgate_config: Record<string, unknown> }).modelgate_config;
  const entries = (prefix: string, n: number): Record<string, object> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${String(i).padStart(3, '0')}`, {}]));
  const data = {
    modelgate_config: {
      ...base,
      sources: { repositories: entries('https://github.com/acme-research/model-training-repository-', 250) },
      revoked: { digests: entries('sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab', 250), keys: {}, identities: {} },
    },
  };
  const objects = await render({ signers: { keys }, policy: { data } });
  const container = (must(objects, 'ClusterStorageContainer', 'modelgate').spec as { container: { env: Array<{ name: string; value: string }> } }).container;
  const sizes = Object.fromEntries(container.env.map((e) => [e.name, Buffer.byteLength(`${e.name}=${e.value}`) + 1]));
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  t.comment(`env bytes: ${JSON.stringify(sizes)}, total ${total}`);
  for (const [name, size] of Object.entries(sizes)) t.ok(size <= 131072, `${name}: ${size} bytes ≤ 131072 (Linux MAX_ARG_STRLEN)`);
  t.ok(total <= 1024 * 1024, `all variables ${total} bytes, far below the API server's 1.5 MiB object limit and ARG_MAX`);
  // Linux really starts a process with this environment, and the loader reads all 50 keys from it.
  const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
  const { readPipelineSettings } = await import('../../src/config/read.ts');
  const { loadInlineKeys } = await import('../../src/config/load.ts');
  t.equal((await loadInlineKeys(readPipelineSettings({}, env).keys)).length, 50, 'all 50 keys load from MODELGATE_KEYS_PEM');
  const started = await new Promise<number | null>((resolve) => execFile(process.execPath, ['-e', 'process.exit(Object.keys(process.env).some((k) => k === "MODELGATE_POLICY_DATA_JSON") ? 0 : 3)'], { env: { ...env, PATH: process.env.PATH ?? '' } }, (err) => resolve(err === null ? 0 : typeof err.code === 'number' ? err.code : null)));
  t.equal(started, 0, 'a process starts with that environment');
});

t.test('values.schema.json refuses bad values with a clear message; the deadline must stay below the timeout', async (t) => {
  const cases: Array<[object, RegExp]> = [
    [{ webhook: { mode: 'block' } }, /webhook\/mode.*one of 'enforce', 'warn', 'audit'/],
    [{ replicaz: 3 }, /additional properties 'replicaz' not allowed/],
    [{ image: { digest: 'sha256:1234' } }, /image\/digest/],
    [{ certificates: { mode: 'vault' } }, /certificates\/mode/],
    [{ securityContext: { runAsNonRoot: false, allowPrivilegeEscalation: false } }, /securityContext\/runAsNonRoot/],
    [{ webhook: { timeoutSeconds: 45 } }, /webhook\/timeoutSeconds/],
    [{ signers: { keyRefs: ['k8s://signing'] } }, /signers\/keyRefs\/0/],
  ];
  const results = await Promise.all(cases.map(([values]) => helm(['template', RELEASE, CHART, '--namespace', NAMESPACE], values)));
  for (const [i, result] of results.entries()) {
    t.not(result.code, 0, `refused: ${JSON.stringify(cases[i]![0])}`);
    t.match(result.stderr, /values don't meet the specifications of the schema/);
    t.match(result.stderr, cases[i]![1]);
  }
  // Values the storage initializer could not follow are refused with the reason.
  const refusals: Array<[object, RegExp]> = [
    [{ policy: { bundleVolume: { configMap: { name: 'b' } } } }, /policy.bundleVolume cannot be used with storageInitializer.enabled/],
    [{ policy: { existingDataConfigMap: 'cm' } }, /policy.existingDataConfigMap cannot be used with storageInitializer.enabled/],
    [{ signers: { identities: [{ identity: 'ci@acme.dev', issuer: 'https://issuer.acme.dev' }] } }, /keyless signers .* need trust.trustedRoot for the storage initializer/],
    [{ policy: { data: { blob: 'x'.repeat(140_000) } } }, /MODELGATE_POLICY_DATA_JSON would be \d+ bytes .* Linux allows 131072 per variable/],
  ];
  const refused = await Promise.all(refusals.map(([values]) => helm(['template', RELEASE, CHART, '--namespace', NAMESPACE], values)));
  for (const [i, result] of refused.entries()) {
    t.not(result.code, 0, `refused: ${JSON.stringify(refusals[i]![0]).slice(0, 80)}`);
    t.match(result.stderr, refusals[i]![1]);
  }
  const [deadline, pdb] = await Promise.all([
    helm(['template', RELEASE, CHART, '--namespace', NAMESPACE], { webhook: { deadlineSeconds: 10 } }),
    helm(['template', RELEASE, CHART, '--namespace', NAMESPACE], { replicaCount: 1 }),
  ]);
  t.not(deadline.code, 0);
  t.match(deadline.stderr, /webhook.deadlineSeconds \(10\) must be below webhook.timeoutSeconds \(10\)/);
  t.not(pdb.code, 0);
  t.match(pdb.stderr, /podDisruptionBudget.minAvailable \(1\) must be below replicaCount \(1\)/);
});

t.test('NOTES.txt tells how to check the install (an unsigned model is denied)', async (t) => {
  const result = await helm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client']);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /rollout status deployment\/mg-modelgate/);
  t.match(result.stdout, /kind: InferenceService/);
  t.match(result.stdout, /denied the request/);
  t.match(result.stdout, /no signer is configured/);
  const ignore = await helm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client'], { webhook: { failurePolicy: 'Ignore' } });
  t.match(ignore.stdout, /WARNING: failurePolicy Ignore/);
});

/** Dotted paths of the values a user sets: recurse only where the schema lists properties. */
function valuePaths(values: Record<string, unknown>, schema: { properties?: Record<string, unknown> }, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const path = `${prefix}${key}`;
    const sub = schema.properties?.[key] as { properties?: Record<string, unknown> } | undefined;
    if (sub?.properties !== undefined && value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) paths.push(...valuePaths(value as Record<string, unknown>, sub, `${path}.`));
    else paths.push(path);
  }
  return paths;
}

t.test('README lists every value (and no value that does not exist); the schema types every value', async (t) => {
  const values = parseYaml(await readFile(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const schema = JSON.parse(await readFile(join(CHART, 'values.schema.json'), 'utf8')) as { properties: Record<string, unknown> };
  const readme = await readFile(join(CHART, 'README.md'), 'utf8');
  const documented = new Set([...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));
  const paths = valuePaths(values, schema);
  t.ok(paths.length > 60, `${paths.length} values`);
  for (const path of paths) t.ok(documented.has(path), `README documents ${path}`);
  for (const path of documented) t.ok(paths.includes(path), `README row ${path} is a value`);
  const schemaKeys = Object.keys(schema.properties).sort();
  t.same(Object.keys(values).sort(), schemaKeys, 'values.yaml and values.schema.json have the same top-level keys');
});

/**
 * Lay out the files a rendered pod would see (Secret and ConfigMap volumes from the same render) under
 * ROOT, and return the container's args with its mount paths moved there.
 */
async function materialize(objects: readonly K8sObject[], root: string): Promise<string[]> {
  const pod = (must(objects, 'Deployment').spec as PodSpec).template.spec;
  const [container] = pod.containers;
  for (const mount of container!.volumeMounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name) as { secret?: { secretName: string; items?: Array<{ key: string; path: string }> }; configMap?: { name: string; items?: Array<{ key: string; path: string }> } };
    const source = volume.secret ? { object: must(objects, 'Secret', volume.secret.secretName), encoded: true, items: volume.secret.items } : volume.configMap ? { object: must(objects, 'ConfigMap', volume.configMap.name), encoded: false, items: volume.configMap.items } : undefined;
    if (source === undefined) continue; // emptyDir
    const data = source.object.data as Record<string, string>;
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    await mkdir(join(root, mount.mountPath), { recursive: true });
    for (const { key, path } of items) await writeFile(join(root, mount.mountPath, path), source.encoded ? Buffer.from(data[key]!, 'base64') : data[key]!);
  }
  return container!.args.map((arg) => arg.replace(/=\/etc\/modelgate\//, `=${root}/etc/modelgate/`));
}

t.test('the rendered webhook arguments and files start the real webhook; the bootstrap arguments are all accepted', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-chart-run-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const set of ['default', 'signer key and policy data']) {
    const root = join(dir, set.replace(/\W+/g, '-'));
    // Listen on free loopback ports (the last --port wins).
    const args = [...(await materialize(get(set), root)), '--port=0', '--metrics-port=0', '--host=127.0.0.1', '--metrics-host=127.0.0.1'];
    const child = spawn(join(REPO, 'node_modules/.bin/node'), [join(REPO, 'src/cli/main.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: root } });
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: child.stdout });
    let metricsUrl: string | undefined;
    let url: string | undefined;
    let ready: { dataDigest?: string } | undefined;
    const deadline = setTimeout(() => lines.close(), 30_000);
    for await (const line of lines) {
      const entry = JSON.parse(line) as { url?: string; metricsUrl?: string; msg?: string; dataDigest?: string };
      metricsUrl ??= entry.metricsUrl;
      url ??= entry.url;
      if (entry.msg === 'ready') {
        ready = entry;
        break;
      }
    }
    clearTimeout(deadline);
    t.ok(metricsUrl && ready, `${set}: webhook ready (stderr: ${stderr})`);
    const readyz = await fetch(`${metricsUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
    t.equal(readyz.status, 200, `${set}: /readyz with the chart's arguments, certificate, keys and data`);
    if (set === 'default') {
      // As the API server calls it: HTTPS to the Service name, trusting only the caBundle of the
      // rendered ValidatingWebhookConfiguration. A model nobody can verify is denied.
      const [hook] = must(get(set), 'ValidatingWebhookConfiguration').webhooks as Webhook[];
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'chart-check',
          kind: { group: 'serving.kserve.io', version: 'v1beta1', kind: 'InferenceService' },
          resource: { group: 'serving.kserve.io', version: 'v1beta1', resource: 'inferenceservices' },
          namespace: 'modelgate-check',
          name: 'unsigned-model',
          operation: 'CREATE',
          userInfo: { username: 'alice' },
          object: { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'unsigned-model' }, spec: { predictor: { model: { modelFormat: { name: 'sklearn' }, storageUri: 'oci://127.0.0.1:9/models/unsigned:v1' } } } },
        },
      };
      const answer = await new Promise<{ response: { uid: string; allowed: boolean; status?: { message?: string } } }>((resolve, reject) => {
        const { port } = new URL(url!);
        const req = httpsRequest(
          { host: '127.0.0.1', port, path: hook!.clientConfig.service.path, method: 'POST', servername: `${FULLNAME}.${NAMESPACE}.svc`, ca: Buffer.from(hook!.clientConfig.caBundle!, 'base64'), headers: { 'content-type': 'application/json' }, timeout: 20_000 },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve(JSON.parse(body) as never));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(review));
      });
      t.equal(answer.response.uid, 'chart-check');
      t.equal(answer.response.allowed, false, 'denied');
      t.match(answer.response.status?.message, /spec\.predictor\.model\.storageUri/, 'the denial names the field');
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    t.equal(await exited, 0, `${set}: SIGTERM, clean exit`);
  }

  const [bootstrap] = (must(get('webhook-managed TLS, namespace label, k8s pull secrets, mutating on'), 'Deployment').spec as PodSpec).template.spec.containers;
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(join(REPO, 'node_modules/.bin/node'), [join(REPO, 'src/cli/main.ts'), ...bootstrap!.args, '--port=0', '--metrics-port=0', '--host=127.0.0.1', '--metrics-host=127.0.0.1'], { env: { PATH: process.env.PATH ?? '', HOME: dir } }, (err, _stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stderr }),
    );
  });
  t.equal(result.code, 2);
  t.match(result.stderr, /K8S_CONFIG: .*not running in a cluster/, 'every argument accepted; outside a cluster it stops at the Kubernetes connection');
});
