/**
 * `modelgate dataset sign`: keygen → manifest → Sigstore bundle v0.3 over the manifest bytes, checked
 * with the project's bundle verifier (key signer, no transparency log) and against tampering.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signBlobBundle } from '../../src/sign/blob-bundle.ts';
import { verifyBundle } from '../../src/sigstore/bundle.ts';
import { loadTrustedRootFile } from '../../src/sigstore/trust.ts';

const ROOT = join(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const MAIN = join(ROOT, 'src/cli/main.ts');
const VECTORS = join(ROOT, '../shared/vectors');
// Key-signed bundles need no CA or log; any valid trusted root serves as the (unused) trust material.
const trust = loadTrustedRootFile(join(VECTORS, 'sigstore-js/verify/trusted_root.json'));

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('MODELGATE_PASSWORD' in env)) delete childEnv.MODELGATE_PASSWORD;
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args], { cwd: ROOT, env: childEnv }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-dsign-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('keygen → dataset manifest → dataset sign → verifyBundle with the .pub', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(join(data, 'split'), { recursive: true });
  writeFileSync(join(data, 'split/train.jsonl'), '{"text":"hello"}\n');
  writeFileSync(join(data, 'README'), 'a dataset\n');
  const prefix = join(dir, 'signer');
  const password = 'dataset-signing-pass';
  t.equal((await runCli(['keygen', '--output-key-prefix', prefix], { MODELGATE_PASSWORD: password })).code, 0);
  const manifestPath = join(dir, 'manifest.json');
  t.equal((await runCli(['dataset', 'manifest', data, '--output-file', manifestPath])).code, 0);

  const signed = await runCli(['dataset', 'sign', manifestPath, '--key', `${prefix}.key`], { MODELGATE_PASSWORD: password });
  t.equal(signed.code, 0, signed.stderr);
  t.notOk((signed.stdout + signed.stderr).includes(password), 'passphrase not printed');
  const bundlePath = `${manifestPath}.sigstore.json`;
  const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
  const manifestBytes = readFileSync(manifestPath);
  const publicKey = createPublicKey(readFileSync(`${prefix}.pub`, 'utf8'));
  const spki = publicKey.export({ type: 'spki', format: 'der' });

  t.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  t.same(bundle.verificationMaterial, { publicKey: { hint: createHash('sha256').update(spki).digest('base64') } }, 'cosign key hint, no tlog, no timestamp');
  t.same(bundle.messageSignature.messageDigest, { algorithm: 'SHA2_256', digest: createHash('sha256').update(manifestBytes).digest('base64') });

  const verified = await verifyBundle(bundle, { trust, signer: { kind: 'key', keys: [publicKey] }, artifact: { kind: 'bytes', bytes: manifestBytes }, tlogThreshold: 0 });
  t.equal(verified.signer.kind, 'key');
  t.same(verified.content, { kind: 'message', digest: `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}` });

  // The same check through the CLI a consumer would run.
  const cli = await runCli(['verify-bundle', manifestPath, '--bundle', bundlePath, '--key', `${prefix}.pub`, '--tlog-threshold', '0', '--trusted-root', join(VECTORS, 'sigstore-js/verify/trusted_root.json')]);
  t.equal(cli.code, 0, cli.stdout + cli.stderr);
  writeFileSync(join(dir, 'edited.json'), Buffer.concat([manifestBytes.subarray(0, -1), Buffer.from(' }')]));
  const edited = await runCli(['verify-bundle', join(dir, 'edited.json'), '--bundle', bundlePath, '--key', `${prefix}.pub`, '--tlog-threshold', '0', '--trusted-root', join(VECTORS, 'sigstore-js/verify/trusted_root.json')]);
  t.equal(edited.code, 1, 'an edited manifest does not verify');

  const tampered = Buffer.from(manifestBytes);
  tampered[tampered.length - 3] = (tampered[tampered.length - 3] ?? 0) ^ 1;
  await t.rejects(verifyBundle(bundle, { trust, signer: { kind: 'key', keys: [publicKey] }, artifact: { kind: 'bytes', bytes: tampered }, tlogThreshold: 0 }), { code: /DIGEST|SIGNATURE/ }, 'a changed manifest fails');
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  await t.rejects(verifyBundle(bundle, { trust, signer: { kind: 'key', keys: [stranger] }, artifact: { kind: 'bytes', bytes: manifestBytes }, tlogThreshold: 0 }), { code: 'SIGNATURE' }, 'another key fails');

  const other = join(dir, 'explicit.bundle.json');
  const wrong = await runCli(['dataset', 'sign', manifestPath, '--key', `${prefix}.key`, '--bundle', other], { MODELGATE_PASSWORD: 'nope' });
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /modelgate: WRONG_PASSPHRASE: /);
  t.notOk(existsSync(other), 'no bundle on failure');
  const noPass = await runCli(['dataset', 'sign', manifestPath, '--key', `${prefix}.key`, '--bundle', other]);
  t.match(noPass.stderr, /modelgate: PASSPHRASE: /);

  writeFileSync(join(dir, 'bogus.json'), '{"files":[]}');
  const bogus = await runCli(['dataset', 'sign', join(dir, 'bogus.json'), '--key', `${prefix}.key`], { MODELGATE_PASSWORD: password });
  t.equal(bogus.code, 2);
  t.match(bogus.stderr, /modelgate: DATASET_BAD_MANIFEST: /);
});

t.test('P-384 and P-521 keys sign with their matching hash; Ed25519 is refused', async (t) => {
  const blob = Buffer.from('{"a":1}');
  for (const [curve, algorithm] of [['P-384', 'SHA2_384'], ['P-521', 'SHA2_512']] as const) {
    const pair = generateKeyPairSync('ec', { namedCurve: curve });
    const bundle = signBlobBundle(blob, pair.privateKey);
    t.equal(bundle.messageSignature?.messageDigest?.algorithm, algorithm, curve);
    const verified = await verifyBundle(bundle, { trust, signer: { kind: 'key', keys: [pair.publicKey] }, artifact: { kind: 'bytes', bytes: blob }, tlogThreshold: 0 });
    t.equal(verified.signer.kind, 'key', `${curve} verifies`);
  }
  t.throws(() => signBlobBundle(blob, generateKeyPairSync('ed25519').privateKey), { code: 'KEY_FORMAT' });
  t.throws(() => signBlobBundle(blob, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), { code: 'KEY_FORMAT' });
});
