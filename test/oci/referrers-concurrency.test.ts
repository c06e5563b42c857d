// Referrers pushed at the same time (from one process) to one subject on a registry without the
// referrers API (the real docker-registry) all stay findable: updates of one fallback index are
// serialised, so no read-modify-write overwrites another's entry.
import t from 'tap';
import { RegistryStore } from '../../src/oci/registry.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType } from '../../src/oci/manifest.ts';
import { referrersFallbackTag } from '../../src/oci/tag-schema.ts';
import { startRegistry } from '../helpers/registry.ts';

t.test('eight referrers pushed at once to one subject are all listed', async (t) => {
  const registry = await startRegistry({ t });
  const store = new RegistryStore({ registry: registry.host, repository: 'models/concurrent' });
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const subjectBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: EMPTY_DESCRIPTOR, layers: [] }));
  const subject = await store.pushManifest(subjectBytes, MediaType.OCI_MANIFEST, { tag: 'v1' });

  const referrers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      store.pushManifest(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaType.OCI_MANIFEST,
            artifactType: 'application/vnd.example.note.v1+json',
            config: EMPTY_DESCRIPTOR,
            layers: [],
            subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
            annotations: { 'example.note': `writer ${i}` },
          }),
        ),
        MediaType.OCI_MANIFEST,
      ),
    ),
  );
  const listed = await store.listReferrers(subject.digest);
  t.same(listed.map((d) => d.digest).sort(), referrers.map((d) => d.digest).sort(), 'no writer lost its entry');
  const index = await store.fetchManifest(referrersFallbackTag(subject.digest));
  t.equal(index.manifest.kind === 'index' ? index.manifest.manifests.length : -1, 8, 'the fallback index lists each referrer once');
});
