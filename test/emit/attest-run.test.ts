// modelgate attest run: a successful training command yields a signed SLSA Provenance v1 bundle
// (subjects = every output file + the OMS root; SLSA v1 schema-valid; source commit read from .git,
// lockfiles, datasets tagged for the policy, container, determinism env, GPUs from nvidia-smi); a
// failing command yields no provenance and its exit code. nvidia-smi output is the real fixture.
import { execFile, execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import t from 'tap';
import { normalizeProvenance } from '../../src/attest/provenance.ts';
import { parseStatementPayload } from '../../src/attest/statement.ts';
import { buildDatasetManifest, serializeDatasetManifest } from '../../src/dataset/manifest.ts';
import { parseNvidiaSmiCsv } from '../../src/emit/gpu-info.ts';
import { readGitCheckout, findLockfiles } from '../../src/emit/source-tree.ts';
import { TRAINING_BUILD_TYPE } from '../../src/emit/training-provenance.ts';
import { KEYS_ONLY_TRUST } from '../../src/pipeline/deps.ts';
import { verifyBundle } from '../../src/sigstore/bundle.ts';
import { REPO, SHARED } from '../helpers/run-cli.ts';

const NODE = join(REPO, 'node_modules/.bin/node');
const GPU_FIXTURES = join(SHARED, 'fixtures/gpu-host');
const dir = mkdtempSync(join(tmpdir(), 'modelgate-attest-run-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const source = join(dir, 'src');
mkdirSync(join(source, '.git/refs/heads'), { recursive: true });
writeFileSync(join(source, '.git/HEAD'), 'ref: refs/heads/main\n');
writeFileSync(join(source, '.git/packed-refs'), `# pack-refs with: peeled fully-peeled sorted\n${COMMIT} refs/heads/main\n`);
writeFileSync(join(source, '.git/config'), '[core]\n\tbare = false\n[remote "origin"]\n\turl = https://github.com/acme/train.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n');
writeFileSync(join(source, 'requirements.txt'), 'torch==2.5.0\n');
writeFileSync(join(source, 'uv.lock'), 'version = 1\n');
writeFileSync(join(source, 'train.py'), 'print(1)\n');
const bin = join(dir, 'bin');
mkdirSync(bin);
writeFileSync(join(bin, 'nvidia-smi'), `#!/bin/sh\ncat ${JSON.stringify(join(GPU_FIXTURES, 'nvidia-smi-query.csv'))}\n`);
chmodSync(join(bin, 'nvidia-smi'), 0o755);
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'train.key');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(join(dir, 'hp.json'), '{"lr":0.01,"epochs":2}');
const datasetOci = `oci://registry.example/datasets/images@sha256:${'ab'.repeat(32)}`;
const container = `ghcr.io/acme/train@sha256:${'cd'.repeat(32)}`;

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, [join(REPO, 'src/cli/main.ts'), ...args], { cwd: dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

// The SLSA Provenance v1 predicate (https://slsa.dev/spec/v1.0/provenance) and the in-toto Statement v1 it sits in.
const RESOURCE_DESCRIPTOR = {
  type: 'object',
  properties: {
    uri: { type: 'string', minLength: 1 },
    digest: { type: 'object', additionalProperties: { type: 'string', pattern: '^[0-9a-f]+$' } },
    name: { type: 'string' },
    downloadLocation: { type: 'string' },
    mediaType: { type: 'string' },
    content: { type: 'string' },
    annotations: { type: 'object' },
  },
  anyOf: [{ required: ['uri'] }, { required: ['digest'] }, { required: ['content'] }],
  additionalProperties: false,
};
const TIMESTAMP = { type: 'string', format: 'date-time', pattern: 'Z$' };
const SLSA_V1_STATEMENT = {
  type: 'object',
  required: ['_type', 'subject', 'predicateType', 'predicate'],
  properties: {
    _type: { const: 'https://in-toto.io/Statement/v1' },
    subject: { type: 'array', minItems: 1, items: { type: 'object', required: ['digest'], properties: { name: { type: 'string' }, digest: { type: 'object', minProperties: 1 } } } },
    predicateType: { const: 'https://slsa.dev/provenance/v1' },
    predicate: {
      type: 'object',
      required: ['buildDefinition', 'runDetails'],
      additionalProperties: false,
      properties: {
        buildDefinition: {
          type: 'object',
          required: ['buildType', 'externalParameters'],
          additionalProperties: false,
          properties: {
            buildType: { type: 'string', format: 'uri' },
            externalParameters: { type: 'object' },
            internalParameters: { type: 'object' },
            resolvedDependencies: { type: 'array', items: RESOURCE_DESCRIPTOR },
          },
        },
        runDetails: {
          type: 'object',
          required: ['builder'],
          additionalProperties: false,
          properties: {
            builder: {
              type: 'object',
              required: ['id'],
              additionalProperties: false,
              properties: { id: { type: 'string', format: 'uri' }, version: { type: 'object' }, builderDependencies: { type: 'array', items: RESOURCE_DESCRIPTOR } },
            },
            metadata: { type: 'object', additionalProperties: false, properties: { invocationId: { type: 'string' }, startedOn: TIMESTAMP, finishedOn: TIMESTAMP } },
            byproducts: { type: 'array', items: RESOURCE_DESCRIPTOR },
          },
        },
      },
    },
  },
};

t.test('nvidia-smi CSV (real output) and .git reading', async (t) => {
  const gpus = parseNvidiaSmiCsv(readFileSync(join(GPU_FIXTURES, 'nvidia-smi-query.csv'), 'utf8'));
  t.ok(gpus.length >= 1);
  t.same(gpus[0], { name: 'NVIDIA H200', driverVersion: '580.159.04', memoryTotal: '143771 MiB', pciBusId: '00000000:00:06.0', uuid: 'GPU-31ae4517-8a8f-756e-e47b-02e3f73cbacc', computeCapability: '9.0' });
  t.same(parseNvidiaSmiCsv(''), []);
  t.match(readGitCheckout(join(source)), { commit: COMMIT, ref: 'refs/heads/main', originUrl: 'https://github.com/acme/train.git', root: source });
  const detached = join(dir, 'detached');
  mkdirSync(join(detached, '.git'), { recursive: true });
  writeFileSync(join(detached, '.git/HEAD'), `${'f'.repeat(40)}\n`);
  mkdirSync(join(detached, 'sub'));
  t.match(readGitCheckout(join(detached, 'sub')), { commit: 'f'.repeat(40), ref: undefined, originUrl: undefined });
  const worktree = join(dir, 'worktree');
  mkdirSync(worktree);
  writeFileSync(join(worktree, '.git'), `gitdir: ${join(detached, '.git')}\n`);
  t.equal(readGitCheckout(worktree)?.commit, 'f'.repeat(40));
  writeFileSync(join(detached, '.git/HEAD'), 'garbage\n');
  t.throws(() => readGitCheckout(detached), { code: 'SOURCE' });
  t.same(findLockfiles(source).map((l) => l.name), ['requirements.txt', 'uv.lock']);
});

t.test('attest run: provenance on success, nothing on failure', async (t) => {
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'train.jsonl'), '{"x":1}\n');
  const manifestBytes = serializeDatasetManifest(await buildDatasetManifest(data));
  writeFileSync(join(dir, 'dataset.json'), manifestBytes);
  const outputs = join(dir, 'out');
  const train = "const fs=require('fs');fs.mkdirSync('out/ckpt',{recursive:true});fs.writeFileSync('out/model.bin',Buffer.alloc(1000,1));fs.writeFileSync('out/ckpt/step-1.bin','s1')";
  const failedOut = join(dir, 'failed-out');
  const [ok, failed] = await Promise.all([
    run(
      ['attest', 'run', '--outputs', outputs, '--key', keyPath, '--builder-id', 'https://ci.example.com/builders/gpu-pool', '--invocation-id', 'job-17',
        '--dataset', datasetOci, '--dataset-manifest', `s3://acme-data/train=${join(dir, 'dataset.json')}`, '--params', join(dir, 'hp.json'), '--seed', '42',
        '--container', container, '--source', source, '--', NODE, '-e', train],
      { PYTHONHASHSEED: '0', CUBLAS_WORKSPACE_CONFIG: ':4096:8' },
    ),
    run(['attest', 'run', '--outputs', failedOut, '--key', keyPath, '--builder-id', 'https://ci.example.com/b', '--', NODE, '-e', "require('fs').mkdirSync('failed-out');require('fs').writeFileSync('failed-out/x','1');process.exit(3)"]),
  ]);
  t.equal(failed.code, 3, 'the training exit code is passed through');
  t.match(failed.stderr, /no provenance written/);
  t.notOk(existsSync(`${failedOut}.provenance.sigstore.json`));

  t.equal(ok.code, 0, ok.stderr);
  const bundlePath = `${outputs}.provenance.sigstore.json`;
  t.equal(ok.stdout.trim(), bundlePath);
  const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
  const verified = await verifyBundle(bundle, { trust: KEYS_ONLY_TRUST, signer: { kind: 'key', keys: [publicKey] }, tlogThreshold: 0 });
  t.equal(verified.content.kind, 'dsse');
  const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
  const statement = JSON.parse(payload.toString('utf8'));
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const valid = ajv.validate(SLSA_V1_STATEMENT, statement);
  t.ok(valid, JSON.stringify(ajv.errors));

  const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
  const fileDigests = [['ckpt/step-1.bin', sha('s1')], ['model.bin', sha(Buffer.alloc(1000, 1))]];
  const root = sha(Buffer.concat(fileDigests.map(([, d]) => Buffer.from(d!, 'hex'))));
  t.same(statement.subject, [...fileDigests.map(([name, d]) => ({ name, digest: { sha256: d } })), { name: 'out/', digest: { sha256: root } }]);

  const { buildDefinition, runDetails } = statement.predicate;
  t.equal(buildDefinition.buildType, TRAINING_BUILD_TYPE);
  t.same(buildDefinition.externalParameters.command, [NODE, '-e', train]);
  t.same(buildDefinition.externalParameters.hyperparameters, { lr: 0.01, epochs: 2 });
  t.same(buildDefinition.externalParameters.seeds, ['42']);
  t.match(buildDefinition.internalParameters.determinism, { PYTHONHASHSEED: '0', CUBLAS_WORKSPACE_CONFIG: ':4096:8' });
  t.equal(buildDefinition.internalParameters.hardware.gpus[0].name, 'NVIDIA H200');
  t.ok(buildDefinition.internalParameters.hardware.cpu.count >= 1);
  t.equal(buildDefinition.internalParameters.runtime.node, process.versions.node);
  const python = /Python\s+(\S+)/.exec(execFileSync('python3', ['--version'], { encoding: 'utf8' }))?.[1];
  t.equal(buildDefinition.internalParameters.runtime.python, python, 'python3 --version recorded');
  t.same(buildDefinition.resolvedDependencies, [
    { uri: 'git+https://github.com/acme/train.git@refs/heads/main', digest: { gitCommit: COMMIT }, annotations: { 'modelgate.dev/kind': 'source' } },
    { uri: 'oci://ghcr.io/acme/train', digest: { sha256: 'cd'.repeat(32) }, annotations: { 'modelgate.dev/kind': 'container' } },
    { name: 'requirements.txt', digest: { sha256: sha('torch==2.5.0\n') }, annotations: { 'modelgate.dev/kind': 'other', 'modelgate.dev/role': 'lockfile' } },
    { name: 'uv.lock', digest: { sha256: sha('version = 1\n') }, annotations: { 'modelgate.dev/kind': 'other', 'modelgate.dev/role': 'lockfile' } },
    { uri: 'oci://registry.example/datasets/images', digest: { sha256: 'ab'.repeat(32) }, annotations: { 'modelgate.dev/kind': 'dataset' } },
    { uri: 's3://acme-data/train', digest: { sha256: sha(manifestBytes) }, annotations: { 'modelgate.dev/kind': 'dataset', 'modelgate.dev/merkle-root': JSON.parse(manifestBytes.toString()).merkleRoot } },
  ]);
  t.equal(runDetails.builder.id, 'https://ci.example.com/builders/gpu-pool');
  t.equal(runDetails.metadata.invocationId, 'job-17');
  t.ok(Date.parse(runDetails.metadata.startedOn) <= Date.parse(runDetails.metadata.finishedOn));

  const normalized = normalizeProvenance(parseStatementPayload('application/vnd.in-toto+json', payload));
  t.equal(normalized.builderId, 'https://ci.example.com/builders/gpu-pool');
  t.equal(normalized.resolvedDependencies.length, 6);
});
