/**
 * Every `model` case of shared/vectors/cases.json (real model_signing 1.0.0 signatures) gives its
 * expected verdict through `modelgate verify-model` run as a subprocess, with model_signing's own
 * command-line spellings. The subprocesses start together (one per core at a time).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, VECTORS, type CliResult } from '../helpers/run-cli.ts';

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

const runs = cases.map((c) => runCli(['verify-model', ...argsFor(c)]));
const certificateCase = cases.find((x) => x.id === 'model-transparency/v1.0.0-certificate');
if (certificateCase === undefined) throw new Error('certificate case missing');
const jsonReport = runCli([
  'verify-model', 'certificate', '--signature', abs(certificateCase.signature), '--certificate-chain', abs(certificateCase.certificateChain?.[0] ?? ''), '--output', 'json', abs(certificateCase.modelDir),
]);
const relative = runCli(
  ['verify-model', 'certificate', '--signature', 'v1.0.0-certificate/model.sig', '--certificate_chain', 'keys/certificate/ca-cert.pem', 'v1.0.0-certificate/'],
  { cwd: join(VECTORS, 'model-transparency') },
);
const noKey = runCli(['verify-model', 'key', '--signature', abs('model-transparency/v1.0.0-elliptic-key/model.sig'), abs('model-transparency/v1.0.0-elliptic-key/signme-1')]);
const missingSig = runCli(['verify-model', 'key', '--signature', '/nonexistent/model.sig', '--public-key', abs('model-transparency/keys/certificate/signing-key-pub.pem'), abs('model-transparency/v1.0.0-elliptic-key/signme-1')]);

t.ok(cases.length >= 5, 'the vector file has the model cases');

cases.forEach((c, i) => {
  t.test(`${c.id} -> ${c.expect}`, async (t) => {
    const result = await (runs[i] as Promise<CliResult>);
    if (c.expect === 'pass') {
      t.equal(result.code, 0, `${c.notes ?? ''}\n${result.stderr}`);
      t.match(result.stdout, /^Verification succeeded$/m);
    } else {
      t.equal(result.code, 1, result.stderr);
      t.match(result.stderr, /^Verification failed with error: /m);
      t.notMatch(result.stdout, /succeeded/);
    }
  });
});

t.test('hyphenated spellings and a JSON report for the certificate case', async (t) => {
  const result = await jsonReport;
  t.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { modelDigest: string; resources: Array<{ name: string; digest: string }>; signer: { kind: string; chainLength: number } };
  t.equal(report.modelDigest, 'sha256:61d4849d9d90076d6215f4d525f13d6574af8e3f67aef3e6f36fc40a14fdd226');
  t.same(report.resources.map((r) => r.name), ['signme-1', 'signme-2']);
  t.equal(report.signer.kind, 'certificate');
  t.equal(report.signer.chainLength, 3, 'leaf, intermediate from the bundle, root from --certificate-chain');
});

t.test('model_signing relative invocation: the signature inside the model directory is not a model file', async (t) => {
  const result = await relative;
  t.equal(result.code, 0, result.stderr);
});

t.test('usage errors exit 2', async (t) => {
  const a = await noKey;
  t.equal(a.code, 2);
  t.match(a.stderr, /--public-key/);
  const b = await missingSig;
  t.equal(b.code, 2);
  t.match(b.stderr, /cannot read signature/);
});
