/**
 * Verifying the signature of an OMS `model.sig` bundle with one of model_signing's three methods.
 *
 * Owns: `verifyModelSignature(bundle, method)` → the verified in-toto statement and who signed it.
 *  - `key`: DSSE signature by the given public key, hash chosen by the curve (P-384 → SHA-384);
 *    the bundle must carry `publicKey` material (its hint / non-standard `rawBytes` are ignored:
 *    the caller's key is the only truth). No transparency log, no timestamp (model_signing).
 *  - `certificate`: DSSE signature by the leaf of `x509CertificateChain` (also accepted: a single
 *    `certificate`), whose chain must lead to the caller's CA certificates (`cert-chain.ts`).
 *  - `sigstore`: the full Sigstore bundle verification (Fulcio chain, Rekor, SCT, identity) of
 *    `src/sigstore`, with the exact SAN and OIDC issuer.
 * Only bundle media type v0.3 is accepted for key/certificate (model_signing checks the same), and
 * only DSSE content. Legacy v0.2.0 signatures (`Digests/v0.1` statements over model_signing 0.2's
 * buggy PAE; SHA-256 on any curve for certificates) only with `allowLegacy`, and only as
 * model_signing's `pae_compat` fallback accepts them (see `envelopeVerifies`).
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { parseStatementPayload, type Statement } from '../attest/statement.ts';
import { isRecord } from '../evidence/json.ts';
import { IN_TOTO_PAYLOAD_TYPE, SIGSTORE_BUNDLE_MEDIA_TYPES, SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '../evidence/vocabulary.ts';
import { OMS_PREDICATE_LEGACY } from './payload.ts';
import { decodeBase64Strict, parseDsseEnvelope, preAuthEncoding, type DsseEnvelope } from '../sigstore/dsse.ts';
import { echo, VerificationError } from '../sigstore/errors.ts';
import { keyId, signatureHashFor, verifyRawSignature, verifyWithHash, type SignatureHash } from '../sigstore/keys.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { subjectOf, verifyCertificateChain } from './cert-chain.ts';
import { verifySigstoreDsse } from './sigstore-method.ts';

/** Bundle v0.3 in either spelling (the model-signing format requires v0.3). */
const MODEL_SIGNING_MEDIA_TYPES: ReadonlySet<string> = new Set(SIGSTORE_BUNDLE_MEDIA_TYPES.filter((t) => t.includes('0.3')));
const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

export type ModelSigningMethod =
  | { readonly kind: 'key'; readonly publicKey: KeyObject }
  | {
      readonly kind: 'certificate';
      readonly caCertificates: readonly X509Certificate[];
      /** Time the chain must be valid at; default now (OMS §8.2). model_signing uses the leaf's notBefore. */
      readonly verificationTime?: Date;
    }
  | { readonly kind: 'sigstore'; readonly identity: string; readonly issuer: string; readonly trust: TrustMaterial };

export type ModelSigner =
  | { readonly kind: 'key'; readonly keyId: string }
  | { readonly kind: 'certificate'; readonly subject: string; readonly fingerprint256: string; readonly chainLength: number }
  | { readonly kind: 'sigstore'; readonly identity: string; readonly issuer: string };

export interface VerifiedModelBundle {
  readonly statement: Statement;
  readonly signer: ModelSigner;
  /** True when only the legacy v0.2.0 PAE verified the signature. */
  readonly legacyPae: boolean;
}

export interface ModelSignatureOptions {
  readonly allowLegacy?: boolean;
}

/** Parse the bundle JSON (text, bytes or an already-parsed object). Throws BUNDLE_FORMAT. */
export function parseModelBundleJson(input: string | Uint8Array | unknown): Record<string, unknown> {
  let json: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    if (input.length > MAX_BUNDLE_BYTES) throw new VerificationError('BUNDLE_FORMAT', `signature bundle is larger than ${MAX_BUNDLE_BYTES} bytes`);
    try {
      json = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
    } catch (err) {
      throw new VerificationError('BUNDLE_FORMAT', `signature bundle is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!isRecord(json)) throw new VerificationError('BUNDLE_FORMAT', 'signature bundle must be a JSON object');
  return json;
}

/** Python `repr(bytes)`, as model_signing v0.2.0 embedded it in its (buggy) PAE. */
export function pythonBytesRepr(bytes: Uint8Array): string {
  const hasSingle = bytes.includes(0x27);
  const quote = hasSingle && !bytes.includes(0x22) ? '"' : "'";
  let out = `b${quote}`;
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x09) out += '\\t';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === quote.charCodeAt(0)) out += `\\${quote}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `${out}${quote}`;
}

function legacyPae(env: DsseEnvelope): Buffer {
  const type = env.payloadType;
  return Buffer.from(`DSSEV1 ${type.length} ${type} ${env.payload.byteLength} ${pythonBytesRepr(env.payload)}`, 'utf8');
}

/** Is the payload a model_signing 0.2 statement (`Digests/v0.1`), read leniently before it is trusted? */
function isLegacyStatement(env: DsseEnvelope): boolean {
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return false;
  try {
    const json = JSON.parse(env.payload.toString('utf8')) as unknown;
    return isRecord(json) && json.predicateType === OMS_PREDICATE_LEGACY;
  } catch {
    return false;
  }
}

/**
 * Does the envelope's signature verify under `key`? Standard PAE (hash by the key) first; the
 * model_signing 0.2 compat PAE only as model_signing's `pae_compat` fallback does: after the
 * standard PAE failed, only for a `Digests/v0.1` statement, with `compatHash` (the key method
 * hashes by the curve, the certificate method with SHA-256, as 0.2 signed). Never for v1.0 payloads.
 */
function envelopeVerifies(env: DsseEnvelope, key: KeyObject, compatHash: SignatureHash | undefined): { ok: boolean; legacy: boolean } {
  const pae = preAuthEncoding(env.payloadType, env.payload);
  if (env.signatures.some((s) => verifyRawSignature(key, pae, s.sig))) return { ok: true, legacy: false };
  if (compatHash !== undefined && isLegacyStatement(env)) {
    const compat = legacyPae(env);
    if (env.signatures.some((s) => verifyWithHash(key, compatHash, compat, s.sig))) return { ok: true, legacy: true };
  }
  return { ok: false, legacy: false };
}

/**
 * OMS §4.1: a signature's `keyid` may be absent, "" or null (model_signing writes null); the shared
 * DSSE parser accepts only absent or a string, so null is dropped here (keyid is never trusted anyway).
 */
export function withoutNullKeyIds(envelope: unknown): unknown {
  if (!isRecord(envelope) || !Array.isArray(envelope.signatures)) return envelope;
  return {
    ...envelope,
    signatures: envelope.signatures.map((s: unknown) => {
      if (!isRecord(s) || s.keyid !== null) return s;
      const { keyid: _dropped, ...rest } = s;
      return rest;
    }),
  };
}

function requireDsse(bundle: Record<string, unknown>): DsseEnvelope {
  if (bundle.dsseEnvelope === undefined) {
    throw new VerificationError('BUNDLE_FORMAT', 'model signature bundle has no dsseEnvelope (model_signing signs a DSSE in-toto statement)');
  }
  const env = parseDsseEnvelope(withoutNullKeyIds(bundle.dsseEnvelope));
  // One rule with `verifyBundle` (and model_signing's sigstore method): a bundle's envelope carries
  // exactly one signature, so `[bogus, real]` is refused instead of verifying on the second.
  if (env.signatures.length !== 1) throw new VerificationError('BUNDLE_FORMAT', 'a bundle DSSE envelope must carry exactly one non-empty signature');
  return env;
}

function requireMediaType(bundle: Record<string, unknown>): void {
  if (typeof bundle.mediaType !== 'string' || !MODEL_SIGNING_MEDIA_TYPES.has(bundle.mediaType)) {
    throw new VerificationError('BUNDLE_FORMAT', `invalid model signature bundle media type ${echo(bundle.mediaType)}, expected ${SIGSTORE_BUNDLE_V03_MEDIA_TYPE}`);
  }
}

function material(bundle: Record<string, unknown>): Record<string, unknown> {
  const vm = bundle.verificationMaterial;
  if (!isRecord(vm)) throw new VerificationError('BUNDLE_FORMAT', 'signature bundle has no verificationMaterial object');
  return vm;
}

function certificatesOf(vm: Record<string, unknown>): Buffer[] {
  const chain = vm.x509CertificateChain;
  if (isRecord(chain)) {
    const certs = chain.certificates;
    if (!Array.isArray(certs) || certs.length === 0) throw new VerificationError('BUNDLE_FORMAT', 'x509CertificateChain.certificates must be a non-empty array');
    return certs.map((c, i) => {
      if (!isRecord(c)) throw new VerificationError('BUNDLE_FORMAT', `x509CertificateChain.certificates[${i}] must be an object`);
      return decodeBase64Strict(c.rawBytes, `x509CertificateChain.certificates[${i}].rawBytes`);
    });
  }
  if (isRecord(vm.certificate)) return [decodeBase64Strict(vm.certificate.rawBytes, 'certificate.rawBytes')];
  throw new VerificationError('BUNDLE_FORMAT', 'the bundle carries no certificate (it was not signed with the certificate method)');
}

function statementOf(env: { payloadType: string; payload: Buffer }): Statement {
  return parseStatementPayload(env.payloadType, env.payload);
}

/**
 * Verify the bundle's signature with `method` and return the signed statement. Throws
 * VerificationError (SIGNATURE, CERTIFICATE, IDENTITY, KEY, BUNDLE_FORMAT, TLOG, …) or
 * AttestationError (PAYLOAD_TYPE, STATEMENT) for a bad payload.
 */
export async function verifyModelSignature(
  bundleInput: string | Uint8Array | unknown,
  method: ModelSigningMethod,
  options: ModelSignatureOptions = {},
): Promise<VerifiedModelBundle> {
  const bundle = parseModelBundleJson(bundleInput);
  const allowLegacy = options.allowLegacy === true;
  switch (method.kind) {
    case 'key': {
      requireMediaType(bundle);
      const vm = material(bundle);
      if (!isRecord(vm.publicKey)) {
        throw new VerificationError('BUNDLE_FORMAT', 'the bundle carries no publicKey material (it was not signed with the key method)');
      }
      const env = requireDsse(bundle);
      const result = envelopeVerifies(env, method.publicKey, allowLegacy ? (signatureHashFor(method.publicKey) ?? undefined) : undefined);
      if (!result.ok) throw new VerificationError('SIGNATURE', 'the DSSE signature does not verify with the given public key');
      return { statement: statementOf(env), signer: { kind: 'key', keyId: keyId(method.publicKey) }, legacyPae: result.legacy };
    }
    case 'certificate': {
      requireMediaType(bundle);
      const certs = certificatesOf(material(bundle));
      const env = requireDsse(bundle);
      const [leafDer, ...intermediates] = certs as [Buffer, ...Buffer[]];
      const chain = verifyCertificateChain(leafDer, intermediates, method.caCertificates, method.verificationTime ?? new Date());
      const leaf = chain.path[0]!;
      const result = envelopeVerifies(env, leaf.publicKey, allowLegacy ? 'sha256' : undefined);
      if (!result.ok) throw new VerificationError('SIGNATURE', 'the DSSE signature does not verify with the signing certificate\'s key');
      return {
        statement: statementOf(env),
        signer: { kind: 'certificate', subject: subjectOf(leaf), fingerprint256: leaf.fingerprint256, chainLength: chain.path.length },
        legacyPae: result.legacy,
      };
    }
    case 'sigstore': {
      const env = await verifySigstoreDsse(bundle, method);
      return { statement: statementOf(env), signer: { kind: 'sigstore', identity: method.identity, issuer: method.issuer }, legacyPae: false };
    }
  }
}
