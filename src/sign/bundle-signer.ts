/**
 * One signer for every command that emits a Sigstore bundle: a local private key or keyless
 * (Fulcio/Rekor[/TSA]), chosen once on the command line and used the same way afterwards.
 *
 * Owns: the `BundleSigner` union and the two operations on it — a message signature over a blob
 * (`dataset sign`) and a DSSE-signed in-toto statement (`sign`, `attest attach|run`, `dataset attest`).
 * Key signing is `blob-bundle.ts` / `dsse-bundle.ts`; keyless is `keyless.ts`.
 */
import type { KeyObject } from 'node:crypto';
import type { SerializedBundle } from '@sigstore/bundle';
import { signBlobBundle } from './blob-bundle.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../evidence/vocabulary.ts';
import { inTotoStatement, signDsseBundle, type StatementSubject } from './dsse-bundle.ts';
import { keylessBlobBundle, keylessDsseBundle, type KeylessConfig } from './keyless.ts';

export type BundleSigner = { readonly kind: 'key'; readonly privateKey: KeyObject } | { readonly kind: 'keyless'; readonly config: KeylessConfig };

/** A message-signature bundle over `blob`. */
export async function signBlobWith(signer: BundleSigner, blob: Uint8Array): Promise<SerializedBundle> {
  return signer.kind === 'key' ? signBlobBundle(blob, signer.privateKey) : keylessBlobBundle(blob, signer.config);
}

/** A DSSE bundle carrying an in-toto Statement v1 about `subjects`. */
export async function signStatementWith(signer: BundleSigner, subjects: readonly StatementSubject[], predicateType: string, predicate: unknown): Promise<SerializedBundle> {
  const payload = inTotoStatement(subjects, predicateType, predicate);
  return signer.kind === 'key' ? signDsseBundle(payload, signer.privateKey) : keylessDsseBundle(payload, IN_TOTO_PAYLOAD_TYPE, signer.config);
}
