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
import { keyHint, type SignatureHash } from '../sigstore/keys.ts';
import { signingHash } from './signing-hash.ts';
import { SigningError } from './errors.ts';

const PROTO_HASH: Record<SignatureHash, HashAlgorithm> = {
  sha256: HashAlgorithm.SHA2_256,
  sha384: HashAlgorithm.SHA2_384,
  sha512: HashAlgorithm.SHA2_512,
};

/** A Sigstore bundle v0.3 JSON object (proto3 JSON form) carrying an ECDSA signature over `blob`. */
export function signBlobBundle(blob: Uint8Array, privateKey: KeyObject): SerializedBundle {
  // Ed25519 message signatures would need cosign's ED25519_PH variant, which verifiers disagree on.
  const hash = signingHash(privateKey, 'blob bundles', ['ecdsa']);
  if (hash === null) throw new SigningError('KEY_FORMAT', 'blob bundles need an ECDSA key'); // Ed25519 was refused above
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
