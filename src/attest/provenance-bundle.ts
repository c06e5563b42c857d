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
import type { Digest } from '../oci/digest.ts';
import { claimedIdentity, FULCIO_OID, verifyBundle, type VerifiedBundle } from '../sigstore/bundle.ts';
import { VerificationError } from '../sigstore/errors.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { verifySlsaProvenance, type SlsaPolicy, type SlsaVerdict } from './slsa-policy.ts';
import { parseArtifactDigest, parseStatementPayload, type Statement } from './statement.ts';

export interface VerifiedProvenance extends SlsaVerdict {
  readonly statement: Statement;
  readonly bundle: VerifiedBundle;
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
  options: { readonly ignoreTlog?: boolean } = {},
): Promise<VerifiedProvenance> {
  const identity = claimedIdentity(bundleInput);
  const bundle = await verifyBundle(bundleInput, {
    trust,
    signer: { kind: 'identity', san: identity.san, issuer: identity.issuer },
    artifact: { kind: 'digest', digest: artifactDigest },
    ...(options.ignoreTlog === true ? { ignoreTlog: true } : {}),
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
