// The one settings table and loader (src/config/): flags win over MODELGATE_* variables, which win
// over defaults; inline variables (what the chart renders into model pods) load like files; a trust
// root is read only when something needs one; `--key` without policy data trusts that key; and the
// README's configuration table is the table.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { dataTrustingSigners, inlinePolicyData, loadInlineKeys, loadPipeline } from '../../src/config/load.ts';
import { pairIdentities, readPipelineSettings } from '../../src/config/read.ts';
import { settingsTableMarkdown } from '../../src/config/settings.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { keyId } from '../../src/sigstore/keys.ts';
import { REPO } from '../helpers/run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const pem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

t.test('precedence: flag, then environment, then default', async (t) => {
  const env = { MODELGATE_POLICY: '/env/policy', MODELGATE_TIMEOUT_MS: '5000', MODELGATE_PLAIN_HTTP: 'a:5000, b:5000', MODELGATE_KEY_TLOG_THRESHOLD: '0' };
  const fromEnv = readPipelineSettings({}, env);
  t.equal(fromEnv.policy, '/env/policy');
  t.equal(fromEnv.registry.timeoutMs, 5000);
  t.same(fromEnv.registry.plainHttp, ['a:5000', 'b:5000']);
  const fromFlags = readPipelineSettings({ policy: '/flag/policy', timeout: '7', plainHttp: ['c:1'] }, env);
  t.equal(fromFlags.policy, '/flag/policy');
  t.equal(fromFlags.registry.timeoutMs, 7);
  t.same(fromFlags.registry.plainHttp, ['c:1']);
  const defaults = readPipelineSettings({}, {});
  t.equal(defaults.policy, DEFAULT_BUNDLE_DIR);
  t.equal(defaults.registry.timeoutMs, 30000);
  t.equal(defaults.keyTlogThreshold, 0);
  t.equal(defaults.cache.dir, undefined, 'no cache unless one is configured');
  t.same(defaults.data, { kind: 'bundle' });
  t.throws(() => readPipelineSettings({ timeout: '0' }, {}), { code: 'USAGE', message: /--timeout must be an integer/ });
  t.throws(() => readPipelineSettings({}, { MODELGATE_TIMEOUT_MS: 'soon' }), { code: 'USAGE', message: /MODELGATE_TIMEOUT_MS/ });
  t.throws(() => readPipelineSettings({}, { MODELGATE_STAGING: 'yes' }), { code: 'USAGE', message: /MODELGATE_STAGING must be true or false/ });
});

t.test('keyless identities pair with one issuer for all or one each, from flags or the environment', async (t) => {
  t.same(pairIdentities(['a@x', 'b@x'], ['https://iss']), [{ san: 'a@x', issuer: 'https://iss' }, { san: 'b@x', issuer: 'https://iss' }]);
  t.same(pairIdentities(['a@x', 'b@x'], ['https://i1', 'https://i2']), [{ san: 'a@x', issuer: 'https://i1' }, { san: 'b@x', issuer: 'https://i2' }]);
  t.throws(() => pairIdentities(['a@x'], []), { code: 'USAGE' });
  t.throws(() => pairIdentities(['a', 'b', 'c'], ['i1', 'i2']), { code: 'USAGE' });
  const settings = readPipelineSettings({}, { MODELGATE_CERTIFICATE_IDENTITY: 'ci@acme.dev, release@acme.dev', MODELGATE_CERTIFICATE_OIDC_ISSUER: 'https://token.actions.githubusercontent.com' });
  t.same(settings.identities, [
    { san: 'ci@acme.dev', issuer: 'https://token.actions.githubusercontent.com' },
    { san: 'release@acme.dev', issuer: 'https://token.actions.githubusercontent.com' },
  ]);
  t.equal(settings.trust.kind, 'tuf', 'keyless signers need a trust root: public-good through TUF when none is given');
});

t.test('a trust root only when something needs it', async (t) => {
  t.same(readPipelineSettings({ key: ['k.pem'] }, {}).trust, { kind: 'none' }, 'keys alone: no root, no TUF');
  t.equal(readPipelineSettings({ key: ['k.pem'], keyTlogThreshold: '1' }, {}).trust.kind, 'tuf', 'a tlog threshold needs one');
  t.same(readPipelineSettings({}, { MODELGATE_TRUSTED_ROOT: '/etc/root.json' }).trust, { kind: 'file', path: '/etc/root.json', origin: 'MODELGATE_TRUSTED_ROOT' });
  t.equal(readPipelineSettings({}, { MODELGATE_TRUSTED_ROOT_JSON: '{}' }).trust.kind, 'inline');
  t.throws(() => readPipelineSettings({ trustedRoot: 'a.json' }, { MODELGATE_TRUSTED_ROOT_JSON: '{}' }), { code: 'USAGE', message: /give --trusted-root or MODELGATE_TRUSTED_ROOT_JSON, not both/ });
  t.throws(() => readPipelineSettings({ trustedRoot: 'a.json', staging: true }, {}), { code: 'USAGE' });
});

t.test('inline keys and data load like files; errors name the file or the variable', async (t) => {
  const [a, b] = [pem(), pem()];
  writeFileSync(join(dir, 'a.pem'), a);
  const { deps } = await loadPipeline(readPipelineSettings({ key: [join(dir, 'a.pem')] }, { MODELGATE_KEYS_PEM: `${a}\n${b}` }));
  const keys = deps.signers.keys;
  t.equal(keys.length, 3, 'the flag file and both inline PEM blocks');
  t.equal(keyId(keys[0]!), keyId(keys[1]!));
  t.equal((await loadInlineKeys(readPipelineSettings({}, { MODELGATE_KEYS_PEM: `${a}\n${b}` }).keys)).length, 2);
  await t.rejects(loadInlineKeys(readPipelineSettings({}, { MODELGATE_KEYS_PEM: 'not a key' }).keys), { code: 'CONFIG', message: /MODELGATE_KEYS_PEM holds no/ });
  await t.rejects(loadPipeline(readPipelineSettings({}, { MODELGATE_KEYS: join(dir, 'missing.pem') })), { code: 'CONFIG', message: /cannot read public key .*missing\.pem/ });
  t.same(inlinePolicyData(readPipelineSettings({}, { MODELGATE_POLICY_DATA_JSON: '{"x":1}' }).data), { x: 1 });
  t.throws(() => inlinePolicyData(readPipelineSettings({}, { MODELGATE_POLICY_DATA_JSON: '{' }).data), { code: 'CONFIG', message: /policy data in MODELGATE_POLICY_DATA_JSON is not valid JSON/ });
  t.throws(() => readPipelineSettings({ data: 'd.json' }, { MODELGATE_POLICY_DATA_JSON: '{}' }), { code: 'USAGE' });
});

t.test('--key without policy data trusts that key (cosign meaning), and says so', async (t) => {
  const key = pem();
  writeFileSync(join(dir, 'trusted.pem'), key);
  const { deps, applied } = await loadPipeline(readPipelineSettings({ key: [join(dir, 'trusted.pem')] }, {}));
  const id = `sha256:${keyId(deps.signers.keys[0]!)}`;
  const config = (deps.engine.data as { modelgate_config: { signers: { keys: object }; provenance: { required: boolean } } }).modelgate_config;
  t.same(Object.keys(config.signers.keys), [id]);
  t.equal(config.provenance.required, false);
  t.match(applied.data, /derived from --key/);
  t.same(applied.keys, [id]);
  t.match(applied.trust, /none \(keys only/);
  // With policy data given, the data decides (the key is only verified against).
  writeFileSync(join(dir, 'data.json'), readFileSync(join(DEFAULT_BUNDLE_DIR, 'data.json')));
  const withData = await loadPipeline(readPipelineSettings({ key: [join(dir, 'trusted.pem')], data: join(dir, 'data.json') }, {}));
  t.match(withData.applied.data, /^file .*data\.json$/);
  t.same(Object.keys((withData.deps.engine.data as { modelgate_config: { signers: { keys: object } } }).modelgate_config.signers.keys), []);
  t.equal(dataTrustingSigners({ custom: true }, [id], []), undefined, 'a custom policy keeps its own data');
});

t.test('README lists every setting: its configuration table is the settings table', async (t) => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  t.ok(readme.includes(settingsTableMarkdown()), 'README.md contains the table printed by settingsTableMarkdown() verbatim');
});
