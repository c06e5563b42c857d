/**
 * Adapter from model_signing's `sigstore` method to the shared Sigstore bundle verifier.
 *
 * Owns: calling `verifyBundle` (src/sigstore/bundle.ts) with the exact identity (SAN + OIDC issuer)
 * and its default policy (≥ 1 verified transparency-log entry, ≥ 1 SCT), and handing back the DSSE
 * payload whose signature it verified.
 */
import { verifyBundle } from '../sigstore/bundle.ts';
import { VerificationError } from '../sigstore/errors.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';

export interface SigstoreIdentityMethod {
  readonly identity: string;
  readonly issuer: string;
  readonly trust: TrustMaterial;
}

export interface VerifiedDssePayload {
  readonly payloadType: string;
  readonly payload: Buffer;
}

export async function verifySigstoreDsse(bundle: Record<string, unknown>, method: SigstoreIdentityMethod): Promise<VerifiedDssePayload> {
  const verified = await verifyBundle(bundle, {
    trust: method.trust,
    signer: { kind: 'identity', san: method.identity, issuer: method.issuer },
  });
  if (verified.content.kind !== 'dsse') {
    throw new VerificationError('BUNDLE_FORMAT', 'model signature bundle has no dsseEnvelope (model_signing signs a DSSE in-toto statement)');
  }
  return { payloadType: verified.content.payloadType, payload: verified.content.payload };
}
