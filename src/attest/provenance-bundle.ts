/**
 * Verify a SLSA provenance Sigstore bundle for an artifact, slsa-verifier style.
 *
 * Owns: `verifyProvenanceBundle(bundle, trust, policy)`: the Sigstore verification of the bundle
 * (Fulcio chain, SCT, Rekor entry, DSSE signature, subject = artifact digest) through the shared
 * `verifyBundle`, then the SLSA policy (`slsa-policy.ts`) on the verified statement and signer.
 *
 * `verifyBundle` only verifies against an identity the caller names, while slsa-verifier first
 * verifies the certificate and then decides whether its identity is a trusted builder. So the
 * identity is read from the (not yet trusted) leaf certificate and handed to `verifyBundle`, which
 * checks the chain and that the certificate carries exactly that identity; only then does the SLSA
 * policy judge the identity. Nothing from the certificate is trusted before `verifyBundle` returns.
 */
import { X509Certificate as CoreX509Certificate } from '@sigstore/core';
import type { Digest } from '../oci/digest.ts';
import { FULCIO_OID, parseBundle, verifyBundle, type VerifiedBundle } from '../sigstore/bundle.ts';
import { VerificationError } from '../sigstore/errors.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { verifySlsaProvenance, type SlsaPolicy, type SlsaVerdict } from './slsa-policy.ts';
import { parseArtifactDigest, parseStatementPayload, type Statement } from './statement.ts';

export interface VerifiedProvenance extends SlsaVerdict {
  readonly statement: Statement;
  readonly bundle: VerifiedBundle;
}

/** Contents of a DER UTF8String / IA5String / PrintableString (Fulcio's v2 extension encoding); '' otherwise. */
function derString(tlv: Buffer): string {
  if (tlv[0] !== 0x0c && tlv[0] !== 0x16 && tlv[0] !== 0x13) return '';
  let length = tlv[1] ?? 0;
  let offset = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 2) return '';
    length = 0;
    for (let i = 0; i < count; i += 1) length = (length << 8) | (tlv[offset + i] ?? 0);
    offset += count;
  }
  return offset + length === tlv.byteLength ? tlv.subarray(offset).toString('utf8') : '';
}

/** SAN and OIDC issuer the leaf certificate claims (unverified; see module comment). */
export function claimedIdentity(bundleInput: unknown): { san: string; issuer: string } {
  const bundle = parseBundle(bundleInput);
  const content = bundle.verificationMaterial.content;
  const der =
    content.$case === 'certificate'
      ? content.certificate.rawBytes
      : content.$case === 'x509CertificateChain'
        ? content.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  if (der === undefined) throw new VerificationError('POLICY', 'the provenance is signed with a public key, but SLSA provenance must be signed by a builder certificate');
  let cert: CoreX509Certificate;
  try {
    cert = CoreX509Certificate.parse(Buffer.from(der));
  } catch (err) {
    throw new VerificationError('BUNDLE_FORMAT', `the bundle's signing certificate is not valid X.509: ${(err as Error).message}`, { cause: err });
  }
  const san = cert.subjectAltName ?? '';
  const v2 = cert.extension(FULCIO_OID.issuer);
  const v1 = cert.extension(FULCIO_OID.issuerV1);
  let issuer = '';
  if (v2 !== undefined) {
    issuer = derString(v2.value);
  } else if (v1 !== undefined) {
    issuer = v1.value.toString('utf8'); // legacy: the raw string is the extension value
  }
  return { san, issuer };
}

/**
 * Verify `bundleInput` as SLSA provenance for an artifact with digest `artifactDigest`
 * (`sha256:<hex>`), under `policy` (its `artifactDigests` are filled from `artifactDigest`).
 * Rejects with VerificationError (Sigstore layer) or AttestationError (statement / SLSA policy).
 */
export async function verifyProvenanceBundle(
  bundleInput: unknown,
  trust: TrustMaterial,
  artifactDigest: Digest,
  policy: Omit<SlsaPolicy, 'artifactDigests'>,
): Promise<VerifiedProvenance> {
  const identity = claimedIdentity(bundleInput);
  const bundle = await verifyBundle(bundleInput, {
    trust,
    signer: { kind: 'identity', san: identity.san, issuer: identity.issuer },
    artifact: { kind: 'digest', digest: artifactDigest },
  });
  if (bundle.content.kind !== 'dsse' || bundle.signer.kind !== 'certificate') {
    throw new VerificationError('BUNDLE_FORMAT', 'SLSA provenance must be a certificate-signed DSSE envelope');
  }
  const statement = parseStatementPayload(bundle.content.payloadType, bundle.content.payload);
  const verdict = verifySlsaProvenance(
    statement,
    { san: bundle.signer.san, issuer: bundle.signer.issuer, sourceRepositoryUri: bundle.signer.extensions[FULCIO_OID.sourceRepositoryURI] },
    { ...policy, artifactDigests: [parseArtifactDigest(artifactDigest)] },
  );
  return { ...verdict, statement, bundle };
}
