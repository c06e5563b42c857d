/**
 * The referrers API path. distribution 2.8 has no referrers API, so a small front server adds one in
 * front of the real registry: it answers `GET /v2/<name>/referrers/<digest>` from the subjects of the
 * manifests pushed through it (one descriptor per page, `Link` pagination, no server-side filtering),
 * answers `OCI-Subject` on such pushes, and forwards everything else unchanged.
 */
import t from 'tap';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { RegistryStore } from '../../src/oci/registry.ts';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { EMPTY_DESCRIPTOR, EMPTY_JSON, MediaType, type Descriptor } from '../../src/oci/manifest.ts';
import { referrersFallbackTag } from '../../src/oci/tag-schema.ts';
import { startRegistry, type RunningRegistry } from '../helpers/registry.ts';

type ReferrersMode = 'api' | 'status-406' | 'unauthorized-no-challenge';

interface Front {
  host: string;
  referrers: Map<string, Descriptor[]>;
  referrerRequests: string[];
  mode: ReferrersMode;
}

async function startFront(t: { teardown(fn: () => unknown): void }, registry: RunningRegistry): Promise<Front> {
  const front: Front = { host: '', referrers: new Map(), referrerRequests: [], mode: 'api' };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://front.invalid');
    const match = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (req.method === 'GET' && match) {
      front.referrerRequests.push(`${url.pathname}${url.search}`);
      if (front.mode === 'status-406') return void res.writeHead(406).end();
      if (front.mode === 'unauthorized-no-challenge') return void res.writeHead(401).end();
      const all = front.referrers.get(match[2]!) ?? [];
      const page = Number(url.searchParams.get('page') ?? '0');
      const headers: Record<string, string> = { 'content-type': MediaType.OCI_INDEX };
      if (page + 1 < all.length) headers.link = `<${url.pathname}?page=${page + 1}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: all.slice(page, page + 1) }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let subject: Digest | undefined;
    let referrer: Descriptor | undefined;
    if (req.method === 'PUT' && /\/manifests\/sha256:/.test(url.pathname)) {
      const doc = JSON.parse(body.toString('utf8'));
      if (doc.subject) {
        subject = doc.subject.digest;
        referrer = { mediaType: doc.mediaType, digest: digestOf(body), size: body.length, artifactType: doc.artifactType ?? doc.config?.mediaType, ...(doc.annotations ? { annotations: doc.annotations } : {}) };
      }
    }
    const upstream = httpRequest(`${registry.url}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      const headers = { ...up.headers };
      if (subject !== undefined && referrer !== undefined && up.statusCode === 201) {
        headers['oci-subject'] = subject;
        const list = front.referrers.get(subject) ?? [];
        if (!list.some((d) => d.digest === referrer!.digest)) list.push(referrer);
        front.referrers.set(subject, list);
      }
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  front.host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return front;
}

const registry = await startRegistry({ t });
const front = await startFront(t, registry);

t.test('referrers API: pagination, client-side filtering, validation, no fallback tag written', async (t) => {
  front.mode = 'api';
  const store = new RegistryStore({ registry: front.host, repository: 'api/repo' });
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const subjectBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.model', config: EMPTY_DESCRIPTOR, layers: [] }));
  const subject = await store.pushManifest(subjectBytes, MediaType.OCI_MANIFEST, { tag: 'v1' });
  const make = (artifactType: string, extra: Record<string, unknown> = {}) =>
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType, config: EMPTY_DESCRIPTOR, layers: [], subject, ...extra }));
  const sig = await store.pushManifest(make(MediaType.SIGSTORE_BUNDLE_V03, { annotations: { n: '1' } }), MediaType.OCI_MANIFEST);
  const sbom = await store.pushManifest(make('application/spdx+json'), MediaType.OCI_MANIFEST);
  t.notOk((await store.listTags()).includes(referrersFallbackTag(subject.digest)), 'registry answered OCI-Subject: no fallback index');

  const all = await store.listReferrers(subject.digest);
  t.same(all.map((d) => d.digest), [sig.digest, sbom.digest], 'both pages read');
  t.same(all[0], { mediaType: MediaType.OCI_MANIFEST, digest: sig.digest, size: sig.size, artifactType: MediaType.SIGSTORE_BUNDLE_V03, annotations: { n: '1' } });
  const requestsBefore = front.referrerRequests.length;
  const bundles = await store.listReferrers(subject.digest, { artifactType: MediaType.SIGSTORE_BUNDLE_V03 });
  t.same(bundles.map((d) => d.digest), [sig.digest], 'filtered client-side when OCI-Filters-Applied is absent');
  t.match(front.referrerRequests[requestsBefore], /artifactType=application%2Fvnd\.dev\.sigstore\.bundle\.v0\.3%2Bjson/);

  // A lying listing: an entry that is not a referrer of this subject is dropped after fetching it.
  const unrelated = await store.pushManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: MediaType.SIGSTORE_BUNDLE_V03, config: EMPTY_DESCRIPTOR, layers: [] })), MediaType.OCI_MANIFEST);
  front.referrers.get(subject.digest)!.push({ ...unrelated, artifactType: MediaType.SIGSTORE_BUNDLE_V03 });
  front.referrers.get(subject.digest)!.push({ mediaType: MediaType.OCI_MANIFEST, digest: digestOf('missing'), size: 10 });
  t.same((await store.listReferrers(subject.digest)).map((d) => d.digest), [sig.digest, sbom.digest]);
});

for (const mode of ['status-406', 'unauthorized-no-challenge'] as const) {
  t.test(`referrers API answering ${mode} falls back to the tag schema`, async (t) => {
    front.mode = 'api';
    const store = new RegistryStore({ registry: front.host, repository: `fallback/${mode}` }, { referrersApi: 'never' });
    await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
    const subjectBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.model', config: EMPTY_DESCRIPTOR, layers: [], annotations: { mode } }));
    const subject = await store.pushManifest(subjectBytes, MediaType.OCI_MANIFEST);
    const referrerBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.att', config: EMPTY_DESCRIPTOR, layers: [], subject }));
    // Write the fallback index explicitly (as a registry without OCI-Subject would make us do).
    const referrer = { mediaType: MediaType.OCI_MANIFEST, digest: digestOf(referrerBytes), size: referrerBytes.length, artifactType: 'application/vnd.att' };
    await store.pushManifest(referrerBytes, MediaType.OCI_MANIFEST);
    await store.pushManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [referrer] })), MediaType.OCI_INDEX, { tag: referrersFallbackTag(subject.digest) });
    front.mode = mode;
    const reader = new RegistryStore({ registry: front.host, repository: `fallback/${mode}` });
    const before = front.referrerRequests.length;
    t.same(await reader.listReferrers(subject.digest), [referrer]);
    t.same(await reader.listReferrers(subject.digest), [referrer]);
    t.equal(front.referrerRequests.length - before, 1, 'API found unsupported once, then skipped');
    front.mode = 'api';
  });
}
