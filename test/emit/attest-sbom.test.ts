// `modelgate attest sbom` end to end against the loopback registry: a CycloneDX 1.6 SBOM of the
// training environment (npm, pip, poetry, uv and conda lockfiles; the training container; NVIDIA
// driver, CUDA and GPUs from the real nvidia-smi fixture output; runtimes) signed about the pushed
// model and attached as a referrer, so that policy data requiring `https://cyclonedx.org/bom` denies
// the model before and allows it after; `explain` then shows the SBOM.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CYCLONEDX_BOM_PREDICATE } from '../../src/emit/sbom.ts';
import { parseCudaVersion } from '../../src/emit/gpu-info.ts';
import { sbomView, SPDX_PREDICATE_TYPE } from '../../src/explain/sbom-view.ts';
import { keyId } from '../../src/sigstore/keys.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO, runCli, SHARED } from '../helpers/run-cli.ts';

const GPU_FIXTURES = join(SHARED, 'fixtures/gpu-host');
const TRAINER = `ghcr.io/acme/trainer@sha256:${'1'.repeat(64)}`;
const dir = mkdtempSync(join(tmpdir(), 'modelgate-attest-sbom-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const registry = await startRegistry({ t });

const source = join(dir, 'source');
mkdirSync(source);
writeFileSync(
  join(source, 'package-lock.json'),
  JSON.stringify({
    name: 'trainer',
    lockfileVersion: 3,
    packages: {
      '': { name: 'trainer', version: '1.0.0' },
      'node_modules/@tensorflow/tfjs-node': { version: '4.22.0', license: 'Apache-2.0' },
      'node_modules/left-pad': { version: '1.3.0', license: 'WTFPL' },
      'node_modules/odd': { version: '0.1.0', license: 'SEE LICENSE IN LICENSE.md' },
    },
  }),
);
writeFileSync(join(source, 'requirements.txt'), '# pinned\ntorch==2.5.0 ; python_version >= "3.10"\nNumPy[extra]==1.26.4 \\\n    --hash=sha256:abc\nrequests>=2\n');
writeFileSync(join(source, 'poetry.lock'), '[[package]]\nname = "transformers"\nversion = "4.46.0"\n\n[[package]]\nname = "torch"\nversion = "2.5.0"\n');
writeFileSync(join(source, 'uv.lock'), 'version = 1\n\n[[package]]\nname = "safetensors"\nversion = "0.4.5"\n');
writeFileSync(join(source, 'environment.yml'), 'name: train\ndependencies:\n  - python=3.12.3\n  - conda-forge::cudatoolkit=12.4.1=h123\n  - pip:\n      - accelerate==1.1.0\n');
writeFileSync(join(source, 'yarn.lock'), '# yarn lockfile v1\n');
const bin = join(dir, 'bin');
mkdirSync(bin);
const nvidiaSmi = join(bin, 'nvidia-smi');
const fixture = (name: string): string => JSON.stringify(join(GPU_FIXTURES, name));
writeFileSync(nvidiaSmi, `#!/bin/sh\nif [ "$#" -gt 0 ]; then cat ${fixture('nvidia-smi-query.csv')}; else cat ${fixture('nvidia-smi.txt')}; fi\n`);
chmodSync(nvidiaSmi, 0o755);

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'cosign.key');
const pubPath = join(dir, 'cosign.pub');
writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));

const model = join(dir, 'model');
mkdirSync(model);
writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(512, 7));
const pushed = await runCli(['push', model, `oci://${registry.host}/models/sbom:v1`]);
const pinned = `oci://${registry.host}/models/sbom@${pushed.stdout.trim()}`;

const defaults = JSON.parse(readFileSync(join(REPO, 'policies/data.json'), 'utf8')).modelgate_config;
const dataPath = join(dir, 'data.json');
writeFileSync(
  dataPath,
  JSON.stringify({
    modelgate_config: {
      ...defaults,
      signers: { threshold: 1, keys: { [`sha256:${keyId(publicKey)}`]: {} }, identities: {} },
      provenance: { ...defaults.provenance, required: false },
      attestations: { required: { [CYCLONEDX_BOM_PREDICATE]: {} } },
    },
  }),
);
const verify = () => runCli(['verify', pinned, '--data', dataPath, '--key', pubPath, '--output', 'json']);

t.test('CUDA version from the real nvidia-smi banner', async (t) => {
  t.equal(parseCudaVersion(readFileSync(join(GPU_FIXTURES, 'nvidia-smi.txt'), 'utf8')), '13.0');
  t.equal(parseCudaVersion('no banner'), undefined);
});

t.test('attest sbom: signed, attached, required by policy, shown by explain', async (t) => {
  t.equal(pushed.code, 0, pushed.stderr);
  // Sign the model with the same key, so only the SBOM is missing.
  const signed = await runCli(['sign', pinned, '--key', keyPath]);
  t.equal(signed.code, 0, signed.stderr);
  const before = await verify();
  t.equal(before.code, 1, 'no SBOM yet');
  t.same((JSON.parse(before.stdout) as { reasons: { code: string }[] }).reasons.map((r) => r.code), ['ATTESTATION_MISSING']);

  const sbomOut = join(dir, 'sbom.cdx.json');
  const attested = await runCli(['attest', 'sbom', pinned, '--source', source, '--container', TRAINER, '--nvidia-smi', nvidiaSmi, '--key', keyPath, '--sbom-out', sbomOut]);
  t.equal(attested.code, 0, attested.stderr);
  t.match(attested.stdout, /^sha256:[0-9a-f]{64}\n$/);
  t.match(attested.stderr, 'SBOM: 10 packages from environment.yml, package-lock.json, poetry.lock, requirements.txt, uv.lock; not parsed: yarn.lock; 1 GPUs, CUDA 13.0');

  const bom = JSON.parse(readFileSync(sbomOut, 'utf8')) as {
    bomFormat: string;
    specVersion: string;
    metadata: { component: { type: string; name: string; hashes: { alg: string; content: string }[] } };
    components: { type: string; name: string; version?: string; purl?: string; licenses?: unknown[] }[];
  };
  t.same([bom.bomFormat, bom.specVersion], ['CycloneDX', '1.6']);
  t.same(bom.metadata.component.type, 'machine-learning-model');
  t.same(bom.metadata.component.hashes, [{ alg: 'SHA-256', content: pushed.stdout.trim().slice('sha256:'.length) }]);
  const purls = bom.components.flatMap((c) => (c.purl === undefined ? [] : [c.purl])).sort();
  t.same(purls, [
    'pkg:conda/cudatoolkit@12.4.1',
    'pkg:conda/python@3.12.3',
    'pkg:npm/%40tensorflow/tfjs-node@4.22.0',
    'pkg:npm/left-pad@1.3.0',
    'pkg:npm/odd@0.1.0',
    'pkg:pypi/accelerate@1.1.0',
    'pkg:pypi/numpy@1.26.4',
    'pkg:pypi/safetensors@0.4.5',
    'pkg:pypi/torch@2.5.0',
    'pkg:pypi/transformers@4.46.0',
  ]);
  const byName = (name: string) => bom.components.find((c) => c.name === name);
  t.same(byName('tfjs-node')?.licenses, [{ expression: 'Apache-2.0' }]);
  t.same(byName('odd')?.licenses, [{ license: { name: 'SEE LICENSE IN LICENSE.md' } }]);
  t.same([byName('nvidia-driver')?.type, byName('nvidia-driver')?.version], ['device-driver', '580.159.04']);
  t.same([byName('cuda')?.type, byName('cuda')?.version], ['platform', '13.0']);
  t.equal(byName('NVIDIA H200')?.type, 'device');
  t.same([byName('ghcr.io/acme/trainer')?.type, byName('ghcr.io/acme/trainer')?.version], ['container', `sha256:${'1'.repeat(64)}`]);
  t.ok(byName('node')?.version, 'the node runtime is recorded');

  const after = await verify();
  t.equal(after.code, 0, `the required SBOM is now attached: ${after.stdout} ${after.stderr}`);

  const explained = await runCli(['explain', pinned, '--data', dataPath, '--key', pubPath]);
  t.equal(explained.code, 0, explained.stderr);
  for (const shown of ['SBOM — CycloneDX 1.6', '10 packages', 'Notable versions', 'torch', '2.5.0', 'nvidia-driver', '580.159.04', 'cuda', '13.0', 'Licences', 'Apache-2.0', 'not stated']) {
    t.ok(explained.stdout.includes(shown), `explain shows ${shown}`);
  }
});

t.test('attest sbom refuses an unparseable lockfile and an unpinned container', async (t) => {
  const broken = join(dir, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'poetry.lock'), '[[package]\nname = ');
  const [bad, unpinned] = await Promise.all([
    runCli(['attest', 'sbom', pinned, '--source', broken, '--nvidia-smi', nvidiaSmi, '--key', keyPath]),
    runCli(['attest', 'sbom', pinned, '--source', source, '--container', 'ghcr.io/acme/trainer:latest', '--key', keyPath]),
  ]);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /LOCKFILE: lockfile .*poetry\.lock cannot be parsed/);
  t.equal(unpinned.code, 2);
  t.match(unpinned.stderr, /USAGE: training container ghcr\.io\/acme\/trainer:latest must be pinned by digest/);
});

t.test('explain reads an SPDX 2.3 document too', async (t) => {
  const view = sbomView(SPDX_PREDICATE_TYPE, {
    spdxVersion: 'SPDX-2.3',
    packages: [
      { name: 'torch', versionInfo: '2.5.0', licenseConcluded: 'BSD-3-Clause' },
      { name: 'tqdm', versionInfo: '4.66.5', licenseConcluded: 'NOASSERTION', licenseDeclared: 'MIT OR MPL-2.0' },
      { name: 'mystery', versionInfo: '1' },
    ],
  });
  t.same(view, {
    kind: 'sbom',
    format: 'SPDX',
    specVersion: 'SPDX-2.3',
    packageCount: 3,
    notable: [{ type: 'package', name: 'torch', version: '2.5.0' }],
    licenses: [
      { license: 'BSD-3-Clause', packages: 1 },
      { license: 'MIT OR MPL-2.0', packages: 1 },
      { license: 'not stated', packages: 1 },
    ],
  });
  t.equal(sbomView(SPDX_PREDICATE_TYPE, { note: 'not an SPDX document' }), undefined, 'anything else is shown generically');
});
