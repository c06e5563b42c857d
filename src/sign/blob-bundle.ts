/**
 * Sign a blob with a private key into a Sigstore bundle v0.3 (`messageSignature`), as
 * `cosign sign-blob --key … --bundle … --new-bundle-format` writes it when no transparency log is used.
 *
 * Owns: the key-to-hash rule for blob signatures (P-256→SHA-256, P-384→SHA-384, P-521→SHA-512, the
 * same rule `src/sigstore/keys.ts` verifies with), the `messageDigest` over the blob with that hash,
 * and the `publicKey.hint` = cosign's key hint (base64 SHA-256 of the SPKI DER). No tlog entry and no
 * timestamp are added: verify with a `key` signer and `tlogThreshold: 0`.
 * Bundle assembly and JSON form come from `@sigstore/bundle` (the library sigstore-js signs with).
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { bundleToJSON, toMessageSignatureBundle, type SerializedBundle } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { keyHint } from '../sigstore/keys.ts';
import { SigningError } from './errors.ts';

type BlobHash = 'sha256' | 'sha384' | 'sha512';

const PROTO_HASH: Record<BlobHash, HashAlgorithm> = {
  sha256: HashAlgorithm.SHA2_256,
  sha384: HashAlgorithm.SHA2_384,
  sha512: HashAlgorithm.SHA2_512,
};

function hashForKey(key: KeyObject): BlobHash {
  if (key.asymmetricKeyType === 'ec') {
    switch (key.asymmetricKeyDetails?.namedCurve) {
      case 'prime256v1':
        return 'sha256';
      case 'secp384r1':
        return 'sha384';
      case 'secp521r1':
        return 'sha512';
    }
  }
  // Ed25519 message signatures would need cosign's ED25519_PH variant, which verifiers disagree on.
  throw new SigningError('KEY_FORMAT', `blob bundles are signed with ECDSA P-256/P-384/P-521 keys; got ${String(key.asymmetricKeyType)} ${String(key.asymmetricKeyDetails?.namedCurve ?? '')}`.trim());
}

/** A Sigstore bundle v0.3 JSON object (proto3 JSON form) carrying an ECDSA signature over `blob`. */
export function signBlobBundle(blob: Uint8Array, privateKey: KeyObject): SerializedBundle {
  if (privateKey.type !== 'private') throw new SigningError('KEY_FORMAT', `signing needs a private key, got a ${privateKey.type} key`);
  const hash = hashForKey(privateKey);
  const signature = sign(hash, blob, privateKey); // ASN.1 DER, as cosign writes
  const bundle = toMessageSignatureBundle({
    digest: createHash(hash).update(blob).digest(),
    signature,
    keyHint: keyHint(createPublicKey(privateKey)),
    certificateChain: false, // → application/vnd.dev.sigstore.bundle.v0.3+json
  });
  if (bundle.content.$case === 'messageSignature' && bundle.content.messageSignature.messageDigest !== undefined) {
    bundle.content.messageSignature.messageDigest.algorithm = PROTO_HASH[hash];
  }
  const json = bundleToJSON(bundle);
  // An empty `timestampVerificationData: {}` carries nothing; cosign omits it when there is no timestamp.
  const timestamps = json.verificationMaterial.timestampVerificationData;
  if (timestamps !== undefined && (timestamps.rfc3161Timestamps ?? []).length === 0) delete json.verificationMaterial.timestampVerificationData;
  return json;
}
