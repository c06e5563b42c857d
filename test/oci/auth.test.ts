import t from 'tap';
import { parseWwwAuthenticate } from '../../src/oci/auth.ts';

t.test('docker distribution Bearer challenge with a quoted scope containing commas', async (t) => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull,push"';
  t.same(parseWwwAuthenticate(header), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull,push' } },
  ]);
});

t.test('several challenges in one header and across headers', async (t) => {
  const header = 'Basic realm="Registry Realm", Bearer realm="https://a.example/token", service="svc" , error="invalid_token"';
  t.same(parseWwwAuthenticate(header), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'https://a.example/token', service: 'svc', error: 'invalid_token' } },
  ]);
  t.same(parseWwwAuthenticate(['Negotiate', 'Basic realm=simple']), [
    { scheme: 'negotiate', params: {} },
    { scheme: 'basic', params: { realm: 'simple' } },
  ]);
});

t.test('RFC 7235 details: case, escapes, token68, whitespace, empty values', async (t) => {
  t.same(parseWwwAuthenticate('BEARER Realm="x\\"y\\\\z",SCOPE="a b"'), [{ scheme: 'bearer', params: { realm: 'x"y\\z', scope: 'a b' } }]);
  t.same(parseWwwAuthenticate('Negotiate abc+/def==, Basic realm="r"'), [
    { scheme: 'negotiate', params: {}, token68: 'abc+/def==' },
    { scheme: 'basic', params: { realm: 'r' } },
  ]);
  t.same(parseWwwAuthenticate('Bearer realm = "spaced" ,  service=plain'), [{ scheme: 'bearer', params: { realm: 'spaced', service: 'plain' } }]);
  t.same(parseWwwAuthenticate('Bearer realm=""'), [{ scheme: 'bearer', params: { realm: '' } }]);
  t.same(parseWwwAuthenticate(''), []);
  t.same(parseWwwAuthenticate(undefined), []);
  // first occurrence of a duplicated parameter wins
  t.same(parseWwwAuthenticate('Bearer realm="a",realm="b"'), [{ scheme: 'bearer', params: { realm: 'a' } }]);
});

t.test('malformed input does not throw and yields what it can', async (t) => {
  t.same(parseWwwAuthenticate('Bearer realm="unterminated'), [{ scheme: 'bearer', params: {} }]);
  t.same(parseWwwAuthenticate(',,, ,Basic'), [{ scheme: 'basic', params: {} }]);
  t.same(parseWwwAuthenticate('"junk", Basic realm="r"'), [{ scheme: 'basic', params: { realm: 'r' } }]);
});
