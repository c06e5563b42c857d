/**
 * Signing keys: `modelgate keygen` end to end, cosign's encrypted key format in both directions
 * (a real key written by `cosign generate-key-pair` decrypts; ours decrypts with an independent
 * re-implementation of the envelope), passphrase policy, overwrite protection, no secret in output.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, scrypt, sign, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import nacl from 'tweetnacl';
import { SigningError } from '../../src/sign/errors.ts';
import {
  COSIGN_PRIVATE_KEY_PEM_TYPE,
  SCRYPT_LEGACY,
  decryptPrivateKey,
  encryptPrivateKey,
  loadSigningKey,
  parseSigningKey,
  publicKeyPem,
} from '../../src/sign/keys.ts';

const ROOT = join(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const MAIN = join(ROOT, 'src/cli/main.ts');

/**
 * A real key pair written by `COSIGN_PASSWORD=… cosign generate-key-pair` (cosign 1.x: COSIGN PEM type,
 * legacy scrypt N=2^15), published with its password as a documentation example by elastic/harp
 * (Apache-2.0), `docs/onboarding/5-sigstore/cosign-gha.md`. It was not produced by this project's encoder.
 */
const COSIGN_KEY = `-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjozMjc2OCwiciI6
OCwicCI6MX0sInNhbHQiOiJORWY0SzZ3VWZRWW1Ya3FySXB0WStLd3VHcnBJSkZ4
UUNJQzA3cGVndkZrPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJxOXlEbUNUa2t1bi9jWjV4Mzc5Vlh4WDBSTmgrc2djeSJ9LCJj
aXBoZXJ0ZXh0IjoiN1NIWjZMbkdpS0NiUUhuWG1ZamFxV0YrUzI5NXhhc3ZWOVJ4
dzVFNXJmM0FRa2lCZVNOSVE2RlpMSExsaDNkdGhFdi82NzJ3V2VBM3dHNHBRZEx4
UU54aWQ4b0MzRURZNkNtM3laaDRyZGhqUUNsTlVxVmhCWTlCSUxud1JsOE5nVm9s
a2RiazVHZVFyQUF1SG5uSks1RDQ1dUlUS0k0YWIzRzN3amF3WUx3azVjNXYydDhJ
ajFMWjVyRlNZamNkMXBYc3Bveml0eU56RkE9PSJ9
-----END ENCRYPTED COSIGN PRIVATE KEY-----
`;
const COSIGN_PASSWORD = '7cqF]\\FP0ss9uO![olGf32L+UobBCn:BqVWRZbV6=FEhv3jt>I240Ew)SYwe`ncD';
const COSIGN_PUB = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAESUVHp/bUkwMfoM3swWUbBgMt80o2
x93ZquFX+D/8DBhcR+DWQSebyqsl/YEenL1GeLWmdCKSNROmvjnBV6N7uA==
-----END PUBLIC KEY-----
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.MODELGATE_PASSWORD;
  delete childEnv.COSIGN_PASSWORD;
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[name];
    else childEnv[name] = value;
  }
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args], { env: childEnv, cwd: ROOT }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Independent decoder: parse the PEM and JSON by hand, scrypt with Node, open with NaCl directly. */
async function independentDecrypt(pem: string, passphrase: string): Promise<Buffer | null> {
  const lines = pem.trim().split('\n');
  const body = Buffer.from(lines.slice(1, -1).join(''), 'base64');
  const envelope = JSON.parse(body.toString('utf8')) as {
    kdf: { params: { N: number; r: number; p: number }; salt: string };
    cipher: { nonce: string };
    ciphertext: string;
  };
  const { N, r, p } = envelope.kdf.params;
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase, Buffer.from(envelope.kdf.salt, 'base64'), 32, { N, r, p, maxmem: 512 * 1024 * 1024 }, (err, k) => (err ? reject(err) : resolve(k))),
  );
  const opened = nacl.secretbox.open(Buffer.from(envelope.ciphertext, 'base64'), Buffer.from(envelope.cipher.nonce, 'base64'), key);
  return opened === null ? null : Buffer.from(opened);
}

/** Independent encoder: go-securesystemslib's envelope built by hand (Go's field order), NaCl directly. */
async function independentEncrypt(der: Buffer, passphrase: string, N: number): Promise<string> {
  const salt = Buffer.alloc(32, 0x5a);
  const nonce = Buffer.alloc(24, 0xa5);
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase, salt, 32, { N, r: 8, p: 1, maxmem: 512 * 1024 * 1024 }, (err, k) => (err ? reject(err) : resolve(k))),
  );
  const box = Buffer.from(nacl.secretbox(der, nonce, key));
  const json = `{"kdf":{"name":"scrypt","params":{"N":${N},"r":8,"p":1},"salt":"${salt.toString('base64')}"},"cipher":{"name":"nacl/secretbox","nonce":"${nonce.toString('base64')}"},"ciphertext":"${box.toString('base64')}"}`;
  const body = Buffer.from(json).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${body}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
}

t.test('scrypt as used here matches the RFC 7914 test vector', async (t) => {
  const derived = await new Promise<Buffer>((resolve, reject) =>
    scrypt('password', 'NaCl', 64, { N: 1024, r: 8, p: 16, maxmem: 64 * 1024 * 1024 }, (err, k) => (err ? reject(err) : resolve(k))),
  );
  t.equal(derived.toString('hex'), 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640');
});

t.test('a key encrypted independently with cosign\'s current parameters (N=2^16, r=8, p=1) loads', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = await independentEncrypt(privateKey.export({ type: 'pkcs8', format: 'der' }), 'independent', 65536);
  t.equal(publicKeyPem(await parseSigningKey(pem, 'independent')), publicKeyPem(privateKey));
  await t.rejects(parseSigningKey(pem, 'Independent'), { code: 'WRONG_PASSPHRASE' });
});

t.test('a real cosign-generated encrypted key decrypts and matches its public key', async (t) => {
  const key = await parseSigningKey(COSIGN_KEY, COSIGN_PASSWORD);
  t.equal(key.type, 'private');
  t.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.equal(publicKeyPem(key), COSIGN_PUB, 'derived public key is byte-identical to cosign.pub');
  const signature = sign('sha256', Buffer.from('hello'), key);
  t.ok(verify('sha256', Buffer.from('hello'), createPublicKey(COSIGN_PUB), signature));
  await t.rejects(decryptPrivateKey(COSIGN_KEY, 'not the password'), { name: 'SigningError', code: 'WRONG_PASSPHRASE' });
});

t.test('our encrypted key has cosign\'s exact envelope and decrypts independently', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const pem = await encryptPrivateKey(der, 'correct horse');
  const lines = pem.split('\n');
  t.equal(lines[0], '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----');
  t.equal(lines.at(-2), '-----END ENCRYPTED SIGSTORE PRIVATE KEY-----');
  t.equal(lines.at(-1), '', 'ends with a newline like Go\'s pem.EncodeToMemory');
  const bodyLines = lines.slice(1, -2);
  t.ok(bodyLines.slice(0, -1).every((l) => l.length === 64), 'body lines are 64 characters');
  const json = Buffer.from(bodyLines.join(''), 'base64').toString('utf8');
  // Go's json.Marshal of go-securesystemslib's `data` struct: this field order, no spaces, std base64.
  t.match(
    json,
    /^\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},"salt":"[A-Za-z0-9+/]{43}="\},"cipher":\{"name":"nacl\/secretbox","nonce":"[A-Za-z0-9+/]{32}"\},"ciphertext":"[A-Za-z0-9+/=]+"\}$/,
  );
  const plaintext = await independentDecrypt(pem, 'correct horse');
  t.ok(plaintext !== null && plaintext.equals(der), 'independent decoder recovers the PKCS#8 DER');
  t.equal(await independentDecrypt(pem, 'wrong'), null);
  const loaded = await parseSigningKey(pem, 'correct horse');
  t.equal(publicKeyPem(loaded), publicKeyPem(privateKey));
});

t.test('legacy COSIGN PEM type and legacy scrypt parameters round-trip', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const pem = await encryptPrivateKey(privateKey.export({ type: 'pkcs8', format: 'der' }), '', { pemType: COSIGN_PRIVATE_KEY_PEM_TYPE, scrypt: SCRYPT_LEGACY });
  t.match(pem, /^-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n/);
  const loaded = await parseSigningKey(pem, '');
  t.equal(publicKeyPem(loaded), publicKeyPem(privateKey));
});

t.test('tampered or malformed keys fail with coded errors', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = await encryptPrivateKey(privateKey.export({ type: 'pkcs8', format: 'der' }), 'pw');
  const envelope = JSON.parse(Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64').toString('utf8'));
  const rewrap = (value: unknown): string =>
    `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(value)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;

  const huge = structuredClone(envelope);
  huge.kdf.params.N = 1 << 20;
  await t.rejects(parseSigningKey(rewrap(huge), 'pw'), { code: 'KEY_FORMAT', message: /unsupported scrypt parameters/ }, 'DoS parameters refused before scrypt runs');

  const flipped = structuredClone(envelope);
  const ct = Buffer.from(flipped.ciphertext, 'base64');
  ct[ct.length - 1] = (ct[ct.length - 1] ?? 0) ^ 1;
  flipped.ciphertext = ct.toString('base64');
  await t.rejects(parseSigningKey(rewrap(flipped), 'pw'), { code: 'WRONG_PASSPHRASE' }, 'altered ciphertext fails authentication');

  const otherCipher = structuredClone(envelope);
  otherCipher.cipher.name = 'aes-gcm';
  await t.rejects(parseSigningKey(rewrap(otherCipher), 'pw'), { code: 'KEY_FORMAT', message: /unsupported cipher/ });

  const shortNonce = structuredClone(envelope);
  shortNonce.cipher.nonce = Buffer.alloc(8).toString('base64');
  await t.rejects(parseSigningKey(rewrap(shortNonce), 'pw'), { code: 'KEY_FORMAT', message: /nonce/ });

  await t.rejects(parseSigningKey(pem, undefined), { code: 'PASSPHRASE' });
  await t.rejects(parseSigningKey('not a key', 'pw'), { code: 'KEY_FORMAT' });
  await t.rejects(parseSigningKey(publicKeyPem(privateKey), 'pw'), { code: 'KEY_FORMAT', message: /PUBLIC KEY/ });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await t.rejects(parseSigningKey(rsa, undefined), { code: 'KEY_FORMAT', message: /unsupported private key type rsa/ });
  await t.rejects(loadSigningKey('/nonexistent/modelgate.key', 'pw'), { code: 'SIGNING_IO' });
  const err = await parseSigningKey('x', 'pw').catch((e: unknown) => e);
  t.ok(err instanceof SigningError, 'errors are SigningError instances');
});

t.test('plain PKCS#8 and SEC1 PEM keys load without a passphrase', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  t.equal(publicKeyPem(await parseSigningKey(pkcs8, undefined)), publicKeyPem(privateKey));
  t.equal(publicKeyPem(await parseSigningKey(sec1, undefined)), publicKeyPem(privateKey));
  const ed = generateKeyPairSync('ed25519').privateKey;
  t.equal((await parseSigningKey(ed.export({ type: 'pkcs8', format: 'pem' }).toString(), undefined)).asymmetricKeyType, 'ed25519');
});

t.test('keygen: writes a 0600 encrypted key and its .pub; load → sign → verify; no secret printed', async (t) => {
  const dir = tempDir(t);
  const prefix = join(dir, 'release');
  const passphrase = 's3cret-Passphrase-ü';
  const run = await runCli(['keygen', '--output-key-prefix', prefix], { MODELGATE_PASSWORD: passphrase });
  t.equal(run.code, 0, run.stderr);
  const keyText = readFileSync(`${prefix}.key`, 'utf8');
  const pubText = readFileSync(`${prefix}.pub`, 'utf8');
  t.match(keyText, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
  t.match(pubText, /^-----BEGIN PUBLIC KEY-----\n/);
  t.equal(statSync(`${prefix}.key`).mode & 0o777, 0o600, 'private key is owner-only');
  const output = run.stdout + run.stderr;
  t.notOk(output.includes(passphrase), 'passphrase never printed');
  t.notOk(/PRIVATE KEY/.test(output), 'key material never printed');

  const key = await loadSigningKey(`${prefix}.key`, passphrase);
  t.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'ECDSA P-256');
  const message = Buffer.from('dataset manifest bytes');
  const signature = sign('sha256', message, key);
  t.ok(verify('sha256', message, createPublicKey(pubText), signature), 'signature verifies with the .pub');
  t.notOk(verify('sha256', Buffer.from('other bytes'), createPublicKey(pubText), signature));
  await t.rejects(loadSigningKey(`${prefix}.key`, 'wrong passphrase'), { name: 'SigningError', code: 'WRONG_PASSPHRASE' });
  // Independent decryption of the file written by the CLI.
  const der = await independentDecrypt(keyText, passphrase);
  t.ok(der !== null && createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).asymmetricKeyType === 'ec');
});

t.test('keygen: refuses to overwrite without --force, replaces with it', async (t) => {
  const dir = tempDir(t);
  const prefix = join(dir, 'modelgate');
  const made = await runCli(['keygen', '--output-key-prefix', prefix], { MODELGATE_PASSWORD: 'one' });
  t.equal(made.code, 0);
  const id = createHash('sha256').update(createPublicKey(readFileSync(`${prefix}.pub`, 'utf8')).export({ format: 'der', type: 'spki' })).digest('hex');
  t.equal(made.stdout, `sha256:${id}\n`, 'prints the key id policy data names the key by (sha256 of the SPKI DER)');
  const before = readFileSync(`${prefix}.key`, 'utf8');
  const again = await runCli(['keygen', '--output-key-prefix', prefix], { MODELGATE_PASSWORD: 'two' });
  t.equal(again.code, 2);
  t.match(again.stderr, /modelgate: KEY_EXISTS: .*modelgate\.key already exists/);
  t.equal(readFileSync(`${prefix}.key`, 'utf8'), before, 'existing key untouched');

  // Only the .pub exists: still refused, and no .key is left behind.
  const lonely = join(dir, 'lonely');
  writeFileSync(`${lonely}.pub`, 'keep me');
  const refused = await runCli(['keygen', '--output-key-prefix', lonely], { MODELGATE_PASSWORD: 'x' });
  t.equal(refused.code, 2);
  t.notOk(existsSync(`${lonely}.key`));
  t.equal(readFileSync(`${lonely}.pub`, 'utf8'), 'keep me');

  const forced = await runCli(['keygen', '--output-key-prefix', prefix, '--force'], { MODELGATE_PASSWORD: 'two' });
  t.equal(forced.code, 0, forced.stderr);
  t.not(readFileSync(`${prefix}.key`, 'utf8'), before);
  await loadSigningKey(`${prefix}.key`, 'two');
  t.equal(statSync(`${prefix}.key`).mode & 0o777, 0o600);
});

t.test('keygen: empty passphrase needs --allow-empty-password; no passphrase source fails closed', async (t) => {
  const dir = tempDir(t);
  const prefix = join(dir, 'k');
  const refused = await runCli(['keygen', '--output-key-prefix', prefix], { MODELGATE_PASSWORD: '' });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /modelgate: PASSPHRASE: .*--allow-empty-password/);
  t.notOk(existsSync(`${prefix}.key`));

  const accepted = await runCli(['keygen', '--output-key-prefix', prefix, '--allow-empty-password'], { MODELGATE_PASSWORD: '' });
  t.equal(accepted.code, 0, accepted.stderr);
  await loadSigningKey(`${prefix}.key`, '');

  // execFile gives the child pipes, not a terminal: without MODELGATE_PASSWORD there is nothing to ask.
  const none = await runCli(['keygen', '--output-key-prefix', join(dir, 'n')], { MODELGATE_PASSWORD: undefined });
  t.equal(none.code, 2);
  t.match(none.stderr, /modelgate: PASSPHRASE: no passphrase: set MODELGATE_PASSWORD/);
  t.notOk(existsSync(join(dir, 'n.key')));
});

/** The policy key id computed independently: sha256 of the SPKI DER of the PEM public key. */
function expectedKeyId(publicPem: string): string {
  return `sha256:${createHash('sha256').update(createPublicKey(publicPem).export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

t.test('keygen names the key id the policy data uses; -o json prints it on stdout', async (t) => {
  const dir = tempDir(t);
  const prefix = join(dir, 'ci');
  const text = await runCli(['keygen', '--output-key-prefix', prefix], { MODELGATE_PASSWORD: 'pw' });
  t.equal(text.code, 0, text.stderr);
  const id = expectedKeyId(readFileSync(`${prefix}.pub`, 'utf8'));
  t.match(text.stderr, `Key id ${id} (trust it by listing this id under signers.keys in the policy data)\n`);
  const json = await runCli(['keygen', '--output-key-prefix', join(dir, 'j'), '-o', 'json'], { MODELGATE_PASSWORD: 'pw' });
  t.equal(json.code, 0, json.stderr);
  t.same(JSON.parse(json.stdout), { privateKey: join(dir, 'j.key'), publicKey: join(dir, 'j.pub'), keyId: expectedKeyId(readFileSync(join(dir, 'j.pub'), 'utf8')) });
});

t.test('keygen and key loading accept COSIGN_PASSWORD; MODELGATE_PASSWORD wins when both are set', async (t) => {
  const dir = tempDir(t);
  const cosignOnly = await runCli(['keygen', '--output-key-prefix', join(dir, 'c')], { COSIGN_PASSWORD: 'from-cosign' });
  t.equal(cosignOnly.code, 0, cosignOnly.stderr);
  await loadSigningKey(join(dir, 'c.key'), 'from-cosign');
  const both = await runCli(['keygen', '--output-key-prefix', join(dir, 'b')], { MODELGATE_PASSWORD: 'from-modelgate', COSIGN_PASSWORD: 'from-cosign' });
  t.equal(both.code, 0, both.stderr);
  await loadSigningKey(join(dir, 'b.key'), 'from-modelgate');
  await t.rejects(loadSigningKey(join(dir, 'b.key'), 'from-cosign'), { code: 'WRONG_PASSPHRASE' });
  const empty = await runCli(['keygen', '--output-key-prefix', join(dir, 'e')], { COSIGN_PASSWORD: '' });
  t.equal(empty.code, 2, 'an empty COSIGN_PASSWORD still needs --allow-empty-password');
  t.match(empty.stderr, /--allow-empty-password/);
});

t.test('key id: the same id for a real cosign encrypted key, its .pub, a certificate and plain private keys', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'cosign.key'), COSIGN_KEY);
  writeFileSync(join(dir, 'cosign.pub'), COSIGN_PUB);
  const id = expectedKeyId(COSIGN_PUB);
  const pub = await runCli(['key', 'id', join(dir, 'cosign.pub')], {});
  t.same([pub.code, pub.stdout], [0, `${id}\n`], 'one file: the id alone');
  const encrypted = await runCli(['key', 'id', join(dir, 'cosign.key'), join(dir, 'cosign.pub')], { COSIGN_PASSWORD });
  t.same([encrypted.code, encrypted.stdout], [0, `${id}  ${join(dir, 'cosign.key')}\n${id}  ${join(dir, 'cosign.pub')}\n`]);
  t.notOk(/PRIVATE KEY/.test(encrypted.stdout + encrypted.stderr), 'no key material printed');
  const wrong = await runCli(['key', 'id', join(dir, 'cosign.key')], { COSIGN_PASSWORD: 'wrong' });
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /^modelgate: WRONG_PASSPHRASE: /);
  const none = await runCli(['key', 'id', join(dir, 'cosign.key')], {});
  t.match(none.stderr, /^modelgate: PASSPHRASE: no passphrase: set MODELGATE_PASSWORD \(or COSIGN_PASSWORD/);

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writeFileSync(join(dir, 'plain.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'sec1.pem'), privateKey.export({ type: 'sec1', format: 'pem' }));
  const json = await runCli(['key', 'id', join(dir, 'plain.pem'), join(dir, 'sec1.pem'), '-o', 'json'], {});
  t.equal(json.code, 0, json.stderr);
  t.same(JSON.parse(json.stdout), [
    { file: join(dir, 'plain.pem'), keyId: expectedKeyId(publicPem), kind: 'private' },
    { file: join(dir, 'sec1.pem'), keyId: expectedKeyId(publicPem), kind: 'private' },
  ]);

  // A certificate: the id of its subject public key (here RSA, self-signed with node-forge).
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(rsaPublicPem);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date('2026-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2027-01-01T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: 'release signer' }]);
  cert.setIssuer([{ name: 'commonName', value: 'release signer' }]);
  cert.sign(forge.pki.privateKeyFromPem(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), forge.md.sha256.create());
  writeFileSync(join(dir, 'signer.crt'), forge.pki.certificateToPem(cert));
  const certificate = await runCli(['key', 'id', join(dir, 'signer.crt'), '--output', 'json'], {});
  t.same(JSON.parse(certificate.stdout), [{ file: join(dir, 'signer.crt'), keyId: expectedKeyId(rsaPublicPem), kind: 'certificate' }]);

  writeFileSync(join(dir, 'junk.pem'), 'not a key');
  const junk = await runCli(['key', 'id', join(dir, 'junk.pem')], {});
  t.equal(junk.code, 2);
  t.match(junk.stderr, /^modelgate: KEY_FORMAT: .*junk\.pem: no PEM block found/);
});
