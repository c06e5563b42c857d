// The training-side emitter end to end, on generated data against the loopback registry, through the
// CLI only: keygen → dataset manifest → dataset sign → attest run (a deterministic node "training"
// script) → push (lineage annotations) → sign (referrer + legacy) → attest attach (the run's SLSA
// bundle, its predicate re-signed about the pushed manifest) → `modelgate verify` allows it with a policy trusting that key,
// builder, source and dataset — and denies it when the dataset allowlist names another version.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { keyId } from '../../src/sigstore/keys.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO } from '../helpers/run-cli.ts';
import { writeDatasetShards, writeSourceCheckout } from '../helpers/source-checkout.ts';

const NODE = join(REPO, 'node_modules/.bin/node');
const PASSWORD = 'round-trip-pass';
const BUILDER = 'https://ci.acme.dev/builders/gpu-pool@v1';
const SOURCE = 'https://github.com/acme/train';
const COMMIT = 'a'.repeat(40);
const DATASET_URI = 's3://acme-data/reviews';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-round-trip-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [join(REPO, 'src/cli/main.ts'), ...args], { cwd: dir, env: { ...process.env, MODELGATE_PASSWORD: PASSWORD }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

async function ok(t: Test, args: string[]): Promise<string> {
  const result = await run(args);
  t.equal(result.code, 0, `modelgate ${args.slice(0, 2).join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function policyData(keyDigest: string, datasetDigest: string): unknown {
  return {
    modelgate_config: {
      signers: { threshold: 1, keys: { [keyDigest]: {} }, identities: {} },
      provenance: { required: true, builders: { [BUILDER]: {} }, buildTypes: { 'https://modelgate.dev/buildtypes/training-run/v1': {} } },
      sources: { repositories: { [SOURCE]: {} } },
      datasets: { [DATASET_URI]: { digests: { [datasetDigest]: {} } } },
      containers: { digests: {}, repositories: {} },
      revoked: { digests: {}, keys: {}, identities: {} },
      evaluation: { required: false, thresholds: {} },
      modelSignature: { required: false },
      unverifiable: { allowed: {} },
      exceptions: {},
    },
  };
}

t.test('emit, publish and admit a model', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  // Source checkout with its git metadata, and a dataset.
  const source = writeSourceCheckout(dir, COMMIT, SOURCE);
  const data = writeDatasetShards(dir, 5);

  const [, manifestOut] = await Promise.all([
    ok(t, ['keygen', '--output-key-prefix', join(dir, 'signer')]),
    ok(t, ['dataset', 'manifest', data, '--output-file', join(dir, 'dataset.json')]),
  ]);
  t.equal(manifestOut, '');
  const keyPath = join(dir, 'signer.key');
  const pubPath = join(dir, 'signer.pub');
  writeFileSync(join(dir, 'hparams.json'), '{"lr":0.1,"steps":10}');

  // "Training": a deterministic function of the dataset, written to out/.
  const train = "const fs=require('fs');const rows=fs.readdirSync('data').sort().map(f=>fs.readFileSync('data/'+f,'utf8'));fs.mkdirSync('out',{recursive:true});fs.writeFileSync('out/model.safetensors',Buffer.from(rows.join('')));fs.writeFileSync('out/config.json','{\"layers\":1}')";
  const [, runOut] = await Promise.all([
    ok(t, ['dataset', 'sign', join(dir, 'dataset.json'), '--key', keyPath]),
    ok(t, ['attest', 'run', '--outputs', join(dir, 'out'), '--key', keyPath, '--builder-id', BUILDER, '--source', source,
      '--dataset-manifest', `${DATASET_URI}=${join(dir, 'dataset.json')}`, '--params', join(dir, 'hparams.json'), '--seed', '7', '--', NODE, '-e', train]),
  ]);
  const bundlePath = runOut.trim();
  const runBundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
  const statement = JSON.parse(Buffer.from(runBundle.dsseEnvelope.payload, 'base64').toString('utf8'));
  t.same(statement.predicate.buildDefinition.externalParameters.hyperparameters, { lr: 0.1, steps: 10 }, 'the --params JSON is recorded as it is');
  const datasetDep = statement.predicate.buildDefinition.resolvedDependencies.find((d: { uri?: string }) => d.uri === DATASET_URI);
  const datasetDigest = `sha256:${datasetDep.digest.sha256 as string}`;

  const digest = (
    await ok(t, ['push', join(dir, 'out'), `oci://${registry.host}/models/reviews:v1`, '--name', 'reviews', '--dataset-digest', datasetDigest,
      '--training-code', `git+${SOURCE}@${COMMIT}`, '--hyperparams', `@${join(dir, 'hparams.json')}`])
  ).trim();
  const pinned = `oci://${registry.host}/models/reviews@${digest}`;
  // The run's bundle is given as it is: attest attach re-signs its statement's predicate (type included) about the image.
  // One writer at a time: distribution 2.8 has no referrers API, and two processes rewriting the
  // referrers tag-schema index at once can lose an entry (a known limit of the fallback, README).
  await ok(t, ['sign', pinned, '--key', keyPath, '--mode', 'both']);
  await ok(t, ['attest', 'attach', pinned, '--predicate', bundlePath, '--key', keyPath]);
  const mismatch = await run(['attest', 'attach', pinned, '--predicate', bundlePath, '--type', 'spdxjson', '--key', keyPath]);
  t.equal(mismatch.code, 2, 'a --type that contradicts the bundle statement is refused');
  t.match(mismatch.stderr, /differs from the bundle statement's predicateType https:\/\/slsa\.dev\/provenance\/v1/);

  const keyDigest = `sha256:${keyId(createPublicKey(readFileSync(pubPath, 'utf8')))}`;
  writeFileSync(join(dir, 'allow.json'), JSON.stringify(policyData(keyDigest, datasetDigest)));
  writeFileSync(join(dir, 'other-dataset.json'), JSON.stringify(policyData(keyDigest, `sha256:${'0'.repeat(64)}`)));
  const [allowed, denied] = await Promise.all([
    run(['verify', pinned, '--data', join(dir, 'allow.json'), '--key', pubPath, '--output', 'json']),
    run(['verify', pinned, '--data', join(dir, 'other-dataset.json'), '--key', pubPath, '--output', 'json']),
  ]);
  const allowJson = JSON.parse(allowed.stdout) as { allow: boolean; outcome: string; reasons?: { code: string }[] };
  t.equal(allowed.code, 0, `${allowed.stdout}\n${allowed.stderr}`);
  t.equal(allowJson.allow, true, JSON.stringify(allowJson.reasons));
  const denyJson = JSON.parse(denied.stdout) as { allow: boolean; reasons?: { code: string }[] };
  t.equal(denyJson.allow, false);
  t.ok(denyJson.reasons?.some((r) => r.code === 'DATASET_DIGEST_MISMATCH'), JSON.stringify(denyJson.reasons));
});
