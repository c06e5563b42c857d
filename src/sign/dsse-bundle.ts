/**
 * Sign an in-toto statement with a local private key into a Sigstore bundle v0.3 (`dsseEnvelope`), as
 * `cosign sign --key … --tlog-upload=false` (cosign v3 bundle format) and `cosign attest` write it.
 *
 * Owns: building in-toto Statement v1 payloads (`inTotoStatement`), the DSSE signature over the PAE
 * with the hash the key's curve calls for (P-256→SHA-256, P-384→SHA-384, P-521→SHA-512; Ed25519 signs
 * the PAE itself — the rule `src/sigstore/keys.ts` verifies with), and `publicKey.hint` = cosign's key
 * hint (base64 SHA-256 of the SPKI DER). No tlog entry and no timestamp are added: verifiers must
 * accept key-signed evidence without a transparency log (`tlogThreshold: 0`).
 * Bundle assembly and JSON form come from `@sigstore/bundle` (the library sigstore-js signs with).
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { bundleToJSON, toDSSEBundle, type SerializedBundle } from '@sigstore/bundle';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import { preAuthEncoding } from '../sigstore/dsse.ts';
import { keyHint } from '../sigstore/keys.ts';
import { UsageError } from '../errors.ts';
import { signingHash } from './signing-hash.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../evidence/vocabulary.ts';

export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** predicateType of a cosign v3 image signature (a statement with an empty predicate). */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

export interface StatementSubject {
  readonly name?: string;
  readonly digest: Digest;
}

/** An in-toto Statement v1 about `subjects`, serialised as the DSSE payload (UTF-8 JSON). */
export function inTotoStatement(subjects: readonly StatementSubject[], predicateType: string, predicate: unknown = {}): Buffer {
  if (subjects.length === 0) throw new UsageError('USAGE', 'an in-toto statement needs at least one subject');
  const statement = {
    _type: IN_TOTO_STATEMENT_V1,
    subject: subjects.map((s) => ({ ...(s.name === undefined ? {} : { name: s.name }), digest: { [digestAlgorithm(s.digest)]: digestHex(s.digest) } })),
    predicateType,
    predicate,
  };
  return Buffer.from(JSON.stringify(statement), 'utf8');
}

/** A Sigstore bundle v0.3 JSON object whose DSSE envelope carries `payload` signed by `privateKey`. */
export function signDsseBundle(payload: Uint8Array, privateKey: KeyObject, payloadType: string = IN_TOTO_PAYLOAD_TYPE): SerializedBundle {
  const hash = signingHash(privateKey, 'DSSE bundles');
  const artifact = Buffer.from(payload);
  const signature = sign(hash, preAuthEncoding(payloadType, artifact), privateKey); // ECDSA: ASN.1 DER
  const bundle = toDSSEBundle({
    artifact,
    artifactType: payloadType,
    signature,
    keyHint: keyHint(createPublicKey(privateKey)),
    certificateChain: false, // → application/vnd.dev.sigstore.bundle.v0.3+json
  });
  const json = bundleToJSON(bundle);
  const timestamps = json.verificationMaterial.timestampVerificationData;
  if (timestamps !== undefined && (timestamps.rfc3161Timestamps ?? []).length === 0) delete json.verificationMaterial.timestampVerificationData;
  return json;
}

/** Sign a statement about `subjects` with `predicateType` / `predicate` (attestations and cosign v3 signatures). */
export function signStatementBundle(subjects: readonly StatementSubject[], predicateType: string, predicate: unknown, privateKey: KeyObject): SerializedBundle {
  return signDsseBundle(inTotoStatement(subjects, predicateType, predicate), privateKey);
}
