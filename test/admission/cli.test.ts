// `modelgate webhook` as a subprocess: listens on HTTPS and a plain metrics port, becomes ready once
// policy and keys are loaded, answers a real AdmissionReview (a non-OCI location: denied by the
// default policy, warned in a warn namespace), and on SIGTERM finishes and exits 0. Bad options exit 2.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Agent, request } from 'undici';
import { parseNamespaceModes } from '../../src/cli/webhook.ts';
import { runCli } from '../helpers/run-cli.ts';
import { admissionReview, spawnWebhook } from '../helpers/webhook-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-webhook-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const certPath = join(dir, 'tls.crt');
const keyPath = join(dir, 'tls.key');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=modelgate-webhook', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath], { stdio: 'pipe' });
const pubPath = join(dir, 'signer.pub');
writeFileSync(pubPath, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
const dispatcher = new Agent({ connect: { ca: readFileSync(certPath, 'utf8') } });
t.teardown(() => dispatcher.close());

t.test('serve, review, metrics, SIGTERM', async (t) => {
  const { child, line, lines, stderr } = spawnWebhook(t, [
    '--tls-cert', certPath, '--tls-key', keyPath, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--key', pubPath, '--namespace-mode', 'dev=warn', '--deadline', '3000',
  ]);
  const listening = await line('listening; loading policy and trust material');
  const url = listening['url'] as string;
  const metricsUrl = listening['metricsUrl'] as string;
  const ready = await line('ready');
  t.match(ready['bundleDigest'], /^sha256:[0-9a-f]{64}$/);
  t.equal((await request(`${url}/readyz`, { dispatcher })).statusCode, 200);

  const post = async (namespace: string) => {
    const res = await request(`${url}/validate`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify(admissionReview(namespace)) });
    return { status: res.statusCode, json: (await res.body.json()) as { response: { uid: string; allowed: boolean; warnings?: string[]; status?: { message: string } } } };
  };
  const prod = await post('prod');
  t.equal(prod.status, 200);
  t.equal(prod.json.response.uid, 'uid-prod');
  t.equal(prod.json.response.allowed, false);
  t.match(prod.json.response.status?.message, 'UNVERIFIABLE_LOCATION');
  const dev = await post('dev');
  t.equal(dev.json.response.allowed, true, 'warn namespace admits');
  t.match(dev.json.response.warnings?.join('\n'), 'UNVERIFIABLE_LOCATION');
  const logged = await line('admission review');
  t.equal(logged['uid'], 'uid-prod');
  t.equal(logged['decision'], 'deny');

  const metrics = await request(`${metricsUrl}/metrics`);
  t.match(await metrics.body.text(), /modelgate_admission_reviews_total\{decision="warn",mode="warn"\} 1/);

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, stderr());
  t.ok(lines.some((l) => l['msg'] === 'stopped'));
});

t.test('bad options exit 2 with a coded message', async (t) => {
  const [badMode, missingCert] = await Promise.all([
    runCli(['webhook', '--tls-cert', certPath, '--tls-key', keyPath, '--namespace-mode', 'dev=block']),
    runCli(['webhook', '--tls-cert', join(dir, 'missing.crt'), '--tls-key', keyPath, '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--metrics-host', '127.0.0.1']),
  ]);
  t.equal(badMode.code, 2);
  t.match(badMode.stderr, 'USAGE: --namespace-mode expects NAMESPACE=enforce|warn|audit');
  t.equal(missingCert.code, 2);
  t.match(missingCert.stderr, 'TLS_CONFIG: cannot read the serving certificate or key');
  t.same(parseNamespaceModes(['a=warn', 'b-2=audit']), { a: 'warn', 'b-2': 'audit' });
});
