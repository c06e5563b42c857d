import t from 'tap';
import { randomBytes } from 'node:crypto';
import { RegistryStore } from '../../src/oci/registry.ts';
import { basicCredential, staticCredentials } from '../../src/oci/credentials.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType } from '../../src/oci/manifest.ts';
import { startRegistry } from '../helpers/registry.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

t.test('HTTPS registry with a private CA and Basic auth', async (t) => {
  const registry = await startRegistry({ t, tls: true, auth: 'basic' });
  t.match(registry.url, /^https:\/\//);
  const credentials = staticCredentials(registry.host, basicCredential(registry.username, registry.password));
  const store = new RegistryStore(
    { registry: registry.host, repository: 'tls/repo' },
    { credentials, caCertificates: [registry.caCertificate!], httpsForLoopback: true },
  );
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const content = randomBytes(100_000);
  const layer = await store.pushBlob({ kind: 'bytes', bytes: content, mediaType: 'application/octet-stream' });
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: EMPTY_DESCRIPTOR, layers: [layer] }));
  const pushed = await store.pushManifest(manifest, MediaType.OCI_MANIFEST, { tag: 'v1' });
  t.same(await store.resolve('v1'), pushed);
  t.ok((await store.fetchBlob(layer)).equals(content));

  const untrusted = new RegistryStore({ registry: registry.host, repository: 'tls/repo' }, { credentials, httpsForLoopback: true });
  const err = await rejectsWith(t, untrusted.resolve('v1'), ['NETWORK'], 'a certificate from an unknown CA is refused');
  t.match(err?.message, /certificate/i);
  const plain = new RegistryStore({ registry: registry.host, repository: 'tls/repo' }, { credentials });
  await rejectsWith(t, plain.resolve('v1'), ['NETWORK', 'PROTOCOL', 'REGISTRY_ERROR'], 'loopback defaults to plain HTTP, which a TLS port does not speak');
});
