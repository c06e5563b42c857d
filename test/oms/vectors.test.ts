/**
 * Every `model` case of shared/vectors/cases.json (real model_signing 1.0.0 signatures) gives its
 * expected verdict through `modelgate verify-model` run as a subprocess, with model_signing's own
 * command-line spellings.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, VECTORS } from '../helpers/run-cli.ts';

interface ModelCase {
  id: string;
  kind: string;
  expect: 'pass' | 'fail';
  modelDir: string;
  signature: string;
  key?: string;
  certificateChain?: string[];
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  trustedRoot?: string;
  notes?: string;
}

const cases = (JSON.parse(readFileSync(join(VECTORS, 'cases.json'), 'utf8')) as ModelCase[]).filter((c) => c.kind === 'model');
const abs = (p: string): string => join(VECTORS, p);

t.ok(cases.length >= 5, 'the vector file has the model cases');

function argsFor(c: ModelCase): string[] {
  if (c.key !== undefined) return ['key', '--signature', abs(c.signature), '--public_key', abs(c.key), abs(c.modelDir)];
  if (c.certificateChain !== undefined) {
    return ['certificate', '--signature', abs(c.signature), ...c.certificateChain.flatMap((p) => ['--certificate_chain', abs(p)]), abs(c.modelDir)];
  }
  if (c.certificateIdentity === undefined || c.certificateOidcIssuer === undefined || c.trustedRoot === undefined) throw new Error(`case ${c.id} has no verification method`);
  return [
    'sigstore', '--identity', c.certificateIdentity, '--identity_provider', c.certificateOidcIssuer,
    '--trusted-root', abs(c.trustedRoot), '--signature', abs(c.signature), abs(c.modelDir),
  ];
}

for (const c of cases) {
  t.test(`${c.id} -> ${c.expect}`, async (t) => {
    const result = await runCli(['verify-model', ...argsFor(c)]);
    if (c.expect === 'pass') {
      t.equal(result.code, 0, `${c.notes ?? ''}\n${result.stderr}`);
      t.match(result.stdout, /^Verification succeeded$/m);
    } else {
      t.equal(result.code, 1, result.stderr);
      t.match(result.stderr, /^Verification failed with error: /m);
      t.notMatch(result.stdout, /succeeded/);
    }
  });
}

t.test('hyphenated spellings and a JSON report for the certificate case', async (t) => {
  const c = cases.find((x) => x.id === 'model-transparency/v1.0.0-certificate');
  if (c === undefined) throw new Error('certificate case missing');
  const result = await runCli([
    'verify-model', 'certificate', '--signature', abs(c.signature), '--certificate-chain', abs(c.certificateChain?.[0] ?? ''), '--output', 'json', abs(c.modelDir),
  ]);
  t.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { modelDigest: string; resources: Array<{ name: string; digest: string }>; signer: { kind: string; chainLength: number } };
  t.equal(report.modelDigest, 'sha256:61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226');
  t.same(report.resources.map((r) => r.name), ['signme-1', 'signme-2']);
  t.equal(report.signer.kind, 'certificate');
  t.equal(report.signer.chainLength, 3, 'leaf, intermediate from the bundle, root from --certificate-chain');
});

t.test('model_signing relative invocation from the vector directory (signature inside the model is ignored)', async (t) => {
  const result = await runCli(
    ['verify-model', 'key', '--signature', 'v1.0.0-elliptic-key/model.sig', '--public_key', 'keys/certificate/signing-key-pub.pem', 'v1.0.0-elliptic-key/signme-1'],
    { cwd: join(VECTORS, 'model-transparency') },
  );
  t.equal(result.code, 0, result.stderr);
  const cert = await runCli(
    ['verify-model', 'certificate', '--signature', 'v1.0.0-certificate/model.sig', '--certificate_chain', 'keys/certificate/ca-cert.pem', 'v1.0.0-certificate/'],
    { cwd: join(VECTORS, 'model-transparency') },
  );
  t.equal(cert.code, 0, cert.stderr);
});

t.test('usage errors exit 2', async (t) => {
  const noKey = await runCli(['verify-model', 'key', '--signature', abs('model-transparency/v1.0.0-elliptic-key/model.sig'), abs('model-transparency/v1.0.0-elliptic-key/signme-1')]);
  t.equal(noKey.code, 2);
  t.match(noKey.stderr, /--public-key/);
  const missingSig = await runCli(['verify-model', 'key', '--signature', '/nonexistent/model.sig', '--public-key', abs('model-transparency/keys/certificate/signing-key-pub.pem'), abs('model-transparency/v1.0.0-elliptic-key/signme-1')]);
  t.equal(missingSig.code, 2);
  t.match(missingSig.stderr, /cannot read signature/);
  const unknownMethod = await runCli(['verify-model', 'pkcs11', 'x']);
  t.equal(unknownMethod.code, 2);
});
