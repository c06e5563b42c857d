// Revocation without a restart: the policy data and the signer keys live in volumes laid out and
// updated exactly as kubelet does (test/helpers/kubelet-volume.ts: `..<ts>/`, `..data`, key symlinks,
// swap by renaming `..data_tmp`). The real ConfigReloader watches them; the real policy bundle, the
// real registry and the real AdmissionReviewer decide. Covered: a kubelet-style update revoking a
// digest arrives as a new snapshot (awaited as an event) and the next review of that model is denied
// REVOKED_DIGEST; a schema-invalid or unparseable update keeps the last good snapshot and is reported
// once (onError and the refused-reloads metric); an in-place write is seen; a key rotated in a keys
// directory is picked up (and evidence signed by the old key no longer verifies); a bad key or a
// tampered bundle refuses the whole version (a valid data change in the same check is not applied); a
// new bundle is applied with the current data.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { once, EventEmitter } from 'node:events';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigReloader, keysDigestOf, watchPlan, type ConfigSnapshot } from '../../src/config/reload.ts';
import { DecisionCache } from '../../src/admission/decision-cache.ts';
import { AdmissionMetrics } from '../../src/admission/metrics.ts';
import { AdmissionReviewer, type AdmissionResponse } from '../../src/admission/review.ts';
import type { ModelgateError } from '../../src/errors.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { keyId } from '../../src/sigstore/keys.ts';
import { ManualClock } from '../../src/time/clock.ts';
import { KubeletVolume } from '../helpers/kubelet-volume.ts';
import { startRegistry } from '../helpers/registry.ts';
import { admissionReview } from '../helpers/webhook-process.ts';
import { keyTrustPolicyData, pushSignedModel } from '../helpers/signed-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-config-reload-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const registry = await startRegistry({ t });
const oldKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const newKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const models = openStore(parseReference(`${registry.host}/models/reload`));
const good = await pushSignedModel(models, dir, 'good', oldKey.privateKey);
const GOOD = `oci://${registry.host}/models/reload@${good.digest}`;

const pem = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();
/** Policy data trusting `trusted`, optionally revoking digests. */
const dataJson = (trusted: KeyObject, revoked: readonly string[] = []): string => `${JSON.stringify(keyTrustPolicyData(trusted, { revoked }), null, 2)}\n`;

const dataVolume = KubeletVolume.create(join(dir, 'data'), { 'data.json': dataJson(oldKey.publicKey) });
const keysVolume = KubeletVolume.create(join(dir, 'keys'), { 'cosign.pub': pem(oldKey.publicKey) });

const events = new EventEmitter<{ reload: [ConfigSnapshot, ConfigSnapshot]; error: [ModelgateError, ConfigSnapshot] }>();
const metrics = new AdmissionMetrics();
const clock = new ManualClock();
const reloader = await ConfigReloader.load(
  { bundle: DEFAULT_BUNDLE_DIR, data: dataVolume.path('data.json'), keys: [keysVolume.dir] },
  { intervalMs: 100, clock, metrics, onReload: (next, previous) => events.emit('reload', next, previous), onError: (err, previous) => events.emit('error', err, previous) },
);
reloader.start();
t.teardown(() => reloader.stop());

const first = reloader.current;
const evidenceCache = new EvidenceCache();
const decisionCache = new DecisionCache();
const reviewerOf = (snapshot: ConfigSnapshot): AdmissionReviewer =>
  new AdmissionReviewer({
    deps: { stores: storeProvider(), trust: KEYS_ONLY_TRUST, signers: { keys: snapshot.keys, identities: [] }, engine: snapshot.engine, keyTlogThreshold: 0, timeoutMs: 5_000, evidenceCache },
    modes: { default: 'enforce' },
    cache: decisionCache,
  });
let reviewer = reviewerOf(first);

async function admit(r: AdmissionReviewer, name = 'sentiment'): Promise<AdmissionResponse> {
  return (await r.review(admissionReview('prod', GOOD, name))).review.response;
}
const codesOf = (r: AdmissionResponse): string[] => (JSON.parse(r.auditAnnotations['reasons'] ?? '[]') as Array<{ code: string }>).map((x) => x.code);

async function metricLines(pattern: RegExp): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n').filter((line) => pattern.test(line));
}

t.test('the first load: one snapshot of bundle, data and keys, in the metrics', async (t) => {
  t.equal(first.generation, 1);
  t.equal(first.loadedAt, clock.now(), 'stamped with the injected clock');
  t.same(first.keys.map(keyId), [keyId(oldKey.publicKey)]);
  t.equal(first.keysDigest, keysDigestOf([oldKey.publicKey]));
  t.same(await metricLines(/^modelgate_policy_info/), [`modelgate_policy_info{bundle_digest="${first.bundleDigest}",data_digest="${first.dataDigest}",keys_digest="${first.keysDigest}"} 1`]);
  t.equal((await admit(reviewer)).allowed, true, 'the signed model is allowed');
});

t.test('a kubelet-style update revoking the digest is applied without a restart, and the model is then denied', { timeout: 60_000 }, async (t) => {
  const oldVersionDir = dataVolume.current;
  const reloaded = once(events, 'reload');
  dataVolume.update({ 'data.json': dataJson(oldKey.publicKey, [good.digest]) });
  t.notOk(readdirSync(dataVolume.dir).includes(oldVersionDir.split('/').pop()!), 'the old version directory is gone (kubelet removes it)');
  const [next, previous] = (await reloaded) as [ConfigSnapshot, ConfigSnapshot];
  t.equal(previous, first);
  t.equal(next.generation, 2);
  t.not(next.dataDigest, first.dataDigest, 'new data');
  t.equal(next.bundleDigest, first.bundleDigest, 'same bundle');
  t.equal(next.keysDigest, first.keysDigest, 'same keys');
  t.match((next.engine.data as { modelgate_config: { revoked: { digests: object } } }).modelgate_config.revoked.digests, { [good.digest]: {} });
  t.equal(first.engine.dataDigest, previous.dataDigest, 'the previous engine is untouched (reviews in flight finish on it)');
  t.equal(reloader.current, next);
  t.same(await metricLines(/^modelgate_policy_info/), [`modelgate_policy_info{bundle_digest="${next.bundleDigest}",data_digest="${next.dataDigest}",keys_digest="${next.keysDigest}"} 1`], 'one info series, the new one');
  t.same(await metricLines(/^modelgate_config_reloads_total /), ['modelgate_config_reloads_total 1']);

  // The reviewer built from the new snapshot (caches shared: their keys carry the data digest).
  t.equal((await admit(reviewer)).allowed, true, 'the old reviewer still answers with the old data');
  reviewer = reviewer.reconfigured({ engine: next.engine, signers: { keys: next.keys, identities: [] } });
  const denied = await admit(reviewer);
  t.equal(denied.allowed, false, 'the revoked model is denied');
  t.ok(codesOf(denied).includes('REVOKED_DIGEST'), `REVOKED_DIGEST (${codesOf(denied).join(', ')})`);
  t.match(denied.status?.message, 'this model version is revoked');
});

t.test('a schema-invalid update keeps the last good snapshot and is reported once', { timeout: 60_000 }, async (t) => {
  const good = reloader.current;
  const refused = once(events, 'error');
  dataVolume.update({ 'data.json': JSON.stringify({ modelgate_config: { signers: 'everyone' } }) });
  const [err, kept] = (await refused) as [ModelgateError, ConfigSnapshot];
  t.equal(err.code, 'DATA_INVALID');
  t.match(err.message, dataVolume.path('data.json'), 'the message names the file');
  t.match(err.message, 'data.v1.schema.json');
  t.equal(kept, good);
  t.equal(reloader.current, good, 'the last good snapshot keeps serving');
  t.equal(await reloader.check(), 'refused', 'still refused');
  t.equal(await reloader.check(), 'refused');
  t.same(await metricLines(/^modelgate_config_reloads_refused_total/), ['modelgate_config_reloads_refused_total{code="DATA_INVALID"} 1'], 'reported once');
  t.same(await metricLines(/^modelgate_policy_info/), [`modelgate_policy_info{bundle_digest="${good.bundleDigest}",data_digest="${good.dataDigest}",keys_digest="${good.keysDigest}"} 1`]);
  t.ok(codesOf(await admit(reviewer, 'after-refusal')).includes('REVOKED_DIGEST'), 'reviews still use the last good data');
});

t.test('an in-place write is seen too: unparseable JSON refused, then a good document applied', { timeout: 60_000 }, async (t) => {
  const target = join(dataVolume.current, 'data.json');
  const refused = once(events, 'error');
  writeFileSync(target, '{"modelgate_config": ');
  const [err] = (await refused) as [ModelgateError];
  t.equal(err.code, 'DATA_INVALID');
  t.match(err.message, /is not valid JSON/);
  const reloaded = once(events, 'reload');
  writeFileSync(target, dataJson(oldKey.publicKey));
  const [next] = (await reloaded) as [ConfigSnapshot];
  t.equal(next.dataDigest, first.dataDigest, 'back to the first data (same document, same digest)');
  reviewer = reviewer.reconfigured({ engine: next.engine });
  t.equal((await admit(reviewer, 'after-unrevoke')).allowed, true, 'allowed again');
});

t.test('a key rotated in a keys directory is picked up', { timeout: 60_000 }, async (t) => {
  const before = reloader.current;
  const reloaded = once(events, 'reload');
  keysVolume.update({ 'cosign.pub': pem(newKey.publicKey) });
  const [next] = (await reloaded) as [ConfigSnapshot];
  t.same(next.keys.map(keyId), [keyId(newKey.publicKey)], 'the new key');
  t.not(next.keysDigest, before.keysDigest);
  t.equal(next.engine, before.engine, 'bundle and data unchanged: the same engine is kept');
  t.same((await metricLines(/^modelgate_policy_info/))[0]?.includes(`keys_digest="${next.keysDigest}"`), true);
  // The model was signed by the old key: with only the new key configured its evidence no longer verifies.
  reviewer = reviewer.reconfigured({ signers: { keys: next.keys, identities: [] } });
  const response = await admit(reviewer, 'after-rotation');
  t.equal(response.allowed, false, 'evidence by the rotated-out key is not accepted');
  t.ok(codesOf(response).some((c) => c === 'UNSIGNED' || c === 'UNTRUSTED_SIGNATURE' || c === 'INSUFFICIENT_SIGNATURES'), codesOf(response).join(', '));

  // A second key added to the directory (a new file, a new key symlink): both are loaded.
  const added = once(events, 'reload');
  keysVolume.update({ 'cosign.pub': pem(newKey.publicKey), 'old.pub': pem(oldKey.publicKey) });
  const [both] = (await added) as [ConfigSnapshot];
  t.same(both.keys.map(keyId), [keyId(newKey.publicKey), keyId(oldKey.publicKey)], 'files in name order');
});

t.test('a bad key or a tampered bundle refuses the whole version: nothing half-applied', async (t) => {
  const bundleDir = join(dir, 'bundle');
  cpSync(DEFAULT_BUNDLE_DIR, bundleDir, { recursive: true });
  const bundleVolume = KubeletVolume.create(join(dir, 'bundle-volume'), Object.fromEntries(['manifest.json', 'policy.wasm', 'data.json'].map((f) => [f, readFileSync(join(bundleDir, f))])));
  const data = KubeletVolume.create(join(dir, 'data2'), { 'data.json': dataJson(oldKey.publicKey) });
  const keys = KubeletVolume.create(join(dir, 'keys2'), { 'a.pub': pem(oldKey.publicKey) });
  const errors: ModelgateError[] = [];
  const manual = await ConfigReloader.load({ bundle: bundleVolume.dir, data: data.path('data.json'), keys: [keys.dir] }, { onError: (err) => errors.push(err) });
  const start = manual.current;
  t.equal(await manual.check(), 'unchanged');

  // The data revokes (valid) while a key file becomes garbage, in one check: neither is applied.
  data.update({ 'data.json': dataJson(oldKey.publicKey, [good.digest]) });
  keys.update({ 'a.pub': 'not a key' });
  t.equal(await manual.check(), 'refused');
  t.equal(manual.current, start, 'the data change was not applied without the keys');
  t.equal(errors.at(-1)?.code, 'KEY');
  t.match(errors.at(-1)?.message, keys.path('a.pub'));

  keys.update({ 'a.pub': pem(oldKey.publicKey) });
  t.equal(await manual.check(), 'applied', 'good keys: the version (with the revocation) applies');
  t.not(manual.current.dataDigest, start.dataDigest);

  // A policy.wasm that does not match its manifest.
  const wasm = readFileSync(join(bundleDir, 'policy.wasm'));
  wasm[wasm.length - 1]! ^= 0xff;
  bundleVolume.update({ 'manifest.json': readFileSync(join(bundleDir, 'manifest.json')), 'policy.wasm': wasm, 'data.json': readFileSync(join(bundleDir, 'data.json')) });
  const applied = manual.current;
  t.equal(await manual.check(), 'refused');
  t.equal(errors.at(-1)?.code, 'BUNDLE_DIGEST_MISMATCH');
  t.equal(manual.current, applied);
  t.equal(manual.current.engine.bundleDigest, start.bundleDigest);

  // A new bundle (same policy, new build metadata: a new manifest digest) is applied with the current data.
  const manifest = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')) as { tests: { passed: number } };
  manifest.tests.passed += 1;
  bundleVolume.update({ 'manifest.json': JSON.stringify(manifest), 'policy.wasm': readFileSync(join(bundleDir, 'policy.wasm')), 'data.json': readFileSync(join(bundleDir, 'data.json')) });
  t.equal(await manual.check(), 'applied');
  t.not(manual.current.bundleDigest, start.bundleDigest, 'the new bundle');
  t.equal(manual.current.dataDigest, applied.dataDigest, 'with the data file, not the bundle data');
});

t.test('the first load fails with a coded error naming the file', async (t) => {
  const missing = join(dir, 'nope', 'data.json');
  await t.rejects(ConfigReloader.load({ bundle: DEFAULT_BUNDLE_DIR, data: missing, keys: [] }), { code: 'CONFIG', message: new RegExp(missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) });
  const emptyKeys = KubeletVolume.create(join(dir, 'empty-keys'), {});
  await t.rejects(ConfigReloader.load({ bundle: DEFAULT_BUNDLE_DIR, keys: [emptyKeys.dir] }), { code: 'CONFIG', message: /holds no key file/ });
});

t.test('directory events wake a check only for the configuration files and kubelet\'s entries', async (t) => {
  const plan = watchPlan({ bundle: '/etc/modelgate/bundle', data: '/etc/modelgate/data/data.json', keys: ['/etc/modelgate/keys', '/etc/modelgate/data/extra.pem'] });
  const wakes = (dir: string, name: string | null): boolean => plan.get(dir)?.(name) ?? false;
  t.ok(wakes('/etc/modelgate/data', 'data.json'), 'the data file');
  t.ok(wakes('/etc/modelgate/data', 'extra.pem'), 'a key file beside it');
  t.ok(wakes('/etc/modelgate/data', '..data'), 'kubelet\'s ..data swap');
  t.ok(wakes('/etc/modelgate/data', '..2026_12_06_13_50_00.123456789'), 'kubelet\'s timestamped directory');
  t.notOk(wakes('/etc/modelgate/data', 'webhook.log'), 'a log file written beside the data does not');
  t.ok(wakes('/etc/modelgate/keys', 'rotated.pem'), 'any file of a keys directory');
  t.ok(wakes('/etc/modelgate/bundle', 'policy.wasm'), 'any file of the bundle directory');
  t.ok(wakes('/etc/modelgate', 'bundle'), 'the bundle directory itself replaced');
  t.notOk(wakes('/etc/modelgate', 'other'), 'a neighbour of the bundle does not');
  t.ok(wakes('/etc/modelgate/data', null), 'an event without a name always does');
});

t.test('settled stat stamps skip the read, yet an in-place write of the same size is still applied', async (t) => {
  // The clock an hour ahead: every file changed long before the stamps were taken, so a poll whose
  // stamps are equal reads nothing. An in-place write keeps the size but changes the ctime and mtime.
  const volume = KubeletVolume.create(join(dir, 'stamped'), { 'data.json': dataJson(oldKey.publicKey, [`sha256:${'a'.repeat(64)}`]) });
  const stamped = await ConfigReloader.load({ bundle: DEFAULT_BUNDLE_DIR, data: volume.path('data.json'), keys: [keysVolume.dir] }, { clock: new ManualClock(Date.now() + 3_600_000) });
  const before = stamped.current;
  t.equal(await stamped.check(), 'unchanged', 'nothing moved');
  const target = join(volume.current, 'data.json');
  const sameSize = dataJson(oldKey.publicKey, [`sha256:${'b'.repeat(64)}`]);
  t.equal(Buffer.byteLength(sameSize), statSync(target).size, 'the rewrite has the same size');
  writeFileSync(target, sameSize);
  t.equal(await stamped.check(), 'applied', 'the changed stamps make the poll read the content');
  t.not(stamped.current.dataDigest, before.dataDigest, 'the new document is in effect');
  t.equal(await stamped.check(), 'unchanged');
});
