/**
 * cosign evidence in registries and OCI layouts: discovery (bundle referrers, legacy `.sig` / `.att`
 * tags), legacy → bundle conversion, payload binding, and the `verify-signatures` / `verify-image`
 * commands, run as subprocesses against a real docker-registry on 127.0.0.1 and against layouts.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as signBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, parseManifest, type Descriptor } from '../../src/oci/manifest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import type { ArtifactStore } from '../../src/oci/store.ts';
import { cosignTag } from '../../src/oci/tag-schema.ts';
import { legacyLayerToBundle, parseRekorBundleAnnotation, CosignAnnotation } from '../../src/sigstore/cosign-legacy.ts';
import { assertPayloadNamesDigest, parseSimpleSigning } from '../../src/sigstore/cosign-payload.ts';
import { collectEvidence, policyEvidence } from '../../src/sigstore/cosign-evidence.ts';
import { loadTrustedRootFile } from '../../src/sigstore/trust.ts';
import { preAuthEncoding } from '../../src/sigstore/dsse.ts';
import { verifyBundle } from '../../src/sigstore/bundle.ts';
import { loadLayout, startRegistry } from '../helpers/registry.ts';
import { openPinnedReference } from '../../src/cli/verify-signatures.ts';

const REPO = join(import.meta.dirname, '../..');
const SHARED = join(REPO, '../shared');
const VECTORS = join(SHARED, 'vectors');
const NODE = join(REPO, 'node_modules/.bin/node');
const MAIN = join(REPO, 'src/cli/main.ts');

const PUBLIC_GOOD = join(VECTORS, 'trust/public-good.trusted_root.json');
const PGI = join(VECTORS, 'cosign/trusted_root_pgi.json');
const CONTAINER_LAYOUT = join(VECTORS, 'slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch');
const CONTAINER_DIGEST = readFileSync(`${CONTAINER_LAYOUT}.digest`, 'utf8').trim() as Digest;
const ATT_MANIFEST = 'sha256:21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe' as Digest;
const EXAMPLE_SOURCE = 'github.com/slsa-framework/example-package';
const CONTAINER_BUILDER = 'https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0';
const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const EMPTY_IMAGE_DIR = join(VECTORS, 'cosign/subject-empty-image');
const OCI_BUNDLE = join(VECTORS, 'cosign/oci-attestation.sigstore.json');
const CODY = 'cody@soyland.com';
const GITHUB_OAUTH = 'https://github.com/login/oauth';

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args], { cwd: REPO, timeout: 200_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

interface JsonItem {
  source: string;
  kind: string;
  status: string;
  manifestDigest: string;
  predicateType?: string;
  error?: { code: string; message: string };
  signer?: { identity?: string };
}

function jsonItems(result: CliResult): JsonItem[] {
  const doc = JSON.parse(result.stdout) as { items: JsonItem[] };
  return doc.items;
}

function noCrash(t: Test, result: CliResult): void {
  t.notMatch(result.stderr, /internal error|TypeError|ReferenceError|at .*\.ts:\d+/, 'no crash');
}

async function pushJsonManifest(store: ArtifactStore, doc: unknown, tag?: string): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const mediaType = (doc as { mediaType?: string }).mediaType ?? MediaType.OCI_MANIFEST;
  return store.pushManifest(bytes, mediaType, tag === undefined ? {} : { tag });
}

/** Push a tiny OCI image (empty config, one layer holding `content`) and return its manifest descriptor. */
async function pushImage(store: ArtifactStore, content: string): Promise<Descriptor> {
  const config = await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const layer = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from(content), mediaType: 'application/octet-stream' });
  return pushJsonManifest(store, { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config, layers: [layer] });
}

/** Push the go-containerregistry `empty.Image` the cosign vector attests (digests preserved). */
async function pushEmptyImage(store: ArtifactStore): Promise<Descriptor> {
  const configBytes = readFileSync(join(EMPTY_IMAGE_DIR, 'config.json'));
  const manifestBytes = readFileSync(join(EMPTY_IMAGE_DIR, 'manifest.json'));
  const manifest = parseManifest(manifestBytes);
  if (manifest.kind !== 'manifest') throw new Error('expected an image manifest');
  await store.pushBlob({ kind: 'bytes', bytes: configBytes, mediaType: manifest.config.mediaType });
  return store.pushManifest(manifestBytes, MediaType.DOCKER_MANIFEST);
}

/** Attach a Sigstore bundle to `subject` as cosign v3 does (`WriteAttestationNewBundleFormat`). */
async function attachBundle(store: ArtifactStore, subject: Descriptor, bundleBytes: Buffer, predicateType: string, layers?: Descriptor[]): Promise<Descriptor> {
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const layer = await store.pushBlob({ kind: 'bytes', bytes: bundleBytes, mediaType: MediaType.SIGSTORE_BUNDLE_V03 });
  return pushJsonManifest(store, {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    artifactType: MediaType.SIGSTORE_BUNDLE_V03,
    config: { ...EMPTY_DESCRIPTOR, artifactType: MediaType.SIGSTORE_BUNDLE_V03 },
    layers: layers ?? [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      'org.opencontainers.image.created': '2025-02-28T19:18:11Z',
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
    },
  });
}

function simpleSigningPayload(reference: string, digest: Digest): Buffer {
  return Buffer.from(
    JSON.stringify({ critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }),
  );
}

/** Push a cosign legacy `.sig` manifest under `sha256-<hex>.sig` of `tagSubject` with the given layers. */
async function pushSigManifest(store: ArtifactStore, tagSubject: Digest, layers: Array<{ payload: Buffer; annotations: Record<string, string>; mediaType?: string }>): Promise<Descriptor> {
  const config = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from('{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}'), mediaType: MediaType.OCI_CONFIG });
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const pushed = await store.pushBlob({ kind: 'bytes', bytes: layer.payload, mediaType: layer.mediaType ?? MediaType.COSIGN_SIMPLESIGNING });
    descriptors.push({ ...pushed, annotations: layer.annotations });
  }
  return pushJsonManifest(store, { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config, layers: descriptors }, cosignTag(tagSubject, 'sig'));
}

const vectorCases: Array<Record<string, string>> = JSON.parse(readFileSync(join(VECTORS, 'cases.json'), 'utf8'));
const ociCases = vectorCases.filter((c) => c.kind === 'oci');

t.test('legacy .att layer converts to a v0.1 bundle with the Rekor SET as inclusion promise', async (t) => {
  const blobs = join(CONTAINER_LAYOUT, 'blobs/sha256');
  const manifest = parseManifest(readFileSync(join(blobs, ATT_MANIFEST.slice(7))));
  if (manifest.kind !== 'manifest') throw new Error('expected manifest');
  const layer = manifest.layers[0]!;
  const blob = readFileSync(join(blobs, layer.digest.slice(7)));
  const converted = legacyLayerToBundle(layer, blob, 'attestation');
  const bundle = converted.bundle;
  t.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle+json;version=0.1');
  t.equal(converted.artifact, undefined);
  t.ok(converted.hasCertificate);
  const rekor = parseRekorBundleAnnotation(layer.annotations![CosignAnnotation.BUNDLE]!);
  const entry = bundle.verificationMaterial.tlogEntries[0]!;
  t.equal(entry.logIndex, '174304112');
  t.same(entry.kindVersion, { kind: 'dsse', version: '0.0.1' });
  t.equal(entry.logId.keyId, Buffer.from(rekor.logId, 'hex').toString('base64'));
  t.equal(entry.canonicalizedBody, rekor.body);
  t.equal(entry.inclusionPromise?.signedEntryTimestamp, rekor.signedEntryTimestamp);
  t.equal(bundle.verificationMaterial.x509CertificateChain?.certificates.length, 3, 'leaf + intermediate + root from the chain annotation');
  t.equal(bundle.dsseEnvelope?.payloadType, 'application/vnd.in-toto+json');

  // Malformed annotations are BUNDLE_FORMAT errors naming the field, never a crash.
  const broken = (annotations: Record<string, string>) => ({ ...layer, annotations: { ...layer.annotations, ...annotations } });
  for (const [name, annotations] of [
    ['bundle not JSON', { [CosignAnnotation.BUNDLE]: '{nope' }],
    ['bad logID', { [CosignAnnotation.BUNDLE]: JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: { body: 'e30=', integratedTime: 1, logIndex: 1, logID: 'xyz' } }) }],
    ['body without kind', { [CosignAnnotation.BUNDLE]: JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: { body: 'e30=', integratedTime: 1, logIndex: 1, logID: 'a'.repeat(64) } }) }],
    ['certificate garbage', { [CosignAnnotation.CERTIFICATE]: 'not a certificate' }],
    ['timestamp garbage', { [CosignAnnotation.RFC3161_TIMESTAMP]: '{"SignedRFC3161Timestamp":5}' }],
  ] as const) {
    t.throws(() => legacyLayerToBundle(broken(annotations), blob, 'attestation'), { code: 'BUNDLE_FORMAT' }, name);
  }
  t.throws(() => legacyLayerToBundle(layer, Buffer.from('{"payloadType":"x","payload":"e30=","signatures":[]}'), 'attestation'), { code: 'BUNDLE_FORMAT' });
  t.throws(() => legacyLayerToBundle(layer, blob, 'signature'), { code: 'BUNDLE_FORMAT' }, 'a DSSE layer is not a .sig layer');
});

t.test('a real keyless message signature, rewritten as cosign .sig annotations, verifies after conversion', async (t) => {
  // sigstore-js V1.MESSAGE_SIGNATURE.WITH_SIGNING_CERT: Fulcio leaf, hashedrekord SET, RFC 3161 timestamp.
  const dir = join(VECTORS, 'sigstore-js/verify');
  const original = JSON.parse(readFileSync(join(dir, 'V1.MESSAGE_SIGNATURE.WITH_SIGNING_CERT.sigstore.json'), 'utf8'));
  const artifact = readFileSync(join(dir, 'artifact.txt'));
  const material = original.verificationMaterial;
  const entry = material.tlogEntries[0];
  const pemOf = (rawBytes: string) => `-----BEGIN CERTIFICATE-----\n${rawBytes.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  const [leaf, ...chain] = material.x509CertificateChain.certificates.map((c: { rawBytes: string }) => pemOf(c.rawBytes));
  const layer: Descriptor = {
    mediaType: MediaType.COSIGN_SIMPLESIGNING,
    digest: digestOf(artifact),
    size: artifact.byteLength,
    annotations: {
      [CosignAnnotation.SIGNATURE]: original.messageSignature.signature,
      [CosignAnnotation.CERTIFICATE]: leaf,
      [CosignAnnotation.CHAIN]: chain.join(''),
      [CosignAnnotation.BUNDLE]: JSON.stringify({
        SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
        Payload: { body: entry.canonicalizedBody, integratedTime: Number(entry.integratedTime), logIndex: Number(entry.logIndex), logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex') },
      }),
      [CosignAnnotation.RFC3161_TIMESTAMP]: JSON.stringify({ SignedRFC3161Timestamp: material.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp }),
    },
  };
  const converted = legacyLayerToBundle(layer, artifact, 'signature');
  t.equal(converted.artifact, artifact);
  t.same(converted.bundle.verificationMaterial.tlogEntries[0], { ...entry, inclusionProof: undefined }, 'the tlog entry is rebuilt exactly');
  const trust = loadTrustedRootFile(join(dir, 'trusted_root.json'));
  const signer = { kind: 'identity' as const, san: 'brian@dehamer.com', issuer: 'https://github.com/login/oauth' };
  const verified = await verifyBundle(converted.bundle, { trust, signer, artifact: { kind: 'bytes', bytes: artifact }, tsaThreshold: 1 });
  t.same(verified.verifiedTimes.map((v) => v.source).sort(), ['tlog', 'tsa']);
  await t.rejects(verifyBundle(converted.bundle, { trust, signer, artifact: { kind: 'bytes', bytes: Buffer.from('goodbye, world!') } }), { code: 'DIGEST' });
  const tampered = legacyLayerToBundle({ ...layer, annotations: { ...layer.annotations, [CosignAnnotation.BUNDLE]: layer.annotations![CosignAnnotation.BUNDLE]!.replace(/"integratedTime":\d+/, '"integratedTime":1667957591') } }, artifact, 'signature');
  await t.rejects(verifyBundle(tampered.bundle, { trust, signer, artifact: { kind: 'bytes', bytes: artifact } }), { code: 'TLOG' }, 'a SET over other values fails');
});

t.test('simple-signing payloads bind to exactly one manifest digest', async (t) => {
  const digest = digestOf('x');
  const payload = parseSimpleSigning(simpleSigningPayload('r.example/m', digest));
  t.equal(payload.dockerReference, 'r.example/m');
  t.equal(payload.optional, null);
  t.doesNotThrow(() => assertPayloadNamesDigest(payload, digest));
  t.throws(() => assertPayloadNamesDigest(payload, digestOf('y')), { code: 'DIGEST' });
  t.throws(() => parseSimpleSigning(Buffer.from('{"critical":{"type":"other","image":{"docker-manifest-digest":"x"}}}')), { code: 'BUNDLE_FORMAT' });
  t.throws(() => parseSimpleSigning(Buffer.from('[]')), { code: 'BUNDLE_FORMAT' });
});

t.test('oci cases from cases.json through verify-image on the OCI layout', async (t) => {
  t.ok(ociCases.length >= 2);
  const results = await Promise.all(
    ociCases.map((c) => {
      const args = ['verify-image', `oci-layout://${join(VECTORS, c.ociLayout!)}@${c.imageDigest}`, '--source-uri', c.sourceUri!, '--trusted-root', join(VECTORS, c.trustedRoot!)];
      if (c.sourceBranch !== undefined) args.push('--source-branch', c.sourceBranch);
      if (c.builderId !== undefined) args.push('--builder-id', c.builderId);
      return cli(...args);
    }),
  );
  for (const [i, c] of ociCases.entries()) {
    const result = results[i]!;
    noCrash(t, result);
    t.equal(result.code, c.expect === 'pass' ? 0 : 1, `${c.id}: ${result.stderr.trim().split('\n').pop()}`);
  }
});

t.test('in a real registry', async (t) => {
  const registry = await startRegistry({ t });
  const open = (repository: string) => new RegistryStore({ registry: registry.host, repository });
  const ref = (repository: string, digest: string) => `oci://${registry.host}/${repository}@${digest}`;

  // slsa-verifier container vector: image index by digest, the .att manifest under sha256-<hex>.att.
  const slsa = open('slsa/container');
  await loadLayout(slsa, CONTAINER_LAYOUT, {
    tagFor: (entry) => (entry.annotations?.kind === 'dev.cosignproject.cosign/atts' ? cosignTag(CONTAINER_DIGEST, 'att') : undefined),
  });
  // cosign v3 vector: the empty image + the bundle attached as an OCI 1.1 referrer (fallback tag).
  const cosign = open('cosign/empty');
  const emptyImage = await pushEmptyImage(cosign);
  const bundleBytes = readFileSync(OCI_BUNDLE);
  await attachBundle(cosign, emptyImage, bundleBytes, 'https://cosign.sigstore.dev/attestation/v1');

  const trustPublicGood = loadTrustedRootFile(PUBLIC_GOOD);
  const trustPgi = loadTrustedRootFile(PGI);
  const codyIdentity = { kind: 'identity' as const, san: CODY, issuer: GITHUB_OAUTH };
  const builderIdentity = { kind: 'identity' as const, san: CONTAINER_BUILDER, issuer: GITHUB_ISSUER };
  const verifySigs = (repository: string, digest: string, signer: string[], root = PUBLIC_GOOD) =>
    cli('verify-signatures', ref(repository, digest), ...signer, '--trusted-root', root, '--output', 'json');
  const asBuilder = ['--certificate-identity', CONTAINER_BUILDER, '--certificate-oidc-issuer', GITHUB_ISSUER];
  const asCody = ['--certificate-identity', CODY, '--certificate-oidc-issuer', GITHUB_OAUTH];

  t.test('verify-image finds the legacy .att and applies the SLSA policy', async (t) => {
    const caseRuns = ociCases.map((c) => {
      const args = ['verify-image', ref('slsa/container', c.imageDigest!), '--source-uri', c.sourceUri!, '--trusted-root', join(VECTORS, c.trustedRoot!)];
      if (c.sourceBranch !== undefined) args.push('--source-branch', c.sourceBranch);
      return cli(...args);
    });
    const [withBuilder, ...caseResults] = await Promise.all([
      cli('verify-image', ref('slsa/container', CONTAINER_DIGEST), '--source-uri', `${EXAMPLE_SOURCE}A`, '--builder-id', CONTAINER_BUILDER, '--trusted-root', PUBLIC_GOOD, '--print-provenance'),
      ...caseRuns,
    ]);
    for (const [i, c] of ociCases.entries()) {
      const result = caseResults[i]!;
      noCrash(t, result);
      t.equal(result.code, c.expect === 'pass' ? 0 : 1, `${c.id}: ${result.stderr.trim()}`);
    }
    // The source URI is compared exactly: one extra letter fails, and nothing is printed.
    t.equal(withBuilder!.code, 1, withBuilder!.stderr);
    t.match(withBuilder!.stderr, /FAILED: SLSA verification failed: .*SOURCE_MISMATCH/);
    t.equal(withBuilder!.stdout, '');
    // A tag reference is refused (TOCTOU): both commands open references through openPinnedReference.
    await t.rejects(openPinnedReference(`oci://${registry.host}/slsa/container:latest`, {}), { code: 'USAGE', message: /not pinned/ });
  });

  t.test('verify-signatures lists the legacy attestation, verified with the workflow identity', async (t) => {
    const result = await verifySigs('slsa/container', CONTAINER_DIGEST, asBuilder);
    t.equal(result.code, 0, result.stderr);
    const items = jsonItems(result);
    t.equal(items.length, 1);
    t.match(items[0], { source: 'legacy-att', kind: 'attestation', status: 'verified', manifestDigest: ATT_MANIFEST, predicateType: 'https://slsa.dev/provenance/v0.2', signer: { identity: CONTAINER_BUILDER } });
    const wrongIdentity = await collectEvidence(slsa, CONTAINER_DIGEST, { trust: trustPublicGood, signer: { ...builderIdentity, san: `${CONTAINER_BUILDER}x` } });
    t.match(wrongIdentity.items, [{ status: 'failed', error: { code: 'IDENTITY' } }]);
  });

  t.test('the same .att under another image digest does not verify', async (t) => {
    const other = await pushImage(slsa, 'another image');
    const attBytes = readFileSync(join(CONTAINER_LAYOUT, 'blobs/sha256', ATT_MANIFEST.slice(7)));
    await slsa.pushManifest(attBytes, MediaType.OCI_MANIFEST, { tag: cosignTag(other.digest, 'att') });
    const [image, elsewhere] = await Promise.all([
      cli('verify-image', ref('slsa/container', other.digest), '--source-uri', EXAMPLE_SOURCE, '--trusted-root', PUBLIC_GOOD),
      // The attestations kept in another repository (slsa-verifier --provenance-repository).
      cli('verify-image', ref('mirror/image', CONTAINER_DIGEST), '--provenance-repository', `${registry.host}/slsa/container`, '--source-uri', EXAMPLE_SOURCE, '--trusted-root', PUBLIC_GOOD),
    ]);
    t.equal(elsewhere!.code, 0, elsewhere!.stderr);
    noCrash(t, image!);
    t.equal(image!.code, 1, image!.stderr);
    t.match(image!.stderr, /FAILED: .*DIGEST/);
    const sigs = await collectEvidence(slsa, other.digest, { trust: trustPublicGood, signer: builderIdentity });
    t.match(sigs.items, [{ source: 'legacy-att', manifestDigest: ATT_MANIFEST, status: 'failed', error: { code: 'DIGEST' } }]);
  });

  t.test('cosign v3 bundle referrer verifies against the pgi and public-good roots', async (t) => {
    const other = await pushImage(cosign, 'not the attested image');
    await attachBundle(cosign, other, bundleBytes, 'https://cosign.sigstore.dev/attestation/v1');
    const [pgi, publicGood, moved] = await Promise.all([
      verifySigs('cosign/empty', emptyImage.digest, asCody, PGI),
      cli('verify-signatures', ref('cosign/empty', emptyImage.digest), ...asCody, '--trusted-root', PUBLIC_GOOD),
      verifySigs('cosign/empty', other.digest, asCody, PGI),
    ]);
    t.equal(pgi!.code, 0, pgi!.stderr);
    t.match(jsonItems(pgi!), [{ source: 'referrer', kind: 'attestation', status: 'verified', predicateType: 'https://cosign.sigstore.dev/attestation/v1', signer: { identity: CODY } }]);
    t.equal(publicGood!.code, 0, publicGood!.stderr);
    t.match(publicGood!.stdout, /^SOURCE\s+KIND\s+STATUS/, 'table output');
    t.match(publicGood!.stdout, /referrer\s+attestation\s+verified\s+sha256:\S+\s+https:\/\/cosign\.sigstore\.dev\/attestation\/v1\s+cody@soyland\.com/);
    const wrong = await collectEvidence(cosign, emptyImage.digest, { trust: trustPgi, signer: { ...codyIdentity, san: 'wrong@example.com' } });
    t.match(wrong.items, [{ status: 'failed', error: { code: 'IDENTITY' } }]);
    // The bundle attached to another subject: found as that subject's referrer, signature valid, binding fails.
    noCrash(t, moved!);
    t.equal(moved!.code, 1);
    t.match(jsonItems(moved!), [{ source: 'referrer', status: 'failed', error: { code: 'DIGEST' } }]);
  });

  t.test('malformed referrers are coded failures', async (t) => {
    const twoLayers = await pushImage(cosign, 'two-layer referrer');
    const layer = await cosign.pushBlob({ kind: 'bytes', bytes: bundleBytes, mediaType: MediaType.SIGSTORE_BUNDLE_V03 });
    await attachBundle(cosign, twoLayers, bundleBytes, 'x', [layer, layer]);
    const garbage = await pushImage(cosign, 'garbage bundle');
    await attachBundle(cosign, garbage, Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}'), 'x');
    const notJson = await pushImage(cosign, 'bundle that is not JSON');
    await attachBundle(cosign, notJson, Buffer.from('{"mediaType":'), 'x');
    for (const subject of [twoLayers, garbage, notJson]) {
      const report = await collectEvidence(cosign, subject.digest, { trust: trustPgi, signer: codyIdentity });
      t.same(report.problems, []);
      t.match(report.items, [{ source: 'referrer', status: 'failed', error: { code: 'BUNDLE_FORMAT' } }]);
    }
    const viaCli = await verifySigs('cosign/empty', garbage.digest, asCody, PGI);
    noCrash(t, viaCli);
    t.equal(viaCli.code, 1);
    t.match(jsonItems(viaCli), [{ status: 'failed', error: { code: 'BUNDLE_FORMAT' } }]);
  });

  t.test('a key-signed legacy .sig without Rekor verifies with --key only', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'modelgate-evidence-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'cosign.pub');
    const otherKeyFile = join(dir, 'other.pub');
    const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(keyFile, signer.publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(otherKeyFile, otherKey.publicKey.export({ type: 'spki', format: 'pem' }));
    const store = open('keyed/model');
    const image = await pushImage(store, 'model weights');
    const other = await pushImage(store, 'other weights');
    const payload = simpleSigningPayload(`${registry.host}/keyed/model`, image.digest);
    const signature = signBytes('sha256', payload, signer.privateKey).toString('base64');
    const sigManifest = await pushSigManifest(store, image.digest, [{ payload, annotations: { [CosignAnnotation.SIGNATURE]: signature } }]);
    // The same signed payload copied under another digest's .sig tag: signature fine, binding fails.
    await pushSigManifest(store, other.digest, [{ payload, annotations: { [CosignAnnotation.SIGNATURE]: signature } }]);
    const withKey = (digest: Digest, key: string) => verifySigs('keyed/model', digest, ['--key', key]);

    const [good, wrongKey, moved] = await Promise.all([withKey(image.digest, keyFile), withKey(image.digest, otherKeyFile), withKey(other.digest, keyFile)]);
    t.equal(good!.code, 0, good!.stderr);
    t.match(jsonItems(good!), [{ source: 'legacy-sig', kind: 'signature', status: 'verified', manifestDigest: sigManifest.digest, signer: { kind: 'key' } }]);
    t.equal(wrongKey!.code, 1);
    t.match(jsonItems(wrongKey!), [{ status: 'failed', error: { code: 'SIGNATURE' } }]);
    t.equal(moved!.code, 1);
    t.match(jsonItems(moved!), [{ status: 'failed', error: { code: 'DIGEST' } }]);

    // Verified with an identity instead of a key, a Rekor-less key signature never verifies.
    const keyless = await collectEvidence(store, image.digest, { trust: trustPublicGood, signer: codyIdentity });
    t.match(keyless.items, [{ status: 'failed', error: { code: 'POLICY' } }]);
    const keyPolicy = { kind: 'key' as const, keys: [signer.publicKey] };
    const keyed = await collectEvidence(store, image.digest, { trust: trustPublicGood, signer: keyPolicy });
    t.match(keyed.items, [{ status: 'verified', kind: 'signature', verified: { payload: { format: 'simple-signing', manifestDigest: image.digest } } }]);
    t.match(policyEvidence(keyed), { signatures: [{ subjectDigest: image.digest, signer: { method: 'key', keyId: /^sha256:[0-9a-f]{64}$/ } }], attestations: [] });

    // Several signers at once: discovered once, each item tried against each signer.
    const either = await collectEvidence(store, image.digest, { trust: trustPublicGood, signer: [codyIdentity, keyPolicy] });
    t.match(either.items, [{ status: 'verified', verified: { bundle: { signer: { kind: 'key' } } } }]);
    const neither = await collectEvidence(store, image.digest, { trust: trustPublicGood, signer: [codyIdentity, { kind: 'key', keys: [otherKey.publicKey] }] });
    t.match(neither.items, [{ status: 'failed', error: { code: 'SIGNATURE' } }], 'the wrong key is reported, not the signer-kind mismatch');
    t.match((await collectEvidence(store, image.digest, { trust: trustPublicGood, signer: [] })).items, [{ status: 'failed', error: { code: 'POLICY' } }]);

    // Malformed layers: each is a coded failure; the valid one beside them still verifies.
    const third = await pushImage(store, 'third weights');
    const thirdPayload = simpleSigningPayload(`${registry.host}/keyed/model`, third.digest);
    const thirdSignature = signBytes('sha256', thirdPayload, signer.privateKey).toString('base64');
    const signed = (bytes: Buffer) => signBytes('sha256', bytes, signer.privateKey).toString('base64');
    const wrongType = Buffer.from('{"critical":{"type":"other","image":{"docker-manifest-digest":"' + third.digest + '"}}}');
    await pushSigManifest(store, third.digest, [
      { payload: thirdPayload, annotations: { [CosignAnnotation.SIGNATURE]: 'not base64 !!' } },
      { payload: thirdPayload, annotations: { [CosignAnnotation.SIGNATURE]: thirdSignature, [CosignAnnotation.BUNDLE]: '{"SignedEntryTimestamp":' } },
      { payload: thirdPayload, annotations: {} },
      { payload: wrongType, annotations: { [CosignAnnotation.SIGNATURE]: signed(wrongType) } },
      { payload: Buffer.from('not json'), annotations: { [CosignAnnotation.SIGNATURE]: signed(Buffer.from('not json')) } },
      { payload: thirdPayload, annotations: { [CosignAnnotation.SIGNATURE]: thirdSignature }, mediaType: 'application/octet-stream' },
      { payload: thirdPayload, annotations: { [CosignAnnotation.SIGNATURE]: thirdSignature, [CosignAnnotation.CERTIFICATE]: 'garbage' } },
      { payload: thirdPayload, annotations: { [CosignAnnotation.SIGNATURE]: thirdSignature } },
    ]);
    const mixed = await collectEvidence(store, third.digest, { trust: trustPublicGood, signer: keyPolicy });
    const outcome = mixed.items.map((item) => (item.status === 'verified' ? 'verified' : item.error.code));
    t.same(outcome, ['BUNDLE_FORMAT', 'BUNDLE_FORMAT', 'BUNDLE_FORMAT', 'BUNDLE_FORMAT', 'BUNDLE_FORMAT', 'BUNDLE_FORMAT', 'BUNDLE_FORMAT', 'verified']);

    // Key-signed bundle referrers without any log entry (Tekton Chains `sigstore-bundle` mode, cosign v3
    // with a key): a v3 sign statement, a Chains DSSE over simple-signing, a message signature over the
    // subject manifest itself. All three are signatures; each binds to the subject.
    const sixth = await pushImage(store, 'sixth weights');
    const hint = createHash('sha256').update(signer.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const material = { publicKey: { hint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } };
    const dsseBundle = (payloadType: string, body: Buffer) =>
      Buffer.from(
        JSON.stringify({
          mediaType: MediaType.SIGSTORE_BUNDLE_V03,
          verificationMaterial: material,
          dsseEnvelope: { payloadType, payload: body.toString('base64'), signatures: [{ sig: signed(preAuthEncoding(payloadType, body)), keyid: hint }] },
        }),
      );
    const signStatement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { sha256: sixth.digest.slice(7) } }], predicateType: 'https://sigstore.dev/cosign/sign/v1', predicate: {} }));
    await attachBundle(store, sixth, dsseBundle('application/vnd.in-toto+json', signStatement), 'https://sigstore.dev/cosign/sign/v1');
    await attachBundle(store, sixth, dsseBundle(MediaType.COSIGN_SIMPLESIGNING, simpleSigningPayload('x', sixth.digest)), 'https://sigstore.dev/cosign/sign/v1');
    const sixthManifest = (await store.fetchManifest(sixth.digest)).bytes;
    const messageBundle = Buffer.from(
      JSON.stringify({
        mediaType: MediaType.SIGSTORE_BUNDLE_V03,
        verificationMaterial: material,
        messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(sixthManifest).digest('base64') }, signature: signed(sixthManifest) },
      }),
    );
    await attachBundle(store, sixth, messageBundle, 'https://sigstore.dev/cosign/sign/v1');
    const referrers = await collectEvidence(store, sixth.digest, { trust: trustPublicGood, signer: keyPolicy });
    t.equal(referrers.items.length, 3);
    t.ok(referrers.items.every((item) => item.source === 'referrer' && item.kind === 'signature' && item.status === 'verified'), 'all three key-signed referrers verify');
    t.same(referrers.items.map((item) => (item.status === 'verified' ? item.verified.payload.format : '')).sort(), ['in-toto', 'simple-signing', 'subject-manifest']);
    t.equal(policyEvidence(referrers).signatures.length, 3);
    const requireLog = await collectEvidence(store, sixth.digest, { trust: trustPublicGood, signer: keyPolicy, keyTlogThreshold: 1 });
    t.ok(requireLog.items.every((item) => item.status === 'failed' && item.error.code === 'TLOG'), 'keyTlogThreshold 1 demands a log entry');
    // The same three referrers attached to another image: the signatures verify, the binding does not.
    const seventh = await pushImage(store, 'seventh weights');
    for (const bundle of [dsseBundle('application/vnd.in-toto+json', signStatement), dsseBundle(MediaType.COSIGN_SIMPLESIGNING, simpleSigningPayload('x', sixth.digest)), messageBundle]) {
      await attachBundle(store, seventh, bundle, 'https://sigstore.dev/cosign/sign/v1');
    }
    const movedReferrers = await collectEvidence(store, seventh.digest, { trust: trustPublicGood, signer: keyPolicy });
    t.same(movedReferrers.items.map((item) => (item.status === 'failed' ? item.error.code : 'verified')), ['DIGEST', 'DIGEST', 'DIGEST']);

    // cosign's experimental OCI 1.1 mode: the .sig manifest pushed as a referrer of the image.
    const eighth = await pushImage(store, 'eighth weights');
    const eighthPayload = simpleSigningPayload(`${registry.host}/keyed/model`, eighth.digest);
    const sigArtifactType = 'application/vnd.dev.cosign.artifact.sig.v1+json';
    const experimentalConfig = await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: sigArtifactType });
    const experimentalLayer = await store.pushBlob({ kind: 'bytes', bytes: eighthPayload, mediaType: MediaType.COSIGN_SIMPLESIGNING });
    const experimental = await pushJsonManifest(store, {
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      artifactType: sigArtifactType,
      config: experimentalConfig,
      layers: [{ ...experimentalLayer, annotations: { [CosignAnnotation.SIGNATURE]: signed(eighthPayload) } }],
      subject: { mediaType: eighth.mediaType, digest: eighth.digest, size: eighth.size },
    });
    const experimentalReport = await collectEvidence(store, eighth.digest, { trust: trustPublicGood, signer: keyPolicy });
    t.match(experimentalReport.items, [{ source: 'referrer', kind: 'signature', status: 'verified', manifestDigest: experimental.digest, layerIndex: 0 }]);
    t.equal(experimentalReport.items.length, 1);

    // A .sig tag pointing at an image index, or at a manifest with too many layers.
    const fourth = await pushImage(store, 'fourth weights');
    await pushJsonManifest(store, { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [image] }, cosignTag(fourth.digest, 'sig'));
    t.match((await collectEvidence(store, fourth.digest, { trust: trustPublicGood, signer: keyPolicy })).items, [{ source: 'legacy-sig', status: 'failed', error: { code: 'BUNDLE_FORMAT' } }]);
    const fifth = await pushImage(store, 'fifth weights');
    const config = await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
    const layerBlob = { mediaType: MediaType.COSIGN_SIMPLESIGNING, digest: digestOf('model weights'), size: 'model weights'.length };
    await pushJsonManifest(store, { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config, layers: Array.from({ length: 1001 }, () => layerBlob) }, cosignTag(fifth.digest, 'sig'));
    const tooMany = await collectEvidence(store, fifth.digest, { trust: trustPublicGood, signer: keyPolicy });
    t.match(tooMany.items, [{ source: 'legacy-sig', status: 'failed', error: { code: 'BUNDLE_FORMAT', message: /1001 layers/ } }]);
    t.equal(tooMany.items.length, 1, 'no layer of an oversized manifest is fetched');
  });

  t.test('no evidence at all: exit 1, nothing listed', async (t) => {
    const store = open('bare/model');
    const image = await pushImage(store, 'unsigned');
    const result = await verifySigs('bare/model', image.digest, asCody, PGI);
    t.equal(result.code, 1);
    t.same(jsonItems(result), []);
    t.match(result.stderr, /FAILED: no verified signature or attestation/);
  });

  t.test('collectEvidence reads a registry and a layout alike', async (t) => {
    const fromRegistry = await collectEvidence(slsa, CONTAINER_DIGEST, { trust: trustPublicGood, signer: builderIdentity });
    const fromLayout = await collectEvidence(new LayoutStore(copyLayout(t)), CONTAINER_DIGEST, { trust: trustPublicGood, signer: builderIdentity });
    for (const report of [fromRegistry, fromLayout]) {
      t.same(report.problems, []);
      t.equal(report.items.length, 1);
      const item = report.items[0]!;
      t.equal(item.status, 'verified');
      if (item.status === 'verified') {
        t.equal(item.verified.payload.format, 'in-toto');
        t.equal(item.verified.bundle.signer.kind, 'certificate');
        t.match(JSON.parse(item.verified.payloadBytes.toString('utf8')), { predicateType: 'https://slsa.dev/provenance/v0.2' });
      }
    }
    // issuer-only: any SAN from the issuer is accepted here; the caller must check it (verify-image does).
    const anySan = await collectEvidence(slsa, CONTAINER_DIGEST, { trust: trustPublicGood, signer: { kind: 'issuer-only', issuer: GITHUB_ISSUER }, sources: ['legacy-att'] });
    t.match(anySan.items, [{ status: 'verified', verified: { bundle: { signer: { san: CONTAINER_BUILDER } } } }]);
    const wrongIssuer = await collectEvidence(slsa, CONTAINER_DIGEST, { trust: trustPublicGood, signer: { kind: 'issuer-only', issuer: GITHUB_OAUTH } });
    t.match(wrongIssuer.items, [{ status: 'failed', error: { code: 'IDENTITY' } }]);
    const onlySig = await collectEvidence(slsa, CONTAINER_DIGEST, { trust: trustPublicGood, signer: builderIdentity, sources: ['legacy-sig'] });
    t.same(onlySig.items, []);

    // Evidence kept in another repository (cosign COSIGN_REPOSITORY).
    const elsewhere = await collectEvidence(open('bare/model'), CONTAINER_DIGEST, { trust: trustPublicGood, signer: builderIdentity, evidenceStore: slsa });
    t.match(elsewhere, { store: `${registry.host}/slsa/container`, items: [{ status: 'verified' }] });

    // Handed to the policy layer in its own input types.
    const forPolicy = policyEvidence(fromRegistry);
    t.same(forPolicy.signatures, []);
    t.equal(forPolicy.attestations.length, 1);
    t.match(forPolicy.attestations[0], {
      subjectDigest: CONTAINER_DIGEST,
      predicateType: 'https://slsa.dev/provenance/v0.2',
      predicate: { builder: { id: CONTAINER_BUILDER } },
      signer: { method: 'keyless', san: CONTAINER_BUILDER, issuer: GITHUB_ISSUER, oidcExtensions: { sourceRepositoryUri: 'https://github.com/slsa-framework/example-package', sourceRepositoryRef: 'refs/heads/main' } },
      tlog: { logIndex: 174304112 },
    });
    t.ok(forPolicy.attestations[0]!.tlog!.integratedTime instanceof Date);
  });
});

function copyLayout(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(CONTAINER_LAYOUT, dir, { recursive: true });
  return dir;
}
