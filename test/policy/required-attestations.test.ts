// Required attestation types end to end: policy data naming predicate types
// (`attestations.required`) against models in a real registry, checked by `modelgate verify` as a
// subprocess. Each missing type is its own ATTESTATION_MISSING deny naming the type; an attestation of
// the type by an untrusted key does not count; the default data requires none.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { startRegistry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';
import { keyTrustPolicyData, pushSignedModel, SLSA_V1 } from '../helpers/signed-models.ts';

const SPDX = 'https://spdx.dev/Document';
const EVALUATION = 'https://modelgate.dev/evaluation/v1';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-required-att-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const registry = await startRegistry({ t });
const repo = `${registry.host}/models/required`;
const store = openStore(parseReference(repo));
const trusted = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPath = join(dir, 'trusted.pub');
const strangerPath = join(dir, 'stranger.pub');
writeFileSync(keyPath, trusted.publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(strangerPath, stranger.publicKey.export({ type: 'spki', format: 'pem' }));

const sbom = { spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'training-environment', packages: [] };
const withSbom = await pushSignedModel(store, dir, 'with-sbom', trusted.privateKey);
await attachBundle(store, withSbom, signStatementBundle([{ name: 'model', digest: withSbom.digest }], SPDX, sbom, trusted.privateKey));
const strangerSbom = await pushSignedModel(store, dir, 'stranger-sbom', trusted.privateKey);
await attachBundle(store, strangerSbom, signStatementBundle([{ name: 'model', digest: strangerSbom.digest }], SPDX, sbom, stranger.privateKey));

function writeData(name: string, required: readonly string[]): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(keyTrustPolicyData(trusted.publicKey, { requiredAttestations: required })));
  return path;
}
const requireSbom = writeData('sbom', [SPDX, SLSA_V1]);
const requireAll = writeData('all', [SPDX, SLSA_V1, EVALUATION]);
const requireNone = writeData('none', []);

async function verify(digest: string, data: string): Promise<{ code: number; reasons: { code: string; message: string }[]; stderr: string }> {
  const { code, stdout, stderr } = await runCli(['verify', `oci://${repo}@${digest}`, '--data', data, '--key', keyPath, '--key', strangerPath, '--output', 'json']);
  const json = JSON.parse(stdout) as { reasons?: { code: string; message: string }[] };
  return { code, reasons: json.reasons ?? [], stderr };
}

t.test('each required predicate type must come from a trusted signer', async (t) => {
  const [allowed, missingEval, untrusted, noneRequired] = await Promise.all([
    verify(withSbom.digest, requireSbom),
    verify(withSbom.digest, requireAll),
    verify(strangerSbom.digest, requireSbom),
    verify(strangerSbom.digest, requireNone),
  ]);
  t.equal(allowed.code, 0, `SBOM and provenance by the trusted key: allow (${allowed.stderr})`);
  t.same(allowed.reasons, []);

  t.equal(missingEval.code, 1, 'a required evaluation attestation is missing');
  t.same(missingEval.reasons.map((r) => r.code), ['ATTESTATION_MISSING']);
  t.equal(missingEval.reasons[0]!.message, `oci://${repo}@${withSbom.digest}: no ${EVALUATION} attestation by a trusted signer`);

  t.equal(untrusted.code, 1, 'an SBOM signed by a key the data does not trust does not count');
  t.same(untrusted.reasons.map((r) => r.code), ['ATTESTATION_MISSING']);
  t.match(untrusted.reasons[0]!.message, SPDX);

  t.equal(noneRequired.code, 0, `no required types: the same model is admitted (${noneRequired.stderr})`);
});

t.test('two missing types: two denies, one per type', async (t) => {
  const unattested = await pushSignedModel(store, dir, 'only-signed', trusted.privateKey, { signed: false });
  await attachBundle(store, unattested, signStatementBundle([{ digest: unattested.digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, trusted.privateKey));
  const data = writeData('two', [SPDX, EVALUATION]);
  const result = await verify(unattested.digest, data);
  t.equal(result.code, 1);
  const missing = result.reasons.filter((r) => r.code === 'ATTESTATION_MISSING').map((r) => r.message);
  t.equal(missing.length, 2);
  t.ok(missing.some((m) => m.includes(SPDX)) && missing.some((m) => m.includes(EVALUATION)), 'each message names its type');
});
