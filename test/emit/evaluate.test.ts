// modelgate attest evaluate: an in-toto test-result attestation with the metrics of an evaluation,
// compared with a reference evaluation within tolerances (PASSED → exit 0, FAILED listed → exit 1,
// attestation written either way), verified by `modelgate verify-bundle`; bad metrics (NaN; not an
// object: library), bad tolerances (syntax; a name no metric has: library), a reference signed by
// another key and a failing evaluator are coded errors without an attestation. Keyless: signed
// through local Fulcio/Rekor, and a keyless reference verified by certificate identity.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildDatasetManifest, serializeDatasetManifest } from '../../src/dataset/manifest.ts';
import { compareMetrics, parseMetrics, parseTolerances, TEST_RESULT_PREDICATE_TYPE } from '../../src/emit/evaluation.ts';
import { parseDigest } from '../../src/oci/digest.ts';
import { buildPolicyInput } from '../../src/policy/input.ts';
import { REPO, runCli, VECTORS } from '../helpers/run-cli.ts';
import { startSigstoreServices } from '../helpers/sigstore-services.ts';

const NODE = join(REPO, 'node_modules/.bin/node');
const dir = mkdtempSync(join(tmpdir(), 'modelgate-evaluate-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const { privateKey, publicKey } = keyPair();
const keyPath = join(dir, 'eval.key');
const pubPath = join(dir, 'eval.pub');
const otherPubPath = join(dir, 'other.pub');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(otherPubPath, keyPair().publicKey.export({ type: 'spki', format: 'pem' }));

const model = join(dir, 'model');
mkdirSync(model);
writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(4096, 7));
writeFileSync(join(model, 'config.json'), '{"layers":2}');
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const rootDigest = sha(Buffer.concat([sha('{"layers":2}'), sha(Buffer.alloc(4096, 7))].map((d) => Buffer.from(d, 'hex'))));

function statementOf(bundlePath: string): { subject: { name?: string; digest: { sha256: string } }[]; predicateType: string; predicate: Record<string, any> } {
  const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
  return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
}

const metricsFile = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

t.test('metrics, tolerances and comparison (library)', async (t) => {
  t.same(parseMetrics('{"b": 2, "a": 0.5}', 'm'), { a: 0.5, b: 2 });
  t.throws(() => parseMetrics('{"loss": NaN}', 'm'), { code: 'METRICS', message: /"loss" is NaN/ });
  t.throws(() => parseMetrics('{"loss": -Infinity}', 'm'), { code: 'METRICS', message: /"loss" is -Infinity/ });
  t.throws(() => parseMetrics('{"loss": 1e999}', 'm'), { code: 'METRICS', message: /"loss" is Infinity/ });
  t.throws(() => parseMetrics('[0.9]', 'm'), { code: 'METRICS', message: /must be a JSON object.*an array/ });
  t.throws(() => parseMetrics('{"acc": {"top1": 0.9}}', 'm'), { code: 'METRICS', message: /"acc" must be a number, got an object/ });
  t.throws(() => parseMetrics('{"acc": "0.9"}', 'm'), { code: 'METRICS', message: /"acc" must be a number/ });
  t.throws(() => parseMetrics('{}', 'm'), { code: 'METRICS' });
  t.throws(() => parseMetrics('{"acc": 0.9', 'm'), { code: 'METRICS', message: /not valid JSON/ });

  const tolerances = parseTolerances(['0.5%', 'loss=0.01', 'a=b=2%']);
  t.same(tolerances.default, { kind: 'relative', value: 0.5, spec: '0.5%' });
  t.same(tolerances.perMetric.get('loss'), { kind: 'absolute', value: 0.01, spec: '0.01' });
  t.same(tolerances.perMetric.get('a=b'), { kind: 'relative', value: 2, spec: '2%' }, 'the name is split at the last "="');
  t.equal(parseTolerances([]).default.spec, '1%');
  for (const bad of ['abc', '-1%', '1%%', 'loss=', '=1%', 'loss=x', 'NaN', 'Infinity', '1e999']) {
    t.throws(() => parseTolerances([bad]), { code: 'TOLERANCE' }, bad);
  }
  t.throws(() => parseTolerances(['1%', '2%']), { code: 'TOLERANCE', message: /twice/ });
  t.throws(() => parseTolerances(['a=1%', 'a=2%']), { code: 'TOLERANCE', message: /twice/ });

  // Bounds are inclusive, and 0.9 → 0.909 at 1% passes although 0.909 - 0.9 > 0.009 in doubles.
  const compared = compareMetrics({ acc: 0.909, loss: 0.26, f1: 0.5, extra: 1 }, { acc: 0.9, loss: 0.25, f1: 0.5, gone: 3 }, parseTolerances(['loss=0.005']));
  t.same(
    compared.comparisons.map((c) => [c.metric, c.result, c.reason]),
    [['acc', 'PASSED', 'within-tolerance'], ['extra', 'WARNED', 'unreferenced'], ['f1', 'PASSED', 'within-tolerance'], ['gone', 'FAILED', 'missing'], ['loss', 'FAILED', 'out-of-tolerance']],
  );
  t.equal(compared.result, 'FAILED');
  t.equal(compareMetrics({ a: 1 }, { a: 1 }, parseTolerances([])).result, 'PASSED');
  t.equal(compareMetrics({ a: 1, b: 2 }, { a: 1 }, parseTolerances([])).result, 'WARNED');
  t.equal(compareMetrics({ a: 0 }, { a: 0 }, parseTolerances([])).result, 'PASSED', 'a zero reference matches only zero under a relative tolerance');
  t.equal(compareMetrics({ a: 1e-9 }, { a: 0 }, parseTolerances([])).result, 'FAILED');
  t.throws(() => compareMetrics({ a: 1 }, { a: 1 }, parseTolerances(['typo=1%'])), { code: 'TOLERANCE', message: /"typo"/ });
});

t.test('attest evaluate through the CLI', async (t) => {
  const data = join(dir, 'eval-data');
  mkdirSync(data);
  writeFileSync(join(data, 'test.jsonl'), '{"x":1}\n');
  const manifestBytes = serializeDatasetManifest(await buildDatasetManifest(data));
  writeFileSync(join(dir, 'eval-data.json'), manifestBytes);
  const first = join(dir, 'first.sigstore.json');
  const firstMetrics = join(dir, 'first-metrics.json');
  const evaluator = `require('fs').writeFileSync(${JSON.stringify(firstMetrics)}, JSON.stringify({accuracy: 0.9, loss: 0.25}))`;
  const base = ['attest', 'evaluate', '--key', keyPath, '--model', model];

  // The first evaluation runs its evaluator and records the metrics; no reference, nothing compared.
  const ran = await runCli([...base, '--metrics', firstMetrics, '--output-file', first, '--dataset-manifest', `s3://acme/eval=${join(dir, 'eval-data.json')}`, '--url', 'https://ci.example.com/runs/7', '--', NODE, '-e', evaluator], { cwd: dir });
  t.equal(ran.code, 0, ran.stderr);
  t.equal(ran.stdout.trim(), first);
  const statement = statementOf(first);
  t.equal(statement.predicateType, TEST_RESULT_PREDICATE_TYPE);
  t.same(statement.subject, [
    { name: 'config.json', digest: { sha256: sha('{"layers":2}') } },
    { name: 'model.safetensors', digest: { sha256: sha(Buffer.alloc(4096, 7)) } },
    { name: 'model/', digest: { sha256: rootDigest } },
  ]);
  t.match(statement.predicate, { result: 'PASSED', url: 'https://ci.example.com/runs/7', passedTests: [], warnedTests: [], failedTests: [] });
  t.same(statement.predicate.metrics, { accuracy: 0.9, loss: 0.25 });
  t.same(statement.predicate.modelgateEvaluation.evaluator.command, [NODE, '-e', evaluator]);
  t.same(statement.predicate.configuration, [
    { uri: 's3://acme/eval', digest: { sha256: sha(manifestBytes) }, annotations: { 'modelgate.dev/kind': 'dataset', 'modelgate.dev/merkle-root': JSON.parse(manifestBytes.toString()).merkleRoot } },
    { name: 'first-metrics.json', uri: `file://${firstMetrics}`, digest: { sha256: sha(readFileSync(firstMetrics)) }, annotations: { 'modelgate.dev/kind': 'metrics' } },
  ]);

  const verify = (bundle: string) => runCli(['verify-bundle', '--bundle', bundle, '--key', pubPath, '--tlog-threshold', '0', '--trusted-root', join(VECTORS, 'trust/public-good.trusted_root.json'), `sha256:${rootDigest}`]);
  const reference = ['--reference', first, '--reference-key', pubPath];
  const [firstVerified, within, outside, missing, unverifiedRef, nan, badTolerance, wrongKey, failing] = await Promise.all([
    verify(first),
    runCli([...base, '--metrics', metricsFile('within.json', '{"accuracy": 0.905, "loss": 0.2501}'), '--output-file', join(dir, 'within.sigstore.json'), ...reference]),
    runCli([...base, '--metrics', metricsFile('outside.json', '{"accuracy": 0.85, "loss": 0.25}'), '--output-file', join(dir, 'outside.sigstore.json'), ...reference, '--tolerance', 'accuracy=0.01']),
    runCli([...base, '--metrics', metricsFile('missing.json', '{"accuracy": 0.9}'), '--output-file', join(dir, 'missing.sigstore.json'), ...reference]),
    runCli([...base, '--metrics', metricsFile('unverified.json', '{"accuracy": 0.9, "loss": 0.25, "f1": 0.7}'), '--output-file', join(dir, 'unverified.sigstore.json'), '--reference', firstMetrics]),
    runCli([...base, '--metrics', metricsFile('nan.json', '{"accuracy": NaN, "loss": 0.25}'), '--output-file', join(dir, 'nan.sigstore.json')]),
    runCli([...base, '--metrics', firstMetrics, '--output-file', join(dir, 'bad-tol.sigstore.json'), ...reference, '--tolerance', 'accuracy=1.5pc']),
    runCli([...base, '--metrics', firstMetrics, '--output-file', join(dir, 'wrong-key.sigstore.json'), '--reference', first, '--reference-key', otherPubPath]),
    runCli([...base, '--metrics', join(dir, 'never.json'), '--output-file', join(dir, 'failing.sigstore.json'), '--', NODE, '-e', 'process.exit(5)']),
  ]);

  t.equal(firstVerified.code, 0, firstVerified.stderr);
  t.match(firstVerified.stdout, /Verified OK/);

  // The policy reads the metrics of a test-result attestation as it reads modelgate's evaluation/v1.
  const digest = parseDigest(`sha256:${rootDigest}`);
  const signer = { method: 'key' as const, keyId: 'sha256:test' };
  const policyInput = buildPolicyInput({
    artifact: { uri: `oci://registry.example/models/m@${digest}`, verifiedDigest: digest },
    attestations: [
      { signer, subjectDigest: digest, predicateType: statement.predicateType, predicate: statement.predicate },
      { signer, subjectDigest: digest, predicateType: TEST_RESULT_PREDICATE_TYPE, predicate: { result: 'PASSED', configuration: [], passedTests: ['unit'] } },
    ],
    context: { mode: 'cli', time: new Date('2026-11-26T00:00:00Z') },
  });
  t.same(policyInput.attestations.map((a) => a.evaluation), [{ metrics: { accuracy: 0.9, loss: 0.25 } }, null], 'a test result without metrics is no evaluation');

  t.equal(within.code, 0, within.stderr);
  const withinStatement = statementOf(join(dir, 'within.sigstore.json'));
  t.match(withinStatement.predicate, { result: 'PASSED', passedTests: ['accuracy', 'loss'], failedTests: [] });
  t.match(withinStatement.predicate.modelgateEvaluation.reference, { verified: true, metrics: { accuracy: 0.9, loss: 0.25 }, digest: { sha256: sha(readFileSync(first)) } });
  t.match(withinStatement.predicate.configuration.at(-1), { uri: `file://${first}`, annotations: { 'modelgate.dev/kind': 'reference-evaluation' } });
  const withinVerified = await verify(join(dir, 'within.sigstore.json'));
  t.equal(withinVerified.code, 0, withinVerified.stderr);

  t.equal(outside.code, 1, 'a metric out of tolerance exits 1');
  t.match(outside.stderr, /OUT_OF_TOLERANCE: accuracy/);
  t.match(outside.stderr, /FAILED accuracy: 0\.85 vs reference 0\.9/);
  const outsideStatement = statementOf(join(dir, 'outside.sigstore.json'));
  t.match(outsideStatement.predicate, { result: 'FAILED', passedTests: ['loss'], failedTests: ['accuracy'] });
  t.match(outsideStatement.predicate.modelgateEvaluation.comparisons[0], { metric: 'accuracy', result: 'FAILED', reason: 'out-of-tolerance', value: 0.85, reference: 0.9, allowed: 0.01, tolerance: '0.01' });

  t.equal(missing.code, 1, 'a missing metric exits 1');
  t.match(missing.stderr, /METRIC_MISSING: loss/);
  t.match(statementOf(join(dir, 'missing.sigstore.json')).predicate, { result: 'FAILED', passedTests: ['accuracy'], failedTests: ['loss'] });

  t.equal(unverifiedRef.code, 0, unverifiedRef.stderr);
  t.match(unverifiedRef.stderr, /without verifying a signature/);
  t.match(statementOf(join(dir, 'unverified.sigstore.json')).predicate, { result: 'WARNED', passedTests: ['accuracy', 'loss'], warnedTests: ['f1'], modelgateEvaluation: { reference: { verified: false } } });

  for (const [result, code, pattern, bundle] of [
    [nan, 'METRICS', /metric "accuracy" is NaN/, 'nan'],
    [badTolerance, 'TOLERANCE', /"1\.5pc" is neither/, 'bad-tol'],
    [wrongKey, 'REFERENCE', /SIGNATURE|KEY/, 'wrong-key'],
  ] as const) {
    t.equal(result.code, 2, `${code}: ${result.stderr}`);
    t.match(result.stderr, new RegExp(`modelgate: ${code}: `));
    t.match(result.stderr, pattern);
    t.notOk(existsSync(join(dir, `${bundle}.sigstore.json`)), `no attestation for ${bundle}`);
  }

  t.equal(failing.code, 5, 'the evaluator exit code is passed through');
  t.match(failing.stderr, /evaluation command failed with exit code 5; no attestation written/);
  t.notOk(existsSync(join(dir, 'failing.sigstore.json')));
});

t.test('keyless: signed through Fulcio/Rekor, and a keyless reference verified by identity', async (t) => {
  const services = await startSigstoreServices();
  t.teardown(() => services.close());
  const root = join(dir, 'trusted_root.json');
  writeFileSync(root, services.trustedRootJson);
  const env: NodeJS.ProcessEnv = { ...process.env, SIGSTORE_ID_TOKEN: services.token('alice@example.com') };
  for (const name of ['MODELGATE_FULCIO_URL', 'MODELGATE_REKOR_URL', 'MODELGATE_TSA_URL']) delete env[name];
  const keyless = ['attest', 'evaluate', '--model', model, '--fulcio-url', services.fulcioUrl, '--rekor-url', services.rekorUrl];
  const first = join(dir, 'keyless-first.sigstore.json');
  const signed = await runCli([...keyless, '--metrics', metricsFile('keyless.json', '{"accuracy": 0.9}'), '--output-file', first], { env });
  t.equal(signed.code, 0, signed.stderr);
  t.match(signed.stderr, /Signing keyless as alice@example\.com/);
  const identity = ['--reference-certificate-identity', 'alice@example.com', '--reference-certificate-oidc-issuer', services.issuer, '--trusted-root', root];
  const [again, stranger] = await Promise.all([
    runCli([...keyless, '--metrics', metricsFile('keyless-again.json', '{"accuracy": 0.901}'), '--output-file', join(dir, 'keyless-again.sigstore.json'), '--reference', first, ...identity], { env }),
    runCli([...keyless, '--metrics', metricsFile('keyless-again.json', '{"accuracy": 0.901}'), '--output-file', join(dir, 'keyless-stranger.sigstore.json'), '--reference', first, ...identity.map((a) => (a === 'alice@example.com' ? 'mallory@example.com' : a))], { env }),
  ]);
  t.equal(again.code, 0, again.stderr);
  t.match(statementOf(join(dir, 'keyless-again.sigstore.json')).predicate, { result: 'PASSED', passedTests: ['accuracy'], modelgateEvaluation: { reference: { verified: true, signer: /^alice@example\.com \(issuer / } } });
  t.equal(stranger.code, 2, 'a reference signed by another identity is refused');
  t.match(stranger.stderr, /modelgate: REFERENCE: /);
  t.notOk(existsSync(join(dir, 'keyless-stranger.sigstore.json')));
});
