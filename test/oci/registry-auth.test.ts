import t from 'tap';
import { inspect } from 'node:util';
import { RegistryAuthenticator } from '../../src/oci/auth.ts';
import { defaultDispatcher } from '../../src/oci/http.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { basicCredential, parseDockerConfig, staticCredentials } from '../../src/oci/credentials.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { EMPTY_JSON, MediaType } from '../../src/oci/manifest.ts';
import { startRegistry, type RunningRegistry } from '../helpers/registry.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

function manifestFor(layerDigest: string, size: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      config: { mediaType: MediaType.OCI_EMPTY, digest: digestOf(EMPTY_JSON), size: 2 },
      layers: [{ mediaType: 'application/octet-stream', digest: layerDigest, size }],
    }),
  );
}

async function roundTrip(t: { equal: (...a: any[]) => unknown; ok: (...a: any[]) => unknown; same: (...a: any[]) => unknown }, store: RegistryStore): Promise<void> {
  const payload = Buffer.from(`payload ${Math.random()}`);
  await store.pushBlob({ kind: 'bytes', bytes: EMPTY_JSON, mediaType: MediaType.OCI_EMPTY });
  const layer = await store.pushBlob({ kind: 'bytes', bytes: payload, mediaType: 'application/octet-stream' });
  const manifest = manifestFor(layer.digest, layer.size);
  await store.pushManifest(manifest, MediaType.OCI_MANIFEST, { tag: 'latest' });
  const resolved = await store.resolve('latest');
  t.equal(resolved.digest, digestOf(manifest));
  t.ok((await store.fetchBlob(layer)).equals(payload));
  t.same(await store.listTags(), ['latest']);
}

function credsFor(registry: RunningRegistry, password = registry.password) {
  return staticCredentials(registry.host, basicCredential(registry.username, password));
}

t.test('anonymous registry needs no credentials', async (t) => {
  const registry = await startRegistry({ t });
  await roundTrip(t, new RegistryStore({ registry: registry.host, repository: 'anon/repo' }));
});

t.test('Basic auth (htpasswd, bcrypt)', async (t) => {
  const registry = await startRegistry({ t, auth: 'basic' });
  t.test('right credentials from a docker config', async (t) => {
    const config = parseDockerConfig(
      JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } } }),
      'test',
    );
    await roundTrip(t, new RegistryStore({ registry: registry.host, repository: 'basic/repo' }, { credentials: config }));
  });
  t.test('no credentials → UNAUTHORIZED', async (t) => {
    const store = new RegistryStore({ registry: registry.host, repository: 'basic/repo' });
    await rejectsWith(t, store.resolve('latest'), ['UNAUTHORIZED']);
  });
  t.test('wrong password → UNAUTHORIZED, and the password is in no message', async (t) => {
    const wrong = 'Wrong-Pa55word-9911';
    const store = new RegistryStore({ registry: registry.host, repository: 'basic/repo' }, { credentials: credsFor(registry, wrong) });
    const err = await rejectsWith(t, store.resolve('latest'), ['UNAUTHORIZED']);
    const shown = `${err?.message} ${inspect(err, { depth: 10 })} ${JSON.stringify(err)}`;
    t.notMatch(shown, wrong);
    t.notMatch(shown, Buffer.from(`${registry.username}:${wrong}`).toString('base64'));
    await rejectsWith(t, store.pushBlob({ kind: 'bytes', bytes: Buffer.from('x'), mediaType: 'text/plain' }), ['UNAUTHORIZED']);
  });
});

t.test('Bearer token auth (docker token protocol)', async (t) => {
  const registry = await startRegistry({ t, auth: 'token' });
  t.test('tokens are fetched with Basic credentials and reused', async (t) => {
    const store = new RegistryStore({ registry: registry.host, repository: 'token/repo' }, { credentials: credsFor(registry) });
    const before = registry.tokenRequests.length;
    await roundTrip(t, store);
    const used = registry.tokenRequests.slice(before);
    t.ok(used.every((r) => r.user === registry.username && r.service === 'modelgate-test-registry'), 'Basic credentials and service sent to the realm');
    t.ok(used.some((r) => r.scopes.includes('repository:token/repo:pull,push')), 'push scope requested');
    t.ok(used.some((r) => r.scopes.includes('repository:token/repo:pull')), 'pull scope requested');
    t.equal(used.length, 2, 'one token per scope (pull, pull+push), then cached');
    t.equal(store.authenticator.tokenRequests, 2);
    const count = registry.tokenRequests.length;
    for (let i = 0; i < 5; i++) await store.resolve('latest');
    await store.listTags();
    t.equal(registry.tokenRequests.length, count, 'cached token reused for later pulls');
  });
  t.test('concurrent first requests share one token request', async (t) => {
    const store = new RegistryStore({ registry: registry.host, repository: 'token/repo' }, { credentials: credsFor(registry) });
    const before = registry.tokenRequests.length;
    const results = await Promise.all(Array.from({ length: 6 }, () => store.resolve('latest')));
    t.equal(new Set(results.map((d) => d.digest)).size, 1);
    t.equal(registry.tokenRequests.length - before, 1);
  });
  t.test('wrong password at the token server → UNAUTHORIZED without looping', async (t) => {
    const wrong = 'Not-The-Password-4242';
    const store = new RegistryStore({ registry: registry.host, repository: 'token/repo' }, { credentials: credsFor(registry, wrong) });
    const before = registry.tokenRequests.length;
    const err = await rejectsWith(t, store.resolve('latest'), ['UNAUTHORIZED']);
    t.equal(registry.tokenRequests.length - before, 1, 'one token request, no retry loop');
    t.notMatch(`${err?.message} ${inspect(err, { depth: 10 })}`, wrong);
  });
  t.test('anonymous token without rights → UNAUTHORIZED after one fresh token', async (t) => {
    const store = new RegistryStore({ registry: registry.host, repository: 'token/repo' });
    const before = registry.tokenRequests.length;
    await rejectsWith(t, store.resolve('latest'), ['UNAUTHORIZED']);
    t.equal(registry.tokenRequests.length - before, 1);
    t.equal(registry.tokenRequests.at(-1)?.user, undefined);
  });
});

t.test('token without expires_in lives 60 s by default and is reused meanwhile; anonymous pull', async (t) => {
  const registry = await startRegistry({ t, auth: 'token', tokenExpiresIn: null, anonymousPull: true });
  const pusher = new RegistryStore({ registry: registry.host, repository: 'public/repo' }, { credentials: credsFor(registry) });
  await roundTrip(t, pusher);
  const reader = new RegistryStore({ registry: registry.host, repository: 'public/repo' });
  const before = registry.tokenRequests.length;
  await reader.resolve('latest');
  await reader.resolve('latest');
  await reader.listTags();
  t.equal(registry.tokenRequests.length - before, 1, 'anonymous pull token fetched once and reused');
  await rejectsWith(t, reader.pushBlob({ kind: 'bytes', bytes: Buffer.from('y'), mediaType: 'text/plain' }), ['UNAUTHORIZED']);
});

t.test('identity token (OAuth2 refresh token) is exchanged by POST; tokens expire and are shared between stores', async (t) => {
  const registry = await startRegistry({ t, auth: 'token', tokenExpiresIn: 300 });
  const config = parseDockerConfig(JSON.stringify({ auths: { [registry.host]: { username: '<token>', identitytoken: registry.identityToken } } }), 'test');
  const store = new RegistryStore({ registry: registry.host, repository: 'oauth/repo' }, { credentials: config });
  const before = registry.tokenRequests.length;
  await roundTrip(t, store);
  const used = registry.tokenRequests.slice(before);
  t.ok(used.length >= 2 && used.every((r) => r.user === registry.username), 'refresh token accepted by the token server');

  // Lifetime 300 s on the clock the authenticator is given (moved by hand, never waited on): reused,
  // then refetched once inside the refresh margin (a fifth of the lifetime, at most 30 s: here 30 s).
  const clock = new ManualClock();
  const shared = new RegistryAuthenticator({ registry: registry.host, credentials: config, dispatcher: defaultDispatcher(), userAgent: 'modelgate-test', now: () => clock.now() });
  const reader = new RegistryStore({ registry: registry.host, repository: 'oauth/repo' }, { credentials: config, authenticator: shared });
  await reader.resolve('latest');
  const count = registry.tokenRequests.length;
  const second = new RegistryStore({ registry: registry.host, repository: 'oauth/repo' }, { credentials: config, authenticator: reader.authenticator });
  await second.resolve('latest');
  t.equal(registry.tokenRequests.length, count, 'a second store sharing the authenticator reuses its pull token');
  clock.advance(269_000);
  await reader.resolve('latest');
  t.equal(registry.tokenRequests.length, count, 'still reused 31 s before it expires');
  clock.advance(2_000);
  await reader.resolve('latest');
  t.equal(registry.tokenRequests.length, count + 1, 'token refreshed shortly before it expires');
  t.throws(
    () => new RegistryStore({ registry: 'other.example', repository: 'x' }, { authenticator: store.authenticator }),
    { code: 'USAGE' },
  );

  const wrong = parseDockerConfig(JSON.stringify({ auths: { [registry.host]: { identitytoken: 'revoked-token' } } }), 'test');
  const denied = new RegistryStore({ registry: registry.host, repository: 'oauth/repo' }, { credentials: wrong });
  const err = await rejectsWith(t, denied.resolve('latest'), ['UNAUTHORIZED']);
  t.notMatch(`${err?.message}`, 'revoked-token');
});
