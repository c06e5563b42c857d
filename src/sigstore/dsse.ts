/**
 * DSSE envelopes (Dead Simple Signing Envelope v1): parsing, PAE, signature checks.
 *
 * Owns: the `DsseEnvelope` type, strict parsing of the JSON envelope (as found in Sigstore bundles,
 * cosign `.att` layers and model_signing), the pre-authentication encoding, and verifying one
 * envelope signature with the hash chosen by the key (`keys.ts`).
 */
import type { KeyObject } from 'node:crypto';
import { VerificationError } from './errors.ts';
import { verifyRawSignature } from './keys.ts';
import { isRecord } from '../evidence/json.ts';

export interface DsseSignature {
  /** Unauthenticated hint; never used for a security decision. */
  keyid?: string;
  sig: Buffer;
}

export interface DsseEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: DsseSignature[];
}

/** `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths in bytes (UTF-8). */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.byteLength} `, 'ascii'),
    type,
    Buffer.from(` ${payload.byteLength} `, 'ascii'),
    payload,
  ]);
}

const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decode base64 strictly: the standard or the URL-safe alphabet (DSSE verifiers must accept both),
 * never mixed, no whitespace or stray characters, padding only where it belongs.
 * Throws BUNDLE_FORMAT naming `what`.
 */
export function decodeBase64Strict(value: unknown, what: string): Buffer {
  if (typeof value !== 'string') throw new VerificationError('BUNDLE_FORMAT', `${what} must be a base64 string`);
  const standard = STANDARD_BASE64.test(value) && value.length % 4 === 0;
  const unpadded = value.replace(/=+$/, '');
  const urlSafe = !standard && URL_SAFE_BASE64.test(value) && unpadded.length % 4 !== 1 && (value.length === unpadded.length || value.length % 4 === 0);
  if (!standard && !urlSafe) throw new VerificationError('BUNDLE_FORMAT', `${what} is not valid base64`);
  return Buffer.from(value, standard ? 'base64' : 'base64url');
}

/** Parse a DSSE envelope from its JSON form. Throws BUNDLE_FORMAT with the offending field. */
export function parseDsseEnvelope(json: unknown): DsseEnvelope {
  if (!isRecord(json)) throw new VerificationError('BUNDLE_FORMAT', 'DSSE envelope must be a JSON object');
  const { payloadType, payload, signatures } = json;
  if (typeof payloadType !== 'string' || payloadType.length === 0) {
    throw new VerificationError('BUNDLE_FORMAT', 'DSSE envelope payloadType must be a non-empty string');
  }
  const decodedPayload = decodeBase64Strict(payload, 'DSSE envelope payload');
  if (!Array.isArray(signatures) || signatures.length === 0) {
    throw new VerificationError('BUNDLE_FORMAT', 'DSSE envelope signatures must be a non-empty array');
  }
  const parsed = signatures.map((entry, i): DsseSignature => {
    if (!isRecord(entry)) throw new VerificationError('BUNDLE_FORMAT', `DSSE envelope signatures[${i}] must be an object`);
    const sig = decodeBase64Strict(entry.sig, `DSSE envelope signatures[${i}].sig`);
    if (sig.byteLength === 0) throw new VerificationError('BUNDLE_FORMAT', `DSSE envelope signatures[${i}].sig is empty`);
    if (entry.keyid !== undefined && typeof entry.keyid !== 'string') {
      throw new VerificationError('BUNDLE_FORMAT', `DSSE envelope signatures[${i}].keyid must be a string`);
    }
    return entry.keyid === undefined ? { sig } : { keyid: entry.keyid, sig };
  });
  return { payloadType, payload: decodedPayload, signatures: parsed };
}

/** True when any signature of the envelope verifies under `key` over PAE(payloadType, payload). */
export function verifyEnvelopeSignature(env: DsseEnvelope, key: KeyObject): boolean {
  const pae = preAuthEncoding(env.payloadType, env.payload);
  return env.signatures.some((s) => verifyRawSignature(key, pae, s.sig));
}
