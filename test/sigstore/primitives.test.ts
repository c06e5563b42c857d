/**
 * Sigstore primitives: public-key parsing, curve-matched and prehashed signature checks, DSSE PAE and
 * strict envelope parsing.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { throwsCode } from './throws-code.ts';
import { decodeBase64Strict, parseDsseEnvelope, preAuthEncoding, verifyEnvelopeSignature } from '../../src/sigstore/dsse.ts';
import { keyHint, keyId, parsePublicKey, signatureHashFor, verifyPrehashedSignature, verifyRawSignature, verifyWithHash } from '../../src/sigstore/keys.ts';

const VECTORS = join(import.meta.dirname, '../../../shared/vectors');


t.test('parsePublicKey tolerates a GnuTLS dump before the PEM block and computes key IDs', async (t) => {
  const text = readFileSync(join(VECTORS, 'model-transparency/keys/certificate/signing-key-pub.pem'), 'utf8');
  t.notOk(text.startsWith('-----BEGIN'), 'the vector really has text before the PEM block');
  const key = parsePublicKey(text);
  t.equal(key.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  t.equal(signatureHashFor(key), 'sha384');
  const der = key.export({ type: 'spki', format: 'der' });
  t.equal(keyId(key), createHash('sha256').update(der).digest('hex'));
  t.equal(keyHint(key), createHash('sha256').update(der).digest('base64'));
  const cosignPub = parsePublicKey(readFileSync(join(VECTORS, 'sigstore-conformance/bundle-verify/managed-key-happy-path/key.pub'), 'utf8'));
  t.equal(keyHint(cosignPub), 'TLMsSDfG3ajPsWge+z/vX5T/zluXnmvbkTkwLIV68Tk=', 'cosign key hint convention matches the conformance bundle');
  throwsCode(t, () => parsePublicKey('no key here'), 'KEY', 'no PEM block');
  throwsCode(t, () => parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'), 'KEY', 'garbage PEM body');
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  throwsCode(t, () => parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString()), 'KEY', 'unsupported curve');
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  throwsCode(t, () => parsePublicKey(rsa1024.export({ type: 'spki', format: 'pem' }).toString()), 'KEY', 'short RSA key');
});

t.test('verifyRawSignature picks the hash from the key; prehashed verification agrees with crypto.sign', async (t) => {
  const cases = [
    { type: 'ec', curve: 'P-256', hash: 'sha256' },
    { type: 'ec', curve: 'P-384', hash: 'sha384' },
    { type: 'ec', curve: 'P-521', hash: 'sha512' },
    { type: 'rsa', hash: 'sha256' },
    { type: 'ed25519', hash: null },
  ] as const;
  for (const c of cases) {
    const pair =
      c.type === 'ec' ? generateKeyPairSync('ec', { namedCurve: c.curve }) : c.type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    const name = c.type === 'ec' ? c.curve : c.type;
    for (let i = 0; i < 5; i++) {
      const data = Buffer.from(`message ${i} for ${name}`);
      const sig = sign(c.hash, data, pair.privateKey);
      t.ok(verifyRawSignature(pair.publicKey, data, sig), `${name} #${i}: right hash verifies`);
      t.notOk(verifyRawSignature(pair.publicKey, Buffer.from(`other ${i}`), sig), `${name} #${i}: other data fails`);
      if (c.hash !== null) {
        const digest = createHash(c.hash).update(data).digest();
        t.ok(verifyPrehashedSignature(pair.publicKey, c.hash, digest, sig), `${name} #${i}: prehashed verifies`);
        const other = createHash(c.hash).update(`x${i}`).digest();
        t.notOk(verifyPrehashedSignature(pair.publicKey, c.hash, other, sig), `${name} #${i}: prehashed over another digest fails`);
      } else {
        t.notOk(verifyPrehashedSignature(pair.publicKey, 'sha256', createHash('sha256').update(data).digest(), sig), 'Ed25519 cannot verify prehashed');
      }
    }
    if (c.type === 'ec' && c.curve !== 'P-256') {
      const data = Buffer.from('signed with sha256 on a bigger curve');
      const sig = sign('sha256', data, pair.privateKey);
      t.notOk(verifyRawSignature(pair.publicKey, data, sig), `${name}: a SHA-256 signature is not what this key's hash expects`);
      t.ok(verifyWithHash(pair.publicKey, 'sha256', data, sig), `${name}: verifyWithHash honours an explicit hash`);
    }
  }
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const digest = createHash('sha256').update('x').digest();
  t.notOk(verifyPrehashedSignature(publicKey, 'sha256', digest, Buffer.from('3006020100020100', 'hex')), 'r = s = 0 rejected');
  t.notOk(verifyPrehashedSignature(publicKey, 'sha256', digest, Buffer.from('not der')), 'non-DER rejected');
  t.notOk(verifyPrehashedSignature(publicKey, 'sha256', digest.subarray(1), sign('sha256', Buffer.from('x'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)), 'short digest rejected');
  t.notOk(verifyRawSignature(publicKey, Buffer.from('x'), Buffer.alloc(0)), 'empty signature is false, not a throw');
});

t.test('DSSE PAE, strict base64 and envelope parsing', async (t) => {
  t.equal(preAuthEncoding('application/vnd.in-toto+json', Buffer.from('{}')).toString(), 'DSSEv1 28 application/vnd.in-toto+json 2 {}', 'DSSE spec example');
  t.equal(preAuthEncoding('tÿpe', Buffer.from('é')).toString('utf8'), 'DSSEv1 5 tÿpe 2 é', 'lengths are UTF-8 byte lengths');
  t.same(decodeBase64Strict('+/+/', 'x'), decodeBase64Strict('-_-_', 'x'), 'standard and URL-safe alphabets both accepted');
  for (const bad of ['ab$c', 'abcde', 'a b=', '+/-_', 'abc==', 5, null]) throwsCode(t, () => decodeBase64Strict(bad, 'field'), 'BUNDLE_FORMAT', `base64 ${JSON.stringify(bad)}`);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const payload = Buffer.from('{"hello":"world"}');
  const sig = sign('sha384', preAuthEncoding('application/json', payload), privateKey);
  const env = parseDsseEnvelope({ payloadType: 'application/json', payload: payload.toString('base64'), signatures: [{ keyid: '', sig: sig.toString('base64') }] });
  t.ok(verifyEnvelopeSignature(env, publicKey), 'P-384 envelope verifies with SHA-384');
  t.notOk(verifyEnvelopeSignature({ ...env, payload: Buffer.from('{"hello":"there"}') }, publicKey), 'changed payload fails');
  t.notOk(verifyEnvelopeSignature({ ...env, payloadType: 'application/other' }, publicKey), 'changed payloadType fails');
  const bad: unknown[] = [
    null,
    [],
    { payload: 'e30=', signatures: [{ sig: 'AAAA' }] },
    { payloadType: 'x', payload: 'e3=0', signatures: [{ sig: 'AAAA' }] },
    { payloadType: 'x', payload: 'e30=', signatures: [] },
    { payloadType: 'x', payload: 'e30=', signatures: 'AAAA' },
    { payloadType: 'x', payload: 'e30=', signatures: [{ sig: '' }] },
    { payloadType: 'x', payload: 'e30=', signatures: [{ sig: 'AAAA', keyid: 7 }] },
  ];
  for (const b of bad) throwsCode(t, () => parseDsseEnvelope(b), 'BUNDLE_FORMAT', `envelope ${JSON.stringify(b)}`);
});
