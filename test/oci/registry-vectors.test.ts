import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryStore } from '../../src/oci/registry.ts';
import { OciError } from '../../src/errors.ts';
import { digestOf, parseDigest, type Digest } from '../../src/oci/digest.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, parseManifest, type Descriptor } from '../../src/oci/manifest.ts';
import { readFallbackIndex } from '../../src/oci/referrers.ts';
import { cosignTag, referrersFallbackTag } from '../../src/oci/tag-schema.ts';
import { loadLayout, startRegistry } from '../helpers/registry.ts';

const VECTORS = join(import.meta.dirname, '../../../shared/vectors');
const SLSA_LAYOUT = join(VECTORS, 'slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch');
const EMPTY_IMAGE = join(VECTORS, 'cosign/subject-empty-image');
const BUNDLE = join(VECTORS, 'cosign/oci-attestation.sigstore.json');

const IMAGE_INDEX = parseDigest('sha256:234e2c830c2fb31ac5671789d22adfe44d30c3ee831d01beae5e237841a13122');
const ATT_MANIFEST = parseDigest('sha256:21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe');
const EMPTY_IMAGE_DIGEST = parseDigest('sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4');

const registry = await startRegistry({ t });

function layoutBlob(dir: string, digest: Digest): Buffer {
  return readFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
}

t.test('slsa-verifier container layout: image index + cosign .att tag, read back by digest', async (t) => {
  t.equal(readFileSync(join(SLSA_LAYOUT, '../container_workflow_dispatch.digest'), 'utf8').trim().split(/\s+/).pop(), IMAGE_INDEX);
  const store = new RegistryStore({ registry: registry.host, repository: 'slsa-framework/example-package' });
  const entries = await loadLayout(store, SLSA_LAYOUT, {
    tagFor: (entry, all) => {
      const kind = entry.annotations?.kind;
      const image = all.find((e) => e.annotations?.kind === 'dev.cosignproject.cosign/imageIndex')!;
      if (kind === 'dev.cosignproject.cosign/imageIndex') return 'main';
      if (kind === 'dev.cosignproject.cosign/atts') return cosignTag(image.digest, 'att');
      return undefined;
    },
  });
  t.same(entries.map((e) => e.digest), [IMAGE_INDEX, ATT_MANIFEST]);
  t.same((await store.listTags()).sort(), ['main', `sha256-${IMAGE_INDEX.slice(7)}.att`]);

  const resolved = await store.resolve('main');
  t.same(resolved, { mediaType: MediaType.OCI_INDEX, digest: IMAGE_INDEX, size: 856 });
  const index = await store.fetchManifest(IMAGE_INDEX);
  t.ok(index.bytes.equals(layoutBlob(SLSA_LAYOUT, IMAGE_INDEX)), 'index bytes preserved');
  t.equal(index.manifest.kind, 'index');
  if (index.manifest.kind !== 'index') return;
  let blobs = 0;
  for (const child of index.manifest.manifests) {
    const fetched = await store.fetchManifest(child.digest);
    t.equal(fetched.descriptor.digest, child.digest);
    t.equal(fetched.descriptor.size, child.size);
    if (fetched.manifest.kind !== 'manifest') continue;
    for (const blob of [fetched.manifest.config, ...fetched.manifest.layers]) {
      const bytes = await store.fetchBlob(blob);
      t.equal(digestOf(bytes), blob.digest);
      blobs++;
    }
  }
  const expectedBlobs = index.manifest.manifests
    .map((child) => parseManifest(layoutBlob(SLSA_LAYOUT, child.digest)))
    .reduce((n, m) => n + (m.kind === 'manifest' ? 1 + m.layers.length : 0), 0);
  t.equal(blobs, expectedBlobs, 'every config and layer of both platform manifests read back verified');
  t.ok(blobs >= 4);

  // cosign's legacy tag, read the way the pipeline reads it (sigstore/cosign-evidence.ts): a manifest by tag.
  const att = await store.fetchManifest(cosignTag(IMAGE_INDEX, 'att'));
  t.ok(att, '.att tag found');
  t.equal(att?.descriptor.digest, ATT_MANIFEST);
  t.ok(att?.bytes.equals(layoutBlob(SLSA_LAYOUT, ATT_MANIFEST)));
  if (att?.manifest.kind !== 'manifest') throw new Error('.att is not an image manifest');
  t.equal(att.manifest.layers.length, 1);
  const envelopeLayer = att.manifest.layers[0]!;
  t.equal(envelopeLayer.mediaType, MediaType.DSSE_ENVELOPE);
  t.match(envelopeLayer.annotations, { predicateType: 'https://slsa.dev/provenance/v0.2' });
  const envelope = JSON.parse((await store.fetchBlob(envelopeLayer)).toString('utf8')) as { payloadType: string };
  t.equal(envelope.payloadType, 'application/vnd.in-toto+json');
  await t.rejects(store.fetchManifest(cosignTag(IMAGE_INDEX, 'sig')), { constructor: OciError, code: 'NOT_FOUND' }, 'no .sig tag');
  await t.rejects(store.fetchManifest(cosignTag(IMAGE_INDEX, 'sbom')), { constructor: OciError, code: 'NOT_FOUND' }, 'no .sbom tag');
});

t.test('cosign v3 bundle attached to subject-empty-image as an OCI 1.1 referrer (tag fallback)', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'repo' });
  const manifestBytes = readFileSync(join(EMPTY_IMAGE, 'manifest.json'));
  const configBytes = readFileSync(join(EMPTY_IMAGE, 'config.json'));
  const subjectManifest = parseManifest(manifestBytes);
  if (subjectManifest.kind !== 'manifest') throw new Error('expected an image manifest');
  const config = await store.pushBlob({ kind: 'bytes', bytes: configBytes, mediaType: subjectManifest.config.mediaType });
  t.same(config, subjectManifest.config);
  const subject = await store.pushManifest(manifestBytes, MediaType.DOCKER_MANIFEST);
  t.same(subject, { mediaType: MediaType.DOCKER_MANIFEST, digest: EMPTY_IMAGE_DIGEST, size: 264 });
  t.same(await store.listReferrers(EMPTY_IMAGE_DIGEST), [], 'no referrers yet');

  const bundleBytes = readFileSync(BUNDLE);
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const layer = await store.pushBlob({ kind: 'bytes', bytes: bundleBytes, mediaType: MediaType.SIGSTORE_BUNDLE_V03 });
  const annotations = {
    'dev.sigstore.bundle.content': 'dsse-envelope',
    'dev.sigstore.bundle.predicateType': 'https://cosign.sigstore.dev/attestation/v1',
  };
  const referrerBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      artifactType: MediaType.SIGSTORE_BUNDLE_V03,
      config: EMPTY_DESCRIPTOR,
      layers: [layer],
      annotations,
      subject,
    }),
  );
  const referrer = await store.pushManifest(referrerBytes, MediaType.OCI_MANIFEST);
  t.equal(referrer.digest, digestOf(referrerBytes));

  const expected: Descriptor = { mediaType: MediaType.OCI_MANIFEST, digest: referrer.digest, size: referrerBytes.length, artifactType: MediaType.SIGSTORE_BUNDLE_V03, annotations };
  t.same(await store.listReferrers(EMPTY_IMAGE_DIGEST), [expected]);
  t.same(await store.listReferrers(EMPTY_IMAGE_DIGEST, { artifactType: MediaType.SIGSTORE_BUNDLE_V03 }), [expected]);
  t.same(await store.listReferrers(EMPTY_IMAGE_DIGEST, { artifactType: 'application/vnd.other' }), []);

  const fallback = await readFallbackIndex(store, EMPTY_IMAGE_DIGEST);
  t.same(fallback?.manifests, [expected], 'fallback index at sha256-<hex> lists the referrer with artifactType and annotations');
  t.equal(referrersFallbackTag(EMPTY_IMAGE_DIGEST), `sha256-${EMPTY_IMAGE_DIGEST.slice(7)}`);

  // Read everything back by digest and check it.
  const fetchedReferrer = await store.fetchManifest(referrer.digest);
  t.equal(fetchedReferrer.manifest.subject?.digest, EMPTY_IMAGE_DIGEST);
  if (fetchedReferrer.manifest.kind !== 'manifest') throw new Error('referrer is not an image manifest');
  const bundleBack = await store.fetchBlob(fetchedReferrer.manifest.layers[0]!);
  t.ok(bundleBack.equals(bundleBytes), 'bundle bytes unchanged');
  t.equal(JSON.parse(bundleBack.toString('utf8')).mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.ok((await store.fetchManifest(EMPTY_IMAGE_DIGEST)).bytes.equals(manifestBytes));

  // Pushing the same referrer again adds no duplicate; a second referrer is appended.
  await store.pushManifest(referrerBytes, MediaType.OCI_MANIFEST);
  t.equal((await readFallbackIndex(store, EMPTY_IMAGE_DIGEST))?.manifests.length, 1);
  const secondBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.example.sbom', config: EMPTY_DESCRIPTOR, layers: [layer], subject }),
  );
  const second = await store.pushManifest(secondBytes, MediaType.OCI_MANIFEST);
  const both = await store.listReferrers(EMPTY_IMAGE_DIGEST);
  t.same(both.map((d) => d.digest), [referrer.digest, second.digest]);
  t.same(await store.listReferrers(EMPTY_IMAGE_DIGEST, { artifactType: 'application/vnd.example.sbom' }), [
    { mediaType: MediaType.OCI_MANIFEST, digest: second.digest, size: secondBytes.length, artifactType: 'application/vnd.example.sbom' },
  ]);
});

t.test('fallback candidates are validated: a tag index pointing at non-referrers yields nothing (GitLab quirk)', async (t) => {
  const store = new RegistryStore({ registry: registry.host, repository: 'quirk/gitlab' });
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const plain = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.x', config: EMPTY_DESCRIPTOR, layers: [] }));
  const child = await store.pushManifest(plain, MediaType.OCI_MANIFEST);
  const subjectIndex = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [child] }));
  const subject = await store.pushManifest(subjectIndex, MediaType.OCI_INDEX);
  // what GitLab does: the fallback tag resolves to the subject itself
  await store.pushManifest(subjectIndex, MediaType.OCI_INDEX, { tag: referrersFallbackTag(subject.digest) });
  t.same(await store.listReferrers(subject.digest), []);
  // a fallback tag that is an image manifest, not an index: no referrers
  const other = digestOf('other subject');
  await store.pushManifest(plain, MediaType.OCI_MANIFEST, { tag: referrersFallbackTag(other) });
  t.same(await store.listReferrers(other), []);
});
