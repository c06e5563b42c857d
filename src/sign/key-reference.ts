/**
 * Key references beyond PEM files, as cosign writes them: `k8s://NAMESPACE/SECRET` and KMS URIs.
 *
 * Owns: `parseKeyReference` and reading the key text a reference names:
 *  - a path: the file (as before);
 *  - `k8s://namespace/secret`: the Secret cosign's `generate-key-pair k8s://…` writes — `cosign.key`
 *    (cosign's encrypted key format), `cosign.pub`, and `cosign.password` (the passphrase, used when
 *    present) — read with `@kubernetes/client-node` (`src/k8s/client.ts`: `$KUBECONFIG`, else the
 *    in-cluster service account; needs `get` on that Secret, see the chart README);
 *  - `awskms://`, `gcpkms://`, `azurekms://`, `hashivault://`: KMS-backed keys. The interface a
 *    provider implements is `KmsSigningProvider` (sign a digest, give the public key); this build has
 *    none compiled in, so such a reference is refused with KMS_UNAVAILABLE, naming the provider, before
 *    anything else happens.
 * Never logs key material or passphrases; errors name the reference only.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SigningError } from './errors.ts';

export const KMS_SCHEMES = ['awskms', 'gcpkms', 'azurekms', 'hashivault'] as const;
export type KmsScheme = (typeof KMS_SCHEMES)[number];

export type KeyReference =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'k8s'; readonly namespace: string; readonly name: string; readonly uri: string }
  | { readonly kind: 'kms'; readonly scheme: KmsScheme; readonly uri: string };

/**
 * What a KMS provider would implement to sign in this build (cosign's `signature.SignerVerifier`):
 * sign a SHA-256 digest with the KMS-held key and give its public key. No provider is compiled in.
 */
export interface KmsSigningProvider {
  readonly scheme: KmsScheme;
  publicKey(uri: string): Promise<KeyObject>;
  /** DER ECDSA (or RSA PKCS#1 v1.5 / PSS) signature over `digest` (SHA-256). */
  signDigest(uri: string, digest: Uint8Array): Promise<Uint8Array>;
}

/** KMS providers available in this build, by scheme (none). */
export const KMS_PROVIDERS: ReadonlyMap<KmsScheme, KmsSigningProvider> = new Map();

const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function parseKeyReference(text: string): KeyReference {
  const scheme = /^([a-z0-9]+):\/\//.exec(text)?.[1];
  if (scheme === undefined) return { kind: 'file', path: text };
  if (scheme === 'k8s') {
    const [namespace, name, ...rest] = text.slice('k8s://'.length).split('/');
    if (namespace === undefined || name === undefined || rest.length > 0 || !K8S_NAME.test(namespace) || !K8S_NAME.test(name)) {
      throw new SigningError('KEY_FORMAT', `key reference ${text} is not k8s://NAMESPACE/SECRET`);
    }
    return { kind: 'k8s', namespace, name, uri: text };
  }
  if ((KMS_SCHEMES as readonly string[]).includes(scheme)) return { kind: 'kms', scheme: scheme as KmsScheme, uri: text };
  throw new SigningError('KEY_FORMAT', `key reference ${text}: unknown scheme ${scheme}:// (a file path, k8s://NAMESPACE/SECRET, or ${KMS_SCHEMES.map((s) => `${s}://`).join(', ')})`);
}

function kmsUnavailable(ref: Extract<KeyReference, { kind: 'kms' }>): never {
  throw new SigningError(
    'KMS_UNAVAILABLE',
    `key ${ref.uri}: ${ref.scheme} keys are not available in this build (no ${ref.scheme} provider is compiled in); use a key file, k8s://NAMESPACE/SECRET, or keyless signing`,
  );
}

async function secretField(ref: Extract<KeyReference, { kind: 'k8s' }>, field: string, required: boolean): Promise<string | undefined> {
  const { KubeClient } = await import('../k8s/client.ts');
  const client = KubeClient.load(process.env.KUBECONFIG ? { kubeconfig: process.env.KUBECONFIG } : {});
  const secret = await client.readSecret(ref.namespace, ref.name);
  if (secret === undefined) throw new SigningError('SIGNING_IO', `key ${ref.uri}: Secret ${ref.namespace}/${ref.name} does not exist`);
  const value = secret.data?.[field];
  if (value === undefined) {
    if (required) throw new SigningError('KEY_FORMAT', `key ${ref.uri}: Secret ${ref.namespace}/${ref.name} has no ${field} (cosign generate-key-pair k8s://… writes cosign.key, cosign.pub, cosign.password)`);
    return undefined;
  }
  return Buffer.from(value, 'base64').toString('utf8');
}

/** The private key text a reference names, and the passphrase stored with it (k8s `cosign.password`). */
export async function readPrivateKeyReference(text: string): Promise<{ keyText: string; passphrase?: string; label: string }> {
  const ref = parseKeyReference(text);
  if (ref.kind === 'kms') kmsUnavailable(ref);
  if (ref.kind === 'k8s') {
    const keyText = (await secretField(ref, 'cosign.key', true))!;
    const passphrase = await secretField(ref, 'cosign.password', false);
    return { keyText, label: ref.uri, ...(passphrase === undefined ? {} : { passphrase }) };
  }
  try {
    return { keyText: await readFile(ref.path, 'utf8'), label: ref.path };
  } catch (err) {
    throw new SigningError('SIGNING_IO', `cannot read key file ${ref.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** The public key PEM a verification key reference names: a file, or `cosign.pub` of a k8s Secret. */
export async function readPublicKeyReference(text: string, readPath: (path: string) => Promise<string>): Promise<string> {
  const ref = parseKeyReference(text);
  if (ref.kind === 'kms') kmsUnavailable(ref);
  if (ref.kind === 'k8s') return (await secretField(ref, 'cosign.pub', true))!;
  return readPath(ref.path);
}
