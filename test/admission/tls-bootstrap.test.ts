// TLS bootstrap against the fake Kubernetes API (a real HTTPS server, test/helpers/fake-kube-api.ts):
// from nothing a Secret is created and every webhook's caBundle patched, and a client trusting only
// that caBundle connects to the webhook; two replicas converge on one CA; the serving certificate is
// rotated near expiry with no failed request during the swap; a CA rotation keeps the old CA in the
// bundle and the old certificate during the overlap; 403 → K8S_FORBIDDEN and not ready; a hanging
// API server → K8S_TIMEOUT.
import { X509Certificate } from 'node:crypto';
import { get as httpsGet } from 'node:https';
import type { TLSSocket } from 'node:tls';
import t from 'tap';
import { pino } from 'pino';
import { AdmissionMetrics } from '../../src/admission/metrics.ts';
import { WebhookServer } from '../../src/admission/server.ts';
import { KubeClient } from '../../src/k8s/client.ts';
import { placeholderCertificate, reconcileTls, serviceDnsNames, TlsBootstrapper, type ServingMaterial, type TlsBootstrapOptions } from '../../src/k8s/tls-bootstrap.ts';
import { startFakeKubeApi } from '../helpers/fake-kube-api.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

const api = await startFakeKubeApi({ t });
const client = KubeClient.load({ kubeconfig: api.kubeconfig(), timeoutMs: 1500 });
const SERVICE = { namespace: 'modelgate', name: 'modelgate-webhook' };
const SERVER_NAME = 'modelgate-webhook.modelgate.svc';

function webhookConfiguration(kind: 'Validating' | 'Mutating', name: string, hooks: string[]): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: `${kind}WebhookConfiguration`,
    metadata: { name },
    webhooks: hooks.map((hook) => ({
      name: hook,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      clientConfig: { service: { ...SERVICE, path: kind === 'Validating' ? '/validate' : '/mutate', port: 443 } },
    })),
  };
}
api.put('validatingwebhookconfigurations', 'modelgate', webhookConfiguration('Validating', 'modelgate', ['isvc.modelgate.dev', 'trainedmodel.modelgate.dev']));
api.put('mutatingwebhookconfigurations', 'modelgate-pin', webhookConfiguration('Mutating', 'modelgate-pin', ['pin.modelgate.dev']));

function options(secretName: string, extra: Partial<TlsBootstrapOptions> = {}): TlsBootstrapOptions {
  return {
    client,
    secret: { namespace: 'modelgate', name: secretName },
    service: SERVICE,
    webhookConfigurations: [
      { kind: 'validating', name: 'modelgate' },
      { kind: 'mutating', name: 'modelgate-pin' },
    ],
    ...extra,
  };
}

const decode = (b64: string | undefined): string => Buffer.from(b64 ?? '', 'base64').toString('utf8');
const caBundles = (): string[] => [
  ...(api.objects.validatingwebhookconfigurations.get('modelgate')!['webhooks'] as Array<{ clientConfig: { caBundle?: string } }>),
  ...(api.objects.mutatingwebhookconfigurations.get('modelgate-pin')!['webhooks'] as Array<{ clientConfig: { caBundle?: string } }>),
].map((w) => decode(w.clientConfig.caBundle));

const logger = pino({ level: 'silent' });
async function startServer(): Promise<WebhookServer> {
  const placeholder = await placeholderCertificate();
  const server = await WebhookServer.start({ tls: { cert: placeholder.certPem, key: placeholder.keyPem, pending: true }, host: '127.0.0.1', port: 0, metricsHost: '127.0.0.1', metricsPort: 0, logger, metrics: new AdmissionMetrics() });
  t.teardown(() => server.close());
  return server;
}

/** GET over a new TLS connection trusting only `ca`, checking the name the API server uses; the served certificate's fingerprint. */
function fetchOnce(url: string, ca: string): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca, servername: SERVER_NAME, agent: false, timeout: 5000 }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

t.test('from nothing: Secret created, every caBundle patched, and the caBundle verifies the served certificate', async (t) => {
  const server = await startServer();
  const ready = await fetchOnce(`${server.url}/readyz`, (await placeholderCertificate()).certPem).catch((err: Error) => err);
  t.ok(ready instanceof Error, 'the placeholder certificate is trusted by nobody');
  t.notOk(server.ready);

  const material = await reconcileTls(options('webhook-tls'));
  t.equal(material.action, 'created');
  const secret = api.objects.secrets.get('modelgate/webhook-tls')!;
  t.equal(secret['type'], 'kubernetes.io/tls');
  t.same(Object.keys(secret['data'] as object).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  t.equal(decode((secret['data'] as Record<string, string>)['ca.crt']), material.caBundlePem);
  t.same(caBundles(), [material.caBundlePem, material.caBundlePem, material.caBundlePem], 'all three webhooks carry the CA bundle');

  const cert = new X509Certificate(material.certPem);
  for (const name of serviceDnsNames(SERVICE)) t.match(cert.subjectAltName ?? '', `DNS:${name}`);
  t.ok(cert.checkIssued(new X509Certificate(material.caBundlePem)), 'issued by the CA');

  server.setServingCertificate(material.certPem, material.keyPem);
  const answer = await fetchOnce(`${server.url}/healthz`, caBundles()[0]!);
  t.equal(answer.status, 200, 'a client trusting only the published caBundle connects');
  t.equal(answer.fingerprint, cert.fingerprint256);
  const readyz = await fetchOnce(`${server.url}/readyz`, caBundles()[0]!);
  t.match(readyz.body, /policy and trust/, 'certificate there; readiness now waits only for policy and trust');

  const before = api.log.length;
  const again = await reconcileTls(options('webhook-tls'));
  t.equal(again.action, 'unchanged');
  t.equal(again.certPem, material.certPem);
  t.notOk(api.log.slice(before).some((r) => r.method !== 'GET'), 'nothing written when current');
});

t.test('two replicas starting together converge on one CA (409 → re-read and adopt)', async (t) => {
  const [a, b] = await Promise.all([reconcileTls(options('replicas-tls')), reconcileTls(options('replicas-tls'))]);
  t.equal(a.caBundlePem, b.caBundlePem, 'one CA');
  t.same([a.action, b.action].sort(), ['adopted', 'created']);
  t.equal(a.certPem, b.certPem, 'the loser serves what the winner wrote');
  t.equal(caBundles()[0], a.caBundlePem);
  t.ok(api.log.some((r) => r.method === 'POST' && r.path.endsWith('/secrets')), 'created with POST');
});

t.test('rotation near expiry: a new certificate is served, no request fails during the swap', async (t) => {
  const server = await startServer();
  const materials: ServingMaterial[] = [];
  const bootstrapper = new TlsBootstrapper(
    // Renewed 2 s after issue; 18 s of margin before expiry even when key generation is slow on a loaded machine.
    { ...options('rotating-tls'), validityMs: 20_000, rotateBeforeMs: 18_000, retryMs: 200 },
    {
      onMaterial: (m) => {
        materials.push(m);
        server.setServingCertificate(m.certPem, m.keyPem);
      },
      onError: (err) => t.fail(`bootstrap failed: ${(err as Error).message}`),
    },
  );
  t.teardown(() => bootstrapper.stop());
  await bootstrapper.start();
  t.equal(materials.length, 1);
  const ca = materials[0]!.caBundlePem;
  const first = new X509Certificate(materials[0]!.certPem).fingerprint256;

  // Clients keep connecting (a new TLS connection each time) until one is served a renewed certificate.
  const seen = new Set<string>();
  const errors: string[] = [];
  let requests = 0;
  const until = Date.now() + 30_000;
  const renewedSeen = (): boolean => [...seen].some((f) => f !== first);
  const worker = async (): Promise<void> => {
    while (Date.now() < until && !renewedSeen()) {
      requests++;
      try {
        const r = await fetchOnce(`${server.url}/healthz`, ca);
        if (r.status !== 200) errors.push(`status ${r.status}`);
        seen.add(r.fingerprint);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  t.ok(materials.length >= 2, `rotated (${materials.length} certificates issued)`);
  t.ok(renewedSeen(), `clients saw the renewed certificate (${seen.size} certificates seen)`);
  t.same(errors, [], `no failed request out of ${requests}`);
  t.ok(materials.every((m) => m.caBundlePem === ca), 'the CA did not change');
});

t.test('CA rotation keeps the old CA in the bundle and the old certificate during the overlap', async (t) => {
  const DAY = 24 * 3600_000;
  let clock = Date.now();
  const o = options('ca-rotation-tls', { now: () => clock, caValidityMs: 10 * DAY, validityMs: 9 * DAY, rotateBeforeMs: 2 * DAY, caOverlapMs: 60_000 });
  const first = await reconcileTls(o);
  const oldCa = new X509Certificate(first.caBundlePem);

  clock += 8 * DAY + 1000; // CA within rotate-before of expiry; the serving certificate outlives the overlap
  const during = await reconcileTls(o);
  const bundle = during.caBundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
  t.equal(bundle.length, 2, 'new CA first, old CA kept');
  t.equal(new X509Certificate(bundle[1]!).fingerprint256, oldCa.fingerprint256);
  t.equal(during.certPem, first.certPem, 'the old certificate keeps serving during the overlap');
  t.equal(caBundles()[0], during.caBundlePem, 'the two-CA bundle is published');
  t.ok(during.nextCheckAt > clock && during.nextCheckAt <= clock + 60_000, 'next look at the end of the overlap');

  clock += 61_000;
  const after = await reconcileTls(o);
  t.not(after.certPem, first.certPem, 'reissued after the overlap');
  t.ok(new X509Certificate(after.certPem).checkIssued(new X509Certificate(bundle[0]!)), 'under the new CA');
  t.equal(after.caBundlePem, during.caBundlePem, 'old CA still in the bundle until it expires');

  clock += 2 * DAY;
  const expired = await reconcileTls(o);
  t.equal(expired.caBundlePem.match(/BEGIN CERTIFICATE/g)?.length, 1, 'the expired old CA left the bundle');
});

t.test('403 from the API server: K8S_FORBIDDEN, and the webhook stays not ready', async (t) => {
  const server = await startServer();
  api.fault = (r) => (r.path.includes('/secrets/') ? { status: 403, reason: 'Forbidden' } : undefined);
  t.teardown(() => void (api.fault = undefined));
  await rejectsWith(t, reconcileTls(options('forbidden-tls')), ['K8S_FORBIDDEN']);
  const errors: unknown[] = [];
  const bootstrapper = new TlsBootstrapper({ ...options('forbidden-tls'), retryMs: 60_000 }, { onMaterial: (m) => server.setServingCertificate(m.certPem, m.keyPem), onError: (err) => errors.push(err) });
  t.teardown(() => bootstrapper.stop());
  await bootstrapper.start();
  t.match(errors, [{ code: 'K8S_FORBIDDEN', message: /get secret modelgate\/forbidden-tls: 403/ }]);
  t.notOk(server.ready, 'not ready without a certificate');
});

t.test('a hanging API server: K8S_TIMEOUT within the call timeout', async (t) => {
  api.fault = () => 'hang';
  t.teardown(() => void (api.fault = undefined));
  const started = Date.now();
  await rejectsWith(t, reconcileTls(options('hanging-tls')), ['K8S_TIMEOUT']);
  const elapsed = Date.now() - started;
  // The API server hangs forever: ending at all, with K8S_TIMEOUT, is the call timeout honoured.
  t.ok(elapsed >= 1400, `gave up after ${elapsed} ms (timeout 1500 ms), not before`);
});

t.test('bad token: K8S_UNAUTHORIZED', async (t) => {
  const stranger = KubeClient.load({ kubeconfig: api.kubeconfig({ token: 'wrong' }), timeoutMs: 1500 });
  await rejectsWith(t, reconcileTls({ ...options('x'), client: stranger }), ['K8S_UNAUTHORIZED']);
});
