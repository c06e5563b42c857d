import t from 'tap';
import { formatReference, parseReference } from '../../src/oci/reference.ts';
import { hasCode, OciError } from '../../src/errors.ts';

const HEX = 'a'.repeat(64);

t.test('KServe oci:// storageUri forms', async (t) => {
  t.match(parseReference(`oci://127.0.0.1:5000/models/llama:v1@sha256:${HEX}`), {
    kind: 'registry', registry: '127.0.0.1:5000', repository: 'models/llama', tag: 'v1', digest: `sha256:${HEX}`,
  });
  t.match(parseReference('oci://ghcr.io/acme/model'), { registry: 'ghcr.io', repository: 'acme/model', tag: undefined, digest: undefined });
  t.match(parseReference('oci://localhost:5000/m:latest'), { registry: 'localhost:5000', repository: 'm', tag: 'latest' });
});

t.test('KServe and modelgate spellings of oci:// name the same registry location', async (t) => {
  const plain = parseReference(`oci://127.0.0.1:5000/models/llama@sha256:${HEX}`);
  for (const scheme of ['oci+native', 'oci+fetch', 'modelgate+oci', 'OCI']) {
    t.same(parseReference(`${scheme}://127.0.0.1:5000/models/llama@sha256:${HEX}`), plain, scheme);
  }
  t.match(parseReference('modelgate+oci-layout:///tmp/layout:v1'), { kind: 'layout', path: '/tmp/layout', tag: 'v1' });
});

t.test('plain references and Docker Hub normalisation', async (t) => {
  t.match(parseReference('ubuntu'), { registry: 'docker.io', repository: 'library/ubuntu' });
  t.match(parseReference('acme/model:1.0'), { registry: 'docker.io', repository: 'acme/model', tag: '1.0' });
  t.match(parseReference('index.docker.io/ubuntu'), { registry: 'docker.io', repository: 'library/ubuntu' });
  t.match(parseReference(`ghcr.io/acme/m:t@sha256:${HEX}`), { registry: 'ghcr.io', repository: 'acme/m', tag: 't', digest: `sha256:${HEX}` });
  t.equal(formatReference(parseReference(`oci://Registry.Example.com:443/a/b:t@sha256:${HEX}`)), `registry.example.com:443/a/b:t@sha256:${HEX}`);
});

t.test('OCI image layout references', async (t) => {
  t.match(parseReference(`oci-layout:///tmp/layout@sha256:${HEX}`), { kind: 'layout', path: '/tmp/layout', digest: `sha256:${HEX}` });
  t.match(parseReference('oci-layout:///tmp/lay.out:v2'), { kind: 'layout', path: '/tmp/lay.out', tag: 'v2' });
  t.match(parseReference('oci-layout://rel/dir', { baseDir: '/base' }), { kind: 'layout', path: '/base/rel/dir' });
});

t.test('malformed references are rejected with the bad part quoted', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['oci://ghcr.io/Acme/model', /"Acme"/],
    ['oci://ghcr.io/acme/model:bad tag', /white space|"bad tag"/],
    ['oci://ghcr.io/acme/model@sha256:1234', /"sha256:1234"/],
    ['oci://ghcr.io/acme/model@md5:' + 'a'.repeat(32), /"md5:/],
    ['s3://bucket/model', /"s3:\/\/"/],
    ['oci://model', /host and a repository/],
    ['oci://ghcr.io/acme/model:' + 'x'.repeat(200), /tag must match/],
    ['oci://ghcr.io/acme//model', /""/],
    [`oci://bad_host!/x`, /"bad_host!"/],
  ];
  for (const [input, message] of cases) {
    let error: unknown;
    try { parseReference(input); } catch (e) { error = e; }
    t.ok(hasCode(error, OciError, 'BAD_REFERENCE'), `${JSON.stringify(input)} -> BAD_REFERENCE`);
    t.match((error as Error).message, message, `${JSON.stringify(input)} message names the bad part`);
  }
});
