// Key references beyond PEM files, end to end against the loopback registry and a local fake
// Kubernetes API (real HTTPS, bearer token): `sign --key k8s://team-a/cosign` reads the Secret cosign's
// `generate-key-pair k8s://…` writes (cosign.key in cosign's encrypted format, cosign.pub,
// cosign.password) and `verify --key k8s://team-a/cosign` checks with its cosign.pub; KMS URIs are
// refused with a clear "not available in this build", and a missing Secret is a coded error.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { writeSigningKeyPair } from '../../src/sign/keys.ts';
import { parseKeyReference } from '../../src/sign/key-reference.ts';
import { keyId, parsePublicKey } from '../../src/sigstore/keys.ts';
import { startFakeKubeApi } from '../helpers/fake-kube-api.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO, runCli } from '../helpers/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-key-reference-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const registry = await startRegistry({ t });
const kube = await startFakeKubeApi({ t });
const kubeconfig = kube.kubeconfig();

const passphrase = 'correct horse battery staple';
const files = await writeSigningKeyPair(join(dir, 'cosign'), passphrase);
const keyPem = readFileSync(files.privateKeyPath, 'utf8');
const pubPem = readFileSync(files.publicKeyPath, 'utf8');
const b64 = (s: string): string => Buffer.from(s).toString('base64');
kube.put('secrets', 'team-a/cosign', {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'cosign', namespace: 'team-a' },
  data: { 'cosign.key': b64(keyPem), 'cosign.pub': b64(pubPem), 'cosign.password': b64(passphrase) },
});

const model = join(dir, 'model');
mkdirSync(model);
writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(256, 1));
const pushed = await runCli(['push', model, `oci://${registry.host}/models/k8s-key:v1`]);
const pinned = `oci://${registry.host}/models/k8s-key@${pushed.stdout.trim()}`;

const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: kubeconfig };
  delete e.MODELGATE_PASSWORD;
  delete e.SIGSTORE_ID_TOKEN;
  return e;
};

t.test('key references parse', async (t) => {
  t.same(parseKeyReference('keys/cosign.key'), { kind: 'file', path: 'keys/cosign.key' });
  t.same(parseKeyReference('k8s://team-a/cosign'), { kind: 'k8s', namespace: 'team-a', name: 'cosign', uri: 'k8s://team-a/cosign' });
  t.same(parseKeyReference('awskms:///alias/release'), { kind: 'kms', scheme: 'awskms', uri: 'awskms:///alias/release' });
  t.throws(() => parseKeyReference('k8s://team-a'), { code: 'KEY_FORMAT' });
  t.throws(() => parseKeyReference('vault://x'), { code: 'KEY_FORMAT', message: /unknown scheme vault:\/\// });
});

t.test('sign and verify with a cosign key pair stored in a Kubernetes Secret', async (t) => {
  t.equal(pushed.code, 0, pushed.stderr);
  t.match(keyPem, /^-----BEGIN ENCRYPTED (COSIGN|SIGSTORE) PRIVATE KEY-----/, 'an encrypted cosign-format key, as cosign stores it');
  const signed = await runCli(['sign', pinned, '--key', 'k8s://team-a/cosign'], { env: env() });
  t.equal(signed.code, 0, `signed with the Secret's key and its cosign.password, no prompt (${signed.stderr})`);
  t.notOk(signed.stderr.includes(passphrase), 'the passphrase is never printed');
  t.ok(kube.log.some((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/team-a/secrets/cosign'), 'the Secret was read through the API');

  const defaults = JSON.parse(readFileSync(join(REPO, 'policies/data.json'), 'utf8')).modelgate_config;
  const dataPath = join(dir, 'data.json');
  const id = `sha256:${keyId(parsePublicKey(pubPem))}`;
  writeFileSync(dataPath, JSON.stringify({ modelgate_config: { ...defaults, signers: { ...defaults.signers, keys: { [id]: {} } }, provenance: { ...defaults.provenance, required: false } } }));
  const verified = await runCli(['verify', pinned, '--data', dataPath, '--key', 'k8s://team-a/cosign', '--output', 'json'], { env: env() });
  t.equal(verified.code, 0, `${verified.stdout} ${verified.stderr}`);
});

t.test('KMS references and missing Secrets fail with coded errors, not stack traces', async (t) => {
  const [kms, missing, verifyKms] = await Promise.all([
    runCli(['sign', pinned, '--key', 'awskms:///alias/release'], { env: env() }),
    runCli(['sign', pinned, '--key', 'k8s://team-a/absent'], { env: env() }),
    runCli(['verify', pinned, '--key', 'gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k'], { env: env() }),
  ]);
  t.equal(kms.code, 2);
  t.match(kms.stderr, /^modelgate: KMS_UNAVAILABLE: key awskms:\/\/\/alias\/release: awskms keys are not available in this build/m);
  t.notMatch(kms.stderr, /\n\s+at /, 'no stack trace');
  t.equal(missing.code, 2);
  t.match(missing.stderr, /SIGNING_IO: key k8s:\/\/team-a\/absent: Secret team-a\/absent does not exist/);
  t.not(verifyKms.code, 0);
  t.match(verifyKms.stderr, /KMS_UNAVAILABLE: key gcpkms:\/\/.*gcpkms keys are not available in this build/);
});
