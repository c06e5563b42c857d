/**
 * Public keys and raw signature checks, with the hash chosen the way cosign and model_signing do.
 *
 * Owns: parsing PEM public keys (tolerating a text dump before the PEM block), key IDs, and
 * `verifyRawSignature` / `verifyPrehashedSignature`. The hash follows the key: P-256→SHA-256,
 * P-384→SHA-384, P-521→SHA-512, Ed25519→none (pure EdDSA), RSA→SHA-256 (PKCS#1 v1.5).
 * `@sigstore/verify` 3.1.1 uses SHA-256 for every ECDSA curve, which rejects correct P-384/P-521
 * signatures; this module is the single place the right hash is picked.
 */
import { createHash, createPublicKey, constants, publicDecrypt, verify, type KeyObject } from 'node:crypto';
import { VerificationError } from './errors.ts';
import { verifyEcdsaPrehashed, type EcdsaCurve } from './ecdsa-prehashed.ts';

export type SignatureHash = 'sha256' | 'sha384' | 'sha512';

/** What kind of key this is, with the hash its signatures use. Unsupported keys throw KEY. */
export type KeyProfile =
  | { kind: 'ecdsa'; curve: EcdsaCurve; hash: SignatureHash }
  | { kind: 'ed25519' }
  | { kind: 'rsa'; hash: 'sha256' };

const PEM_BLOCK = /-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|EC PUBLIC KEY)-----[\s\S]*?-----END \1-----/;

/**
 * Parse a public key from PEM text. Text before/after the PEM block (e.g. a GnuTLS/OpenSSL dump as in
 * model_signing's `signing-key-pub.pem`) is ignored. Throws VerificationError KEY.
 */
export function parsePublicKey(pemOrText: string): KeyObject {
  const block = PEM_BLOCK.exec(pemOrText);
  if (block === null) {
    throw new VerificationError('KEY', 'no "-----BEGIN PUBLIC KEY-----" PEM block found in the key text');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block[0], format: 'pem' });
  } catch (err) {
    throw new VerificationError('KEY', `public key PEM block is not a valid key: ${(err as Error).message}`, { cause: err });
  }
  keyProfile(key); // reject unsupported algorithms now, not at verification time
  return key;
}

/** Public key from DER SubjectPublicKeyInfo bytes. Throws KEY. */
export function publicKeyFromSpki(der: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (err) {
    throw new VerificationError('KEY', `not a valid DER SubjectPublicKeyInfo: ${(err as Error).message}`, { cause: err });
  }
  keyProfile(key);
  return key;
}

export function spkiDer(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}

/** Hex SHA-256 of the key's SPKI DER encoding. */
export function keyId(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('hex');
}

/** cosign's key hint: standard base64 of SHA-256 of the SPKI DER (used in `publicKey.hint`). */
export function keyHint(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('base64');
}

export function keyProfile(key: KeyObject): KeyProfile {
  if (key.type !== 'public') throw new VerificationError('KEY', `expected a public key, got a ${key.type} key`);
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return { kind: 'ecdsa', curve: 'P-256', hash: 'sha256' };
      if (curve === 'secp384r1' || curve === 'P-384') return { kind: 'ecdsa', curve: 'P-384', hash: 'sha384' };
      if (curve === 'secp521r1' || curve === 'P-521') return { kind: 'ecdsa', curve: 'P-521', hash: 'sha512' };
      throw new VerificationError('KEY', `unsupported elliptic curve ${String(curve)} (supported: P-256, P-384, P-521)`);
    }
    case 'ed25519':
      return { kind: 'ed25519' };
    case 'rsa':
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new VerificationError('KEY', 'RSA keys shorter than 2048 bits are not accepted');
      return { kind: 'rsa', hash: 'sha256' };
    default:
      throw new VerificationError('KEY', `unsupported public key type ${String(key.asymmetricKeyType)}`);
  }
}

/** The hash a signature by this key is computed with; `null` for Ed25519 (signs the message itself). */
export function signatureHashFor(key: KeyObject): SignatureHash | null {
  const profile = keyProfile(key);
  return profile.kind === 'ed25519' ? null : profile.hash;
}

/**
 * Verify `signature` over `data` with the hash chosen by the key (see module comment).
 * ECDSA signatures are ASN.1 DER (as cosign, Fulcio and model_signing produce). Never throws for a
 * bad signature: returns false. Throws KEY only for an unsupported key.
 */
export function verifyRawSignature(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  return verifyWithHash(key, signatureHashFor(key), data, signature);
}

/**
 * Verify with an explicit hash (e.g. a bundle's `messageDigest.algorithm`). For Ed25519 the hash must
 * be null (pure EdDSA); any other combination is a mismatch → false.
 */
export function verifyWithHash(key: KeyObject, hash: SignatureHash | null, data: Uint8Array, signature: Uint8Array): boolean {
  const profile = keyProfile(key);
  if ((profile.kind === 'ed25519') !== (hash === null)) return false;
  try {
    return verify(hash, data, key, signature);
  } catch {
    return false; // malformed signature encodings make OpenSSL throw; that is a failed verification
  }
}

const DIGEST_INFO_PREFIX: Record<SignatureHash, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};
const DIGEST_LENGTH: Record<SignatureHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

/**
 * Verify a signature made over a message whose `hash` digest is `digest`, without the message
 * ("prehashed" verification, as cosign/sigstore-python do when given only `sha256:<hex>`). Node's
 * crypto always hashes its input, so ECDSA is checked by `ecdsa-prehashed.ts` and RSA by recovering
 * the PKCS#1 DigestInfo. Ed25519 cannot verify a prehashed message: returns false.
 */
export function verifyPrehashedSignature(key: KeyObject, hash: SignatureHash, digest: Uint8Array, signature: Uint8Array): boolean {
  if (digest.byteLength !== DIGEST_LENGTH[hash]) return false;
  const profile = keyProfile(key);
  switch (profile.kind) {
    case 'ed25519':
      return false;
    case 'ecdsa':
      return verifyEcdsaPrehashed(key, profile.curve, digest, signature);
    case 'rsa': {
      try {
        const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
        return recovered.equals(Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[hash], 'hex'), digest]));
      } catch {
        return false;
      }
    }
  }
}
