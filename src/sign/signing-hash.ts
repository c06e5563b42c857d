/**
 * Which hash a signature by a private key is made with: the same curve rule the verifier applies
 * (`keyProfile` in src/sigstore/keys.ts — P-256→SHA-256, P-384→SHA-384, P-521→SHA-512, Ed25519→none),
 * so what we sign is exactly what cosign, model_signing and our own verifier expect.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { keyProfile, type SignatureHash } from '../sigstore/keys.ts';
import { SigningError } from './errors.ts';

export type SigningKeyKind = 'ecdsa' | 'ed25519';

/** The signing hash for `privateKey` (`null` for Ed25519); refuses public keys and key kinds not in `accepted`. */
export function signingHash(privateKey: KeyObject, what: string, accepted: readonly SigningKeyKind[] = ['ecdsa', 'ed25519']): SignatureHash | null {
  if (privateKey.type !== 'private') throw new SigningError('KEY_FORMAT', `signing needs a private key, got a ${privateKey.type} key`);
  let profile: ReturnType<typeof keyProfile>;
  try {
    profile = keyProfile(createPublicKey(privateKey));
  } catch (err) {
    throw new SigningError('KEY_FORMAT', `${what}: ${(err as Error).message}`);
  }
  if (profile.kind === 'rsa' || !accepted.includes(profile.kind)) {
    const names = accepted.map((kind) => (kind === 'ecdsa' ? 'ECDSA P-256/P-384/P-521' : 'Ed25519')).join(' or ');
    throw new SigningError('KEY_FORMAT', `${what} are signed with ${names} keys; got ${profile.kind}`);
  }
  return profile.kind === 'ed25519' ? null : profile.hash;
}
