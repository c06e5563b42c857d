// `modelgate webhook --tls-bootstrap --namespace-mode-label --k8s-pull-secrets` as a subprocess against
// the fake Kubernetes API: not ready until the certificate is in, then a client trusting only the
// patched caBundle reviews over HTTPS, and the namespace label sets the mode. Bad bootstrap options
// exit 2 with a coded message; an API server that forbids the Secret leaves the webhook not ready
// with K8S_FORBIDDEN in the log.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Agent, request } from 'undici';
import { duration } from '../../src/cli/option-values.ts';
import { parseBootstrapTargets } from '../../src/cli/webhook.ts';
import { startFakeKubeApi } from '../helpers/fake-kube-api.ts';
import { runCli } from '../helpers/run-cli.ts';
import { admissionReview, spawnWebhook, type WebhookProcess } from '../helpers/webhook-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-k8s-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const pubPath = join(dir, 'signer.pub');
writeFileSync(pubPath, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));

const api = await startFakeKubeApi({ t });
const kubeconfig = api.kubeconfig();
api.put('validatingwebhookconfigurations', 'modelgate', {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingWebhookConfiguration',
  metadata: { name: 'modelgate' },
  webhooks: [{ name: 'isvc.modelgate.dev', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { service: { namespace: 'modelgate', name: 'webhook', path: '/validate' } } }],
});
api.put('namespaces', 'dev', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dev', labels: { 'modelgate.dev/mode': 'warn' } } });
api.put('namespaces', 'prod', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } });

const startWebhook = (t: { teardown(fn: () => unknown): void }, secret: string): WebhookProcess =>
  spawnWebhook(t, [
    '--tls-bootstrap', '--tls-secret', `modelgate/${secret}`, '--service', 'webhook.modelgate', '--webhook-config', 'modelgate',
    '--kubeconfig', kubeconfig, '--k8s-timeout', '2000', '--namespace-mode-label', '--k8s-pull-secrets',
    '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--key', pubPath, '--deadline', '3000',
  ]);

t.test('bootstrap: certificate from the Secret, caBundle patched, label modes, SIGTERM', async (t) => {
  const { child, line } = startWebhook(t, 'webhook-tls');
  const listening = await line('listening; loading policy and trust material');
  const installed = await line('serving certificate installed');
  t.equal(installed['action'], 'created');
  const caBundle = Buffer.from((api.objects.validatingwebhookconfigurations.get('modelgate')!['webhooks'] as Array<{ clientConfig: { caBundle: string } }>)[0]!.clientConfig.caBundle, 'base64').toString();
  const dispatcher = new Agent({ connect: { ca: caBundle, servername: 'webhook.modelgate.svc' } });
  t.teardown(() => dispatcher.close());
  const url = listening['url'] as string;
  await line('ready');
  t.equal((await request(`${url}/readyz`, { dispatcher })).statusCode, 200, 'ready over TLS verified by the caBundle');

  const post = async (namespace: string) => {
    const res = await request(`${url}/validate`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify(admissionReview(namespace)) });
    return ((await res.body.json()) as { response: { allowed: boolean; auditAnnotations: Record<string, string> } }).response;
  };
  const dev = await post('dev');
  t.equal(dev.auditAnnotations['mode'], 'warn', 'mode from the namespace label');
  t.equal(dev.allowed, true);
  const prod = await post('prod');
  t.equal(prod.auditAnnotations['mode'], 'enforce');
  t.equal(prod.allowed, false);

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});

t.test('forbidden Secret: not ready, K8S_FORBIDDEN logged', async (t) => {
  api.fault = (r) => (r.path.includes('/secrets/') ? { status: 403, reason: 'Forbidden' } : undefined);
  t.teardown(() => void (api.fault = undefined));
  const { child, line } = startWebhook(t, 'forbidden-tls');
  const listening = await line('listening; loading policy and trust material');
  const failed = await line('TLS bootstrap failed; not ready without a certificate; retrying');
  t.equal(failed['code'], 'K8S_FORBIDDEN');
  await line('policy and trust loaded; not ready until the serving certificate is installed');
  const readyz = await request(`${listening['metricsUrl'] as string}/readyz`);
  t.equal(readyz.statusCode, 503);
  t.match(await readyz.body.text(), 'no serving certificate');
  child.kill('SIGTERM');
});

t.test('bad bootstrap options exit 2 with a coded message', async (t) => {
  const [noSecret, both, noConfig] = await Promise.all([
    runCli(['webhook', '--tls-bootstrap', '--service', 'webhook.modelgate', '--webhook-config', 'x', '--kubeconfig', kubeconfig]),
    runCli(['webhook', '--tls-bootstrap', '--tls-cert', 'a', '--tls-key', 'b']),
    runCli(['webhook', '--tls-bootstrap', '--tls-secret', 'modelgate/x', '--service', 'webhook.modelgate']),
  ]);
  t.equal(noSecret.code, 2);
  t.match(noSecret.stderr, 'USAGE: --tls-bootstrap needs --tls-secret NAMESPACE/NAME');
  t.equal(both.code, 2);
  t.match(both.stderr, 'exclude each other');
  t.equal(noConfig.code, 2);
  t.match(noConfig.stderr, '--webhook-config');
  t.same(parseBootstrapTargets('ns/my-secret', 'svc.ns'), { secret: { namespace: 'ns', name: 'my-secret' }, service: { name: 'svc', namespace: 'ns' } });
  t.throws(() => parseBootstrapTargets('ns/my-secret', 'svc'), { code: 'USAGE' });
  t.same([duration('500ms', 'd'), duration('90s', 'd'), duration('10m', 'd'), duration('720h', 'd'), duration('365d', 'd')], [500, 90_000, 600_000, 2_592_000_000, 31_536_000_000]);
  for (const bad of ['5 years', '1.5h', '-1s', '10']) t.throws(() => duration(bad, '--tls-validity'), { code: 'USAGE', message: /--tls-validity must be a duration/ });
});
