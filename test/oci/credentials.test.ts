import t from 'tap';
import { inspect } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chainCredentials,
  defaultDockerConfigPath,
  loadDockerConfig,
  normalizeRegistryKey,
  parseDockerConfig,
  Secret,
  staticCredentials,
  basicCredential,
} from '../../src/oci/credentials.ts';
import { hasCode, UsageError } from '../../src/errors.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

t.test('config.json auths: base64 auth, username/password, identitytoken, host key forms', async (t) => {
  const config = parseDockerConfig(
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass:with:colons') },
        'https://ghcr.io': { username: 'gh', password: 'ghp_secret' },
        'registry.example.com:5000': { auth: b64('u:p'), identitytoken: 'refresh-xyz' },
        'http://Plain.Example/v2/': { auth: b64('plain:pw') },
        'empty.example': {},
      },
      credsStore: 'desktop',
    }),
    'test config',
  );
  const hub = await config.credentialsFor('docker.io');
  t.equal(hub?.kind, 'basic');
  t.equal(hub?.kind === 'basic' && hub.username, 'hubuser');
  t.equal(hub?.kind === 'basic' && hub.password.reveal(), 'hub:pass:with:colons');
  const gh = await config.credentialsFor('ghcr.io');
  t.equal(gh?.kind === 'basic' && gh.password.reveal(), 'ghp_secret');
  const idt = await config.credentialsFor('registry.example.com:5000');
  t.equal(idt?.kind, 'identity-token');
  t.equal(idt?.kind === 'identity-token' && idt.token.reveal(), 'refresh-xyz');
  t.equal(idt?.kind === 'identity-token' && idt.username, 'u');
  t.ok(await config.credentialsFor('plain.example'));
  t.equal(await config.credentialsFor('empty.example'), undefined);
  t.equal(await config.credentialsFor('other.example'), undefined);
  t.equal(await config.credentialsFor('registry.example.com'), undefined, 'port matters');
  t.same(config.hosts.sort(), ['docker.io', 'ghcr.io', 'plain.example', 'registry.example.com:5000']);
});

t.test('Kubernetes .dockerconfigjson and legacy .dockercfg', async (t) => {
  const dockerconfigjson = JSON.stringify({ auths: { 'quay.io': { auth: b64('robot+x:tok') } } });
  const a = await parseDockerConfig(Buffer.from(dockerconfigjson), 'secret ns/pull').credentialsFor('quay.io');
  t.equal(a?.kind === 'basic' && a.username, 'robot+x');
  const dockercfg = JSON.stringify({ 'https://index.docker.io/v1/': { auth: b64('old:style'), email: 'a@b' } });
  const b = await parseDockerConfig(dockercfg, 'legacy').credentialsFor('index.docker.io');
  t.equal(b?.kind === 'basic' && b.password.reveal(), 'style');
});

t.test('host key normalisation', async (t) => {
  t.equal(normalizeRegistryKey('https://index.docker.io/v1/'), 'docker.io');
  t.equal(normalizeRegistryKey('registry-1.docker.io'), 'docker.io');
  t.equal(normalizeRegistryKey('HTTP://Reg.Example:5000/v2/'), 'reg.example:5000');
  t.equal(normalizeRegistryKey('[::1]:5000'), '[::1]:5000');
});

t.test('secrets never show up in errors, JSON, inspect or string conversion', async (t) => {
  const secret = 'Sup3r-S3cret-Passw0rd';
  const bad = parseDockerConfig.bind(null, `{"auths": {"h": {"auth": "${b64('nocolon' + secret)}"}}}`, 'cfg');
  try {
    bad();
    t.fail('should throw');
  } catch (err) {
    t.ok(hasCode(err, UsageError, 'CONFIG'));
    t.notMatch(String((err as Error).message), secret);
    t.notMatch(String((err as Error).message), b64('nocolon' + secret));
  }
  try {
    parseDockerConfig(`{"auths": {"h": {"auth": "${secret}"`, 'cfg');
    t.fail('should throw');
  } catch (err) {
    t.ok(hasCode(err, UsageError, 'CONFIG'));
    t.notMatch(String((err as Error).message), secret, 'JSON syntax errors do not quote the input');
  }
  const credential = basicCredential('user', secret);
  t.notMatch(JSON.stringify(credential), secret);
  t.notMatch(inspect(credential, { depth: 5 }), secret);
  t.notMatch(`${credential.kind === 'basic' ? credential.password : ''}`, secret);
  t.equal(String(new Secret(secret)), '[REDACTED]');
  const config = parseDockerConfig(JSON.stringify({ auths: { h: { username: 'u', password: secret } } }), 'cfg');
  t.notMatch(inspect(config, { depth: 5 }), secret);
  t.notMatch(JSON.stringify(await config.credentialsFor('h')), secret);
});

t.test('sources: static, chained, files', async (t) => {
  const one = staticCredentials('a.example', basicCredential('a', 'x'));
  const two = staticCredentials('https://b.example/', basicCredential('b', 'y'));
  const chain = chainCredentials(one, two);
  t.equal(((await chain.credentialsFor('b.example')) as { username: string }).username, 'b');
  t.equal(await chain.credentialsFor('c.example'), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-creds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(defaultDockerConfigPath({ DOCKER_CONFIG: dir }), join(dir, 'config.json'));
  t.same((await loadDockerConfig(join(dir, 'config.json'))).hosts, [], 'missing file = no credentials');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'x.example': { auth: b64('x:y') } } }));
  t.same((await loadDockerConfig(join(dir, 'config.json'))).hosts, ['x.example']);
  writeFileSync(join(dir, 'config.json'), '[]');
  try {
    await loadDockerConfig(join(dir, 'config.json'));
    t.fail('should throw');
  } catch (err) {
    t.ok(hasCode(err, UsageError, 'CONFIG'));
  }
});
