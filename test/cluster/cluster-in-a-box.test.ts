/**
 * Cluster in a box: what `helm install` renders, run the way kubelet and KServe run it, without an API
 * server. The chart is rendered with the pinned helm from exactly the README's values
 * (`image.digest`, `--set-file signers.keys.release=…`, `--set-json policy.data=…`). Then:
 *
 * 1. The webhook Deployment's container starts in a bubblewrap sandbox as kubelet would start it: the
 *    image's ENTRYPOINT with the rendered args and env, a read-only root, uid 65532 with the pod's
 *    fsGroup, and only the pod's volumes — its ConfigMaps and Secret written in kubelet's layout.
 * 2. AdmissionReviews for an InferenceService in another namespace are POSTed over HTTPS, trusting only
 *    the rendered caBundle: the signed model is allowed.
 * 3. The storage initializer KServe would inject for it (the ClusterStorageContainer's container, args
 *    `URI /mnt/models`, only KServe's emptyDir) runs in the same sandbox: the model is published.
 * 4. The digest is revoked in the values and the data ConfigMap updated the way kubelet does (the
 *    `..data` swap): the running webhook denies it (no restart), and a new pod's init refuses it.
 * The README's Helm section is a transcript of this test.
 */
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { runHelm } from '../helpers/helm.ts';
import { KubeletVolume } from '../helpers/kubelet-volume.ts';
import { runContainer, startContainer, type EnvVar, type Mount } from '../helpers/pod-sandbox.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO } from '../helpers/run-cli.ts';
import { keyTrustPolicyData, pushSignedModel } from '../helpers/signed-models.ts';

const CHART = join(REPO, 'charts/modelgate');
const RELEASE = 'modelgate';
const NAMESPACE = 'modelgate-system';
const MODEL_NAMESPACE = 'team-a';
const IMAGE_DIGEST = `sha256:${'ab'.repeat(32)}`;
const UID = 65532;

interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec?: unknown;
  data?: Record<string, string>;
  webhooks?: Array<{ clientConfig: { caBundle: string; service: { name: string; namespace: string; path: string } } }>;
}
interface Container {
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  securityContext: { runAsUser: number; runAsGroup: number; readOnlyRootFilesystem: boolean };
}
interface Volume {
  name: string;
  emptyDir?: object;
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  secret?: { secretName: string; items?: Array<{ key: string; path: string }>; defaultMode?: number };
}

const work = await mkdtemp(join(tmpdir(), 'modelgate-cluster-'));
await chmod(work, 0o755);
t.teardown(() => rm(work, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

// The registry, a signing key, and a signed model with its provenance (what a training job pushes).
const registry = await startRegistry({ t });
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyFile = join(work, 'release.pub');
await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
const model = await pushSignedModel(openStore(parseReference(`${registry.host}/models/reviews`)), work, 'reviews', privateKey);
const MODEL_URI = `modelgate+oci://${registry.host}/models/reviews@${model.digest}`;

const ports = { webhook: await freePort(), metrics: await freePort() };
const helmHome = join(work, 'helm-home');
await mkdir(helmHome);

/** `helm template` with the README's three values (plus free ports for this machine). */
async function render(policyData: unknown): Promise<K8sObject[]> {
  const dataFile = join(work, `data-${Date.now()}.json`);
  await writeFile(dataFile, JSON.stringify(policyData));
  const result = await runHelm(
    [
      'template', RELEASE, CHART, '--namespace', NAMESPACE,
      '--set', `image.digest=${IMAGE_DIGEST}`,
      '--set-file', `signers.keys.release=${keyFile}`,
      '--set-json', `policy.data=${await readFile(dataFile, 'utf8')}`,
      '--set', `webhook.port=${ports.webhook}`, '--set', `webhook.metricsPort=${ports.metrics}`,
    ],
    { home: helmHome },
  );
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
}

function must(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found === undefined) throw new Error(`${kind}/${name ?? '*'} not rendered`);
  return found;
}

/** A container's env as kubelet resolves it (fieldRef metadata.namespace; no other valueFrom may appear). */
function envOf(container: Container, namespace: string): EnvVar[] {
  return (container.env ?? []).map((e) => {
    if (e.value !== undefined) return { name: e.name, value: e.value };
    if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') return { name: e.name, value: namespace };
    throw new Error(`env ${e.name}: valueFrom ${JSON.stringify(e.valueFrom)} is not resolvable here`);
  });
}

const policyData = keyTrustPolicyData(publicKey);
const revokedData = keyTrustPolicyData(publicKey, { revoked: [model.digest] });
const installed = await render(policyData);

// --- 1. The webhook pod, as kubelet starts it. -------------------------------------------------
const deployment = must(installed, 'Deployment');
const podSpec = (deployment.spec as { template: { spec: { containers: Container[]; volumes: Volume[]; securityContext: { fsGroup: number } } } }).template.spec;
const [webhookContainer] = podSpec.containers;
const fsGroup = podSpec.securityContext.fsGroup;
const volumesDir = join(work, 'webhook-volumes');
const mounts: Mount[] = [];
let dataVolume: { volume: KubeletVolume; key: string; path: string } | undefined;
for (const mount of webhookContainer!.volumeMounts ?? []) {
  const volume = podSpec.volumes.find((v) => v.name === mount.name)!;
  const dir = join(volumesDir, mount.name);
  if (volume.emptyDir !== undefined) {
    await mkdir(dir, { recursive: true });
    await chown(dir, 0, fsGroup);
    await chmod(dir, 0o2777); // kubelet: emptyDir 0777, setgid fsGroup
  } else if (volume.configMap !== undefined || volume.secret !== undefined) {
    const source = volume.configMap !== undefined ? must(installed, 'ConfigMap', volume.configMap.name) : must(installed, 'Secret', volume.secret!.secretName);
    const decode = (value: string): string | Buffer => (volume.secret !== undefined ? Buffer.from(value, 'base64') : value);
    const items = (volume.configMap ?? volume.secret)!.items ?? Object.keys(source.data!).map((key) => ({ key, path: key }));
    const kubelet = KubeletVolume.create(dir, Object.fromEntries(items.map(({ key, path }) => [path, decode(source.data![key]!)])), { mode: volume.secret?.defaultMode ?? 0o644, gid: fsGroup });
    if (mount.mountPath === '/etc/modelgate/policy-data') dataVolume = { volume: kubelet, key: items[0]!.key, path: items[0]!.path };
  } else {
    throw new Error(`volume ${mount.name}: kind not handled`);
  }
  mounts.push({ hostPath: dir, containerPath: mount.mountPath, readOnly: mount.readOnly === true });
}
// (No assertion before the first subtest: tap ends an idle root test after an assertion.)
if (dataVolume === undefined) throw new Error('the webhook does not mount the policy data ConfigMap');
if (webhookContainer!.command !== undefined) throw new Error('the webhook container must run the image ENTRYPOINT');
const webhookLog = join(work, 'webhook-termination-log');
await writeFile(webhookLog, '');
const container = startContainer({
  argv: ['modelgate', ...webhookContainer!.args!],
  env: envOf(webhookContainer!, NAMESPACE),
  mounts,
  uid: webhookContainer!.securityContext.runAsUser,
  gid: webhookContainer!.securityContext.runAsGroup,
  groups: [fsGroup],
  terminationLog: webhookLog,
});
const webhook = container.process;
t.teardown(() => {
  webhook.kill('SIGKILL');
});
let webhookStderr = '';
webhook.stderr!.on('data', (chunk: Buffer) => (webhookStderr += chunk.toString()));
const logLines = createInterface({ input: webhook.stdout! });
const logEvents: Array<Record<string, unknown>> = [];
const waiters: Array<{ test: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
logLines.on('line', (line) => {
  const entry = JSON.parse(line) as Record<string, unknown>;
  logEvents.push(entry);
  for (const waiter of waiters.splice(0)) {
    if (waiter.test(entry)) waiter.resolve(entry);
    else waiters.push(waiter);
  }
});
/** The first log line (seen or to come) matching `test`; rejects if the webhook exits first. */
function logEvent(test: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const seen = logEvents.find(test);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    waiters.push({ test, resolve });
    webhook.once('exit', (code) => reject(new Error(`webhook exited (${code}, ${String(webhook.signalCode)}) before the event; stderr: ${webhookStderr}; log: ${JSON.stringify(logEvents).slice(-1500)}`)));
  });
}
const ready = await logEvent((e) => e.msg === 'ready');

// --- 2. AdmissionReviews over HTTPS, as the API server sends them. ------------------------------
const [hook] = must(installed, 'ValidatingWebhookConfiguration').webhooks!;
let reviews = 0;
async function review(storageUri: string): Promise<{ allowed: boolean; status?: { message?: string } }> {
  reviews += 1;
  const body = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `review-${reviews}`,
      kind: { group: 'serving.kserve.io', version: 'v1beta1', kind: 'InferenceService' },
      resource: { group: 'serving.kserve.io', version: 'v1beta1', resource: 'inferenceservices' },
      namespace: MODEL_NAMESPACE,
      name: 'reviews',
      operation: 'CREATE',
      userInfo: { username: 'ml-engineer@acme.dev' },
      object: { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'reviews', namespace: MODEL_NAMESPACE }, spec: { predictor: { model: { modelFormat: { name: 'huggingface' }, storageUri } } } },
    },
  };
  const answer = await new Promise<{ response: { uid: string; allowed: boolean; status?: { message?: string } } }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: ports.webhook,
        path: hook!.clientConfig.service.path,
        method: 'POST',
        servername: `${hook!.clientConfig.service.name}.${hook!.clientConfig.service.namespace}.svc`,
        ca: Buffer.from(hook!.clientConfig.caBundle, 'base64'),
        headers: { 'content-type': 'application/json' },
        timeout: 20_000,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(text) as never));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
  return answer.response;
}

t.test('the webhook, started as rendered, admits the signed model for an InferenceService in another namespace', async (t) => {
  t.match(ready, { data: 'file /etc/modelgate/policy-data/data.json' }, 'ready with the rendered policy data');
  const answer = await review(MODEL_URI);
  t.equal(answer.allowed, true, `allowed (${answer.status?.message ?? ''})`);
  t.comment(`transcript: webhook ready: ${JSON.stringify(ready)}`);
  t.comment(`transcript: review ${MODEL_URI}: ${JSON.stringify(answer)}`);
  const denied = await review(`modelgate+oci://${registry.host}/models/reviews:latest`);
  t.equal(denied.allowed, false, 'a tag is denied');
});

// --- 3. The storage initializer KServe injects into the model pod. -------------------------------
const csc = must(installed, 'ClusterStorageContainer');
async function runStorageInitializer(objects: readonly K8sObject[], name: string): Promise<{ code: number | null; stdout: string; stderr: string; models: string; terminationLog: string }> {
  const container = (must(objects, 'ClusterStorageContainer').spec as { container: Container }).container;
  // KServe: the CSC container merged onto the generated init container (args URI DEST), with the pod's
  // only storage volume, the kserve-provision-location emptyDir at /mnt/models (kubelet makes it 0777).
  const pod = join(work, `pod-${name}`);
  const models = join(pod, 'kserve-provision-location');
  await mkdir(models, { recursive: true });
  await chmod(models, 0o777);
  const terminationLog = join(pod, 'termination-log');
  await writeFile(terminationLog, '');
  await chmod(terminationLog, 0o666);
  t.same(container.volumeMounts ?? [], [], 'the storage initializer needs no volume KServe does not give');
  const result = await runContainer({
    argv: [...container.command!, MODEL_URI, '/mnt/models'],
    env: envOf(container, MODEL_NAMESPACE),
    mounts: [{ hostPath: models, containerPath: '/mnt/models', readOnly: false }],
    uid: container.securityContext.runAsUser,
    gid: container.securityContext.runAsGroup,
    terminationLog,
  });
  return { ...result, models, terminationLog: await readFile(terminationLog, 'utf8') };
}

t.test('the storage initializer, injected as KServe does, verifies and publishes the model', async (t) => {
  const container = (csc.spec as { container: Container }).container;
  t.equal(container.securityContext.readOnlyRootFilesystem, true);
  t.equal(container.securityContext.runAsUser, UID);
  for (const e of container.env ?? []) t.notOk(e.valueFrom, `${e.name} is an inline value`);
  t.ok((container.env ?? []).some((e) => e.name === 'MODELGATE_KEYS_PEM'), 'the signer key is rendered inline');
  t.notOk((container.env ?? []).some((e) => e.name.startsWith('MODELGATE_TRUSTED_ROOT')), 'key-only: no trust root');
  const run = await runStorageInitializer(installed, 'allowed');
  t.equal(run.code, 0, `init exits 0 (stderr: ${run.stderr})`);
  t.comment(`transcript: init exit ${run.code}:\n${run.stdout}`);
  const files = (await readdir(run.models)).sort();
  t.ok(files.includes('model.safetensors') && files.includes('config.json'), `model files published (${files.join(', ')})`);
  const receipt = JSON.parse(await readFile(join(run.models, '.modelgate/receipt.json'), 'utf8')) as { digest: string };
  t.equal(receipt.digest, model.digest, 'the receipt names the verified digest');
});

// --- 4. Revocation: values change, kubelet updates the ConfigMap, no restart. ---------------------
t.test('a digest revoked in the values is denied by the running webhook and refused by a new pod', async (t) => {
  const upgraded = await render(revokedData);
  const cm = must(upgraded, 'ConfigMap', `${RELEASE}-policy-data`);
  const before = await logEvent((e) => e.msg === 'ready');
  dataVolume!.volume.update({ [dataVolume!.path]: cm.data![dataVolume!.key]! });
  const reloaded = await logEvent((e) => e.msg === 'configuration reloaded');
  t.not(reloaded.dataDigest, before.dataDigest, 'the webhook reloaded the new data (logged with its digest)');
  const answer = await review(MODEL_URI);
  t.equal(answer.allowed, false, 'denied after the update');
  t.comment(`transcript: reloaded: ${JSON.stringify(reloaded)}`);
  t.comment(`transcript: review after revocation: ${JSON.stringify(answer)}`);
  t.match(answer.status?.message, /REVOKED_DIGEST/);
  t.equal(webhook.exitCode, null, 'the same webhook process: no restart');

  const run = await runStorageInitializer(upgraded, 'revoked');
  t.equal(run.code, 1, 'init refuses (exit 1: verification failed)');
  t.comment(`transcript: init exit ${run.code}, termination message: ${run.terminationLog}`);
  t.match(run.terminationLog, /REVOKED_DIGEST/, 'KServe shows the reason (termination message)');
  t.same((await readdir(run.models)).filter((f) => !f.startsWith('.')), [], 'nothing published');
});

t.test('the webhook stops cleanly on SIGTERM', async (t) => {
  const exited = once(webhook, 'exit');
  await container.signal('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.equal(code, 0);
});
