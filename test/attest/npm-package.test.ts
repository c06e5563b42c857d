/**
 * slsa-verifier `verify-npm-package` (issue 14): a tarball against the attestation set the npm
 * registry serves — SLSA v1 provenance made by the npm CLI on a GitHub-hosted runner (keyless: a
 * GitHub Actions certificate from the test Fulcio, logged in the test Rekor) and an npm publish
 * attestation signed by a registry key (DSSE, logged), shaped as npm writes them. Every check of the
 * upstream order refuses its own mutation; the registry keys format is read from the real keys target
 * in the shared vectors.
 */
import t, { type Test } from 'tap';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, RekorWitness } from '@sigstore/sign';
import { NPM_PUBLISH_PREDICATE_PREFIX, parseNpmAttestations, parseNpmRegistryKeys, verifyNpmPackage, type NpmAttestations, type NpmPackagePolicy } from '../../src/attest/npm-package.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { keylessDsseBundle } from '../../src/sign/keyless.ts';
import { trustFromBytes } from '../../src/sigstore/trust.ts';
import { runCli, VECTORS } from '../helpers/run-cli.ts';
import { startSigstoreServices } from '../helpers/sigstore-services.ts';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const REPOSITORY = 'acme/model-tools';
const NAME = '@acme/model-tools';
const VERSION = '1.2.3';
const PURL = `pkg:npm/${encodeURIComponent('@acme')}/model-tools@${VERSION}`;
const HOSTED = 'https://github.com/actions/runner/github-hosted';
const KEY_ID = 'SHA256:modelgate-test-registry-key';
const IN_TOTO = 'application/vnd.in-toto+json';

const dir = mkdtempSync(join(tmpdir(), 'mg-npm-'));
const tarball = Buffer.from('a package tarball, as npm pack writes it\n');
const tarballPath = join(dir, 'model-tools-1.2.3.tgz');
writeFileSync(tarballPath, tarball);
const sha512 = (bytes: Buffer): string => createHash('sha512').update(bytes).digest('hex');
const DIGEST = `sha512:${sha512(tarball)}` as Digest;

const services = await startSigstoreServices();
t.teardown(() => services.close());
const trust = trustFromBytes(Buffer.from(services.trustedRootJson), 'test');

/** SLSA v1 provenance as the npm CLI writes it on GitHub Actions. */
function provenance(subjectName = PURL, digestHex = sha512(tarball)): Buffer {
  const ref = 'refs/heads/main';
  return Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: subjectName, digest: { sha512: digestHex } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
        externalParameters: { workflow: { ref, repository: `https://github.com/${REPOSITORY}`, path: '.github/workflows/release.yml' } },
        internalParameters: { github: { event_name: 'push', repository_id: '812345678', repository_owner_id: '91234567' } },
        resolvedDependencies: [{ uri: `git+https://github.com/${REPOSITORY}@${ref}`, digest: { gitCommit: '9f2c4e7a1b3d5f60718293a4b5c6d7e8f9012345' } }],
      },
      runDetails: { builder: { id: HOSTED }, metadata: { invocationId: `https://github.com/${REPOSITORY}/actions/runs/12345678901/attempts/1` } },
    },
  }));
}

/** The npm registry's publish attestation (statement v0.1, predicate publish/v0.1). */
function publishStatement(version = VERSION, digestHex = sha512(tarball)): Buffer {
  return Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v0.1',
    subject: [{ name: PURL, digest: { sha512: digestHex } }],
    predicateType: `${NPM_PUBLISH_PREDICATE_PREFIX}v0.1`,
    predicate: { name: NAME, version, registry: 'https://registry.npmjs.org' },
  }));
}

const workflowToken = (repository = REPOSITORY) => services.token(`repo:${repository}:ref:refs/heads/main`, {
  issuer: GITHUB_ISSUER,
  claims: { job_workflow_ref: `${repository}/.github/workflows/release.yml@refs/heads/main`, repository },
});

async function provenanceBundle(payload = provenance(), token = workflowToken()): Promise<unknown> {
  return keylessDsseBundle(payload, IN_TOTO, { fulcioUrl: services.fulcioUrl, rekorUrl: services.rekorUrl, identityToken: token, timeoutMs: 10_000 });
}

const registryKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** A registry-key-signed DSSE bundle (publicKey hint = the key ID), logged in Rekor as npm's are. */
async function publishBundle(payload = publishStatement(), key: KeyObject = registryKey.privateKey, hint = KEY_ID): Promise<unknown> {
  const publicKey = (key === registryKey.privateKey ? registryKey.publicKey : otherKey.publicKey).export({ type: 'spki', format: 'pem' }).toString();
  const builder = new DSSEBundleBuilder({
    signer: { sign: async (data: Buffer) => ({ signature: sign('sha256', data, key), key: { $case: 'publicKey', publicKey, hint } }) },
    witnesses: [new RekorWitness({ rekorBaseURL: services.rekorUrl, entryType: 'dsse' })],
  });
  return bundleToJSON(await builder.create({ data: payload, type: IN_TOTO }));
}

function keysTarget(overrides: { validFor?: Record<string, string>; usage?: string; key?: KeyObject } = {}): string {
  const rawBytes = (overrides.key ?? registryKey.publicKey).export({ type: 'spki', format: 'der' }).toString('base64');
  const publicKey = { rawBytes, keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: overrides.validFor ?? { start: '2020-01-01T00:00:00.000Z' } };
  return JSON.stringify({ keys: [{ keyId: KEY_ID, keyUsage: 'npm:signatures', publicKey }, { keyId: KEY_ID, keyUsage: overrides.usage ?? 'npm:attestations', publicKey }] });
}
const KEYS = parseNpmRegistryKeys(keysTarget(), 'test keys');
const POLICY: NpmPackagePolicy = { sourceUri: `github.com/${REPOSITORY}`, builderId: HOSTED, packageName: NAME, packageVersion: VERSION };

const [goodProvenance, goodPublish] = await Promise.all([provenanceBundle(), publishBundle()]);
const GOOD: NpmAttestations = { provenance: goodProvenance, publish: goodPublish };

async function refused(t: Test, work: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await work;
    t.fail(`${what}: expected ${code}`);
  } catch (err) {
    t.equal((err as { code?: string }).code, code, `${what}: ${code}`, { found: (err as Error).message });
  }
}

t.test('a package built and published as npm does it verifies', async (t) => {
  const verified = await verifyNpmPackage(GOOD, DIGEST, trust, KEYS, POLICY);
  t.equal(verified.provenance.builderId, HOSTED);
  t.same([verified.packageName, verified.packageVersion], [NAME, VERSION]);
  t.equal(verified.publish.keyId, KEY_ID);
  t.ok(await verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { sourceUri: POLICY.sourceUri, builderId: HOSTED }), 'name and version are optional');
  t.ok(await verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { ...POLICY, sourceBranch: 'main' }), '--source-branch');
});

t.test('each check refuses its own case', async (t) => {
  const other = `sha512:${sha512(Buffer.from('another tarball'))}` as Digest;
  await refused(t, verifyNpmPackage(GOOD, other, trust, KEYS, POLICY), 'DIGEST', 'another tarball (the provenance subject is checked with the signature)');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { ...POLICY, packageName: '@acme/other' }), 'PACKAGE_NAME_MISMATCH', 'another package name');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { ...POLICY, packageVersion: '1.2.4' }), 'PACKAGE_VERSION_MISMATCH', 'another version');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { ...POLICY, builderId: undefined }), 'UNTRUSTED_BUILDER', 'no --builder-id');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { ...POLICY, builderId: 'https://github.com/actions/runner/self-hosted' }), 'UNTRUSTED_BUILDER', 'a self-hosted runner');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { ...POLICY, sourceUri: 'github.com/acme/model-tools-fork' }), 'SOURCE_MISMATCH', 'another source repository');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, KEYS, { ...POLICY, sourceBranch: 'release' }), 'BRANCH_MISMATCH', 'another branch');

  const [forkProvenance, wrongVersionPublish, otherTarballPublish, foreignKeyPublish] = await Promise.all([
    provenanceBundle(provenance(), workflowToken('mallory/model-tools')),
    publishBundle(publishStatement('1.2.4')),
    publishBundle(publishStatement(VERSION, sha512(Buffer.from('another tarball')))),
    publishBundle(publishStatement(), otherKey.privateKey),
  ]);
  await refused(t, verifyNpmPackage({ ...GOOD, provenance: forkProvenance }, DIGEST, trust, KEYS, POLICY), 'SOURCE_MISMATCH', 'provenance from another repository\'s workflow');
  await refused(t, verifyNpmPackage({ ...GOOD, publish: wrongVersionPublish }, DIGEST, trust, KEYS, POLICY), 'PACKAGE_VERSION_MISMATCH', 'published as another version');
  await refused(t, verifyNpmPackage({ ...GOOD, publish: otherTarballPublish }, DIGEST, trust, KEYS, POLICY), 'SUBJECT_MISMATCH', 'the publish attestation is about another tarball');
  await refused(t, verifyNpmPackage({ ...GOOD, publish: foreignKeyPublish }, DIGEST, trust, KEYS, POLICY), 'SIGNATURE', 'signed by a key that is not the registry\'s (same hint)');
  await refused(t, verifyNpmPackage({ ...GOOD, publish: goodProvenance }, DIGEST, trust, KEYS, POLICY), 'NPM_ATTESTATIONS', 'the provenance bundle offered as the publish attestation');
  await refused(t, verifyNpmPackage({ ...GOOD, provenance: goodPublish }, DIGEST, trust, KEYS, POLICY), 'POLICY', 'the publish attestation offered as the provenance');
});

t.test('the registry key: usage, validity, hint', async (t) => {
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, parseNpmRegistryKeys(keysTarget({ usage: 'npm:other' }), 'k'), POLICY), 'NPM_REGISTRY_KEYS', 'only an npm:signatures key');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, parseNpmRegistryKeys(keysTarget({ validFor: { start: '2020-01-01T00:00:00Z', end: '2021-01-01T00:00:00Z' } }), 'k'), POLICY), 'NPM_REGISTRY_KEYS', 'the key expired before the attestation was logged');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, parseNpmRegistryKeys(keysTarget({ validFor: { start: '2999-01-01T00:00:00Z' } }), 'k'), POLICY), 'NPM_REGISTRY_KEYS', 'the key is not valid yet');
  await refused(t, verifyNpmPackage(GOOD, DIGEST, trust, parseNpmRegistryKeys(keysTarget({ key: otherKey.publicKey }), 'k'), POLICY), 'SIGNATURE', 'the keys target names another key under that ID');
  const unknownHint = await publishBundle(publishStatement(), registryKey.privateKey, 'SHA256:unknown');
  await refused(t, verifyNpmPackage({ ...GOOD, publish: unknownHint }, DIGEST, trust, KEYS, POLICY), 'NPM_REGISTRY_KEYS', 'a hint naming no registry key');
  t.throws(() => parseNpmRegistryKeys('{"keys":[{"keyId":"x","keyUsage":"npm:attestations","publicKey":{"rawBytes":"AAAA"}}]}', 'bad'), { code: 'NPM_REGISTRY_KEYS' }, 'a key that is not DER');
});

t.test('the attestation set', async (t) => {
  const set = (entries: unknown[]) => JSON.stringify({ attestations: entries });
  const prov = { predicateType: 'https://slsa.dev/provenance/v1', bundle: goodProvenance };
  const pub = { predicateType: `${NPM_PUBLISH_PREDICATE_PREFIX}v0.1`, bundle: goodPublish };
  t.same(parseNpmAttestations(set([pub, prov])), GOOD, 'in any order');
  for (const [what, text] of [['not JSON', '{'], ['no array', '{}'], ['provenance only', set([prov])], ['two provenances', set([prov, prov])], ['no predicateType', set([prov, { bundle: goodPublish }])]] as const) {
    await refused(t, (async () => parseNpmAttestations(text))(), 'NPM_ATTESTATIONS', what);
  }
});

t.test('the real npm registry keys target (Sigstore TUF) reads as npm publishes it', async (t) => {
  const keys = parseNpmRegistryKeys(readFileSync(join(VECTORS, 'trust/npm-registry-keys.json'), 'utf8'), 'npm-registry-keys.json');
  const attestationKeys = keys.filter((k) => k.keyUsage === 'npm:attestations');
  t.same(attestationKeys.map((k) => k.keyId), ['SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA', 'SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U']);
  t.equal(attestationKeys[0]?.validUntil?.toISOString(), '2025-01-29T00:00:00.000Z', 'the rotated key is valid until its end');
  t.equal(attestationKeys[1]?.validUntil, undefined, 'the current key has no end');
  t.equal(attestationKeys[1]?.key.asymmetricKeyType, 'ec');
});

t.test('modelgate verify-npm-package', async (t) => {
  const root = join(dir, 'trusted_root.json');
  const keysFile = join(dir, 'keys.json');
  const attestations = join(dir, 'attestations.json');
  writeFileSync(root, services.trustedRootJson);
  writeFileSync(keysFile, keysTarget());
  writeFileSync(attestations, JSON.stringify({ attestations: [
    { predicateType: 'https://slsa.dev/provenance/v1', bundle: goodProvenance },
    { predicateType: `${NPM_PUBLISH_PREDICATE_PREFIX}v0.1`, bundle: goodPublish },
  ] }));
  const base = ['verify-npm-package', '--attestations-path', attestations, '--source-uri', `github.com/${REPOSITORY}`, '--builder-id', HOSTED, '--trusted-root', root];
  const [ok, wrongVersion, noKeys] = await Promise.all([
    runCli([...base, '--npm-registry-keys', keysFile, '--package-name', NAME, '--package-version', VERSION, '--print-provenance', tarballPath]),
    runCli([...base, '--npm-registry-keys', keysFile, '--package-version', '9.9.9', tarballPath]),
    runCli([...base, tarballPath]),
  ]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stderr, `Verifying npm package ${tarballPath}: PASSED`);
  t.match(ok.stderr, /PASSED: SLSA verification passed/);
  t.equal(JSON.parse(ok.stdout).subject[0].name, PURL, '--print-provenance prints the verified statement');
  t.equal(wrongVersion.code, 1);
  t.match(wrongVersion.stderr, /FAILED: SLSA verification failed: PACKAGE_VERSION_MISMATCH/);
  t.equal(noKeys.code, 2, 'a trusted root from a file has no TUF repository to take the keys from');
  t.match(noKeys.stderr, /--npm-registry-keys/);
});
