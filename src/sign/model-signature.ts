/**
 * Sign a model directory (or single file) into an OpenSSF model-signing `model.sig`, as
 * `model_signing sign key|certificate` writes it and `src/oms/verify.ts` (and model_signing) verify it.
 *
 * Owns: the OMS v1.0 payload for the `files` serialisation — every file after exclusions (git metadata
 * unless disabled, the signature file itself when it lies inside the model, caller ignore paths, all
 * recorded in `serialization.ignore_paths`), hashed with sha256 on the hashing pool, resources sorted
 * by name in code-point order (OMS spec), subject `sha256` = the root digest over the raw resource
 * digests in that order (`rootDigestOf`) — then the DSSE signature over the in-toto Statement v1 with the
 * curve's hash (`signDsseBundle`). The certificate method carries `x509CertificateChain` = leaf, then
 * the given intermediates, and refuses a leaf whose public key is not the signing key's.
 * The file walk is the verifier's (`listModelFiles`), so what is signed is exactly what is checked.
 */
import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { UsageError } from '../errors.ts';
import { hashJobs } from '../hashing/pool.ts';
import { GIT_PATHS, listModelFiles, resolveIgnorePath } from '../oms/model-files.ts';
import { OMS_PREDICATE_V1, rootDigestOf, type OmsResource } from '../oms/payload.ts';
import { inTotoStatement, signDsseBundle } from './dsse-bundle.ts';
import { SigningError } from './errors.ts';
import type { Digest } from '../oci/digest.ts';

export type ModelSigningKey =
  | { readonly kind: 'key'; readonly privateKey: KeyObject }
  | {
      readonly kind: 'certificate';
      readonly privateKey: KeyObject;
      /** DER of the signing certificate (its public key must be `privateKey`'s). */
      readonly leafDer: Uint8Array;
      /** DER of intermediate certificates, leaf's issuer first. */
      readonly chainDer: readonly Uint8Array[];
    };

export interface SignModelOptions {
  /** Where the signature will be written; excluded from the model when it lies inside it. */
  readonly signaturePath: string;
  readonly ignorePaths?: readonly string[];
  /** Leave out `.git`, `.gitattributes`, `.github`, `.gitignore` (default true). */
  readonly ignoreGitPaths?: boolean;
  readonly allowSymlinks?: boolean;
  /** Subject name (default: the model directory's base name). */
  readonly modelName?: string;
  readonly threads?: number;
  readonly signal?: AbortSignal;
}

export interface SignedModel {
  readonly bundle: SerializedBundle;
  readonly rootDigest: Digest;
  readonly resources: readonly OmsResource[];
}

function codePointCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0; // UTF-16 order equals code-point order for the BMP; paths are compared as model_signing sorts them
}

function recordedIgnorePaths(modelPath: string, options: SignModelOptions): string[] {
  const out = new Set<string>();
  if (options.ignoreGitPaths ?? true) for (const p of GIT_PATHS) out.add(p);
  const root = resolve(modelPath);
  if (resolve(options.signaturePath).startsWith(`${root}/`)) {
    const rel = resolveIgnorePath(modelPath, options.signaturePath);
    if (rel !== undefined) out.add(rel);
  }
  for (const p of options.ignorePaths ?? []) {
    const rel = resolveIgnorePath(modelPath, p);
    if (rel === undefined) throw new UsageError('USAGE', `ignore path ${p} is not inside the model ${modelPath}`);
    out.add(rel);
  }
  return [...out].sort(codePointCompare);
}

function checkLeafMatchesKey(signer: ModelSigningKey): void {
  if (signer.kind !== 'certificate') return;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(Buffer.from(signer.leafDer));
  } catch (err) {
    throw new UsageError('USAGE', `signing certificate is not a valid X.509 certificate: ${(err as Error).message}`);
  }
  const spki = (key: KeyObject): Buffer => key.export({ type: 'spki', format: 'der' });
  if (!spki(certificate.publicKey).equals(spki(createPublicKey(signer.privateKey)))) {
    throw new SigningError('KEY_FORMAT', 'the signing certificate does not certify the private key given (public keys differ)');
  }
}

/** Hash the model and sign its OMS payload; the bundle is returned, not written. */
export async function signModel(modelPath: string, signer: ModelSigningKey, options: SignModelOptions): Promise<SignedModel> {
  checkLeafMatchesKey(signer);
  const ignorePaths = recordedIgnorePaths(modelPath, options);
  const allowSymlinks = options.allowSymlinks === true;
  const files = listModelFiles(modelPath, { allowSymlinks, ignorePaths }).sort((a, b) => codePointCompare(a.name, b.name));
  const outcomes = await hashJobs(
    files.map((f) => ({ kind: 'file' as const, path: f.path, algorithm: 'sha256' as const })),
    { ...(options.threads !== undefined ? { threads: options.threads } : {}), ...(options.signal ? { signal: options.signal } : {}) },
  );
  const resources: OmsResource[] = files.map((f, i) => ({ name: f.name, algorithm: 'sha256', digest: outcomes[i]!.hex }));
  const root = rootDigestOf(resources);
  const modelName = options.modelName ?? (resolve(modelPath).split('/').pop() || 'model');
  const predicate = {
    serialization: { method: 'files', hash_type: 'sha256', allow_symlinks: allowSymlinks, ignore_paths: ignorePaths },
    resources,
  };
  const payload = inTotoStatement([{ name: modelName, digest: `sha256:${root}` as Digest }], OMS_PREDICATE_V1, predicate);
  const bundle = signDsseBundle(payload, signer.privateKey);
  if (signer.kind === 'certificate') {
    const certificates = [signer.leafDer, ...signer.chainDer].map((der) => ({ rawBytes: Buffer.from(der).toString('base64') }));
    (bundle as { verificationMaterial: unknown }).verificationMaterial = { x509CertificateChain: { certificates }, tlogEntries: [] };
  }
  return { bundle, rootDigest: `sha256:${root}` as Digest, resources };
}
