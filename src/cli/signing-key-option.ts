/**
 * How a signing command signs: with a private key (`--key FILE`) or keyless (`--keyless`, Fulcio +
 * Rekor [+ TSA] with the OIDC token in `SIGSTORE_ID_TOKEN`).
 *
 * Owns: the shared signing options (`--key`, `--keyless`, `--fulcio-url`, `--rekor-url`, `--tsa-url`,
 * `--signing-timeout`), the choice between key and keyless — cosign's rule: `--key` signs with the
 * key; without `--key` the command signs keyless, which needs `SIGSTORE_ID_TOKEN` (`--keyless` says
 * so explicitly; `--key` with `--keyless` is a usage error) — loading the private key file (asking
 * for the passphrase only when the key is encrypted: MODELGATE_PASSWORD, COSIGN_PASSWORD or a prompt,
 * `src/sign/passphrase.ts`), and the one-line stderr note naming who signs. Never prints key
 * material, passphrases or the identity token.
 */
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { BundleSigner } from '../sign/bundle-signer.ts';
import { DEFAULT_KEYLESS_TIMEOUT_MS, IDENTITY_TOKEN_ENV, identityTokenFromEnv, inspectIdentityToken, keylessConfig, PUBLIC_GOOD_FULCIO_URL, PUBLIC_GOOD_REKOR_URL } from '../sign/keyless.ts';
import { isEncryptedKeyPem, parseSigningKey } from '../sign/keys.ts';
import { readPrivateKeyReference } from '../sign/key-reference.ts';
import { resolvePassphrase } from '../sign/passphrase.ts';

export const KEY_OPTION_HELP = 'private key: modelgate/cosign encrypted key (passphrase from MODELGATE_PASSWORD, else COSIGN_PASSWORD, else a prompt) or PKCS#8 PEM, or k8s://NAMESPACE/SECRET (cosign.key, cosign.password)';

/** The private key a `--key` reference names: a file, `k8s://NAMESPACE/SECRET`, or a KMS URI (refused: none in this build). */
export async function loadPrivateKeyFile(path: string): Promise<KeyObject> {
  const { keyText, passphrase: stored, label } = await readPrivateKeyReference(path);
  const passphrase = isEncryptedKeyPem(keyText) ? (stored ?? (await resolvePassphrase({ purpose: 'unlock', keyName: label }))) : undefined;
  return parseSigningKey(keyText, passphrase);
}

export interface SigningCliOptions {
  readonly key?: string;
  readonly keyless?: boolean;
  readonly fulcioUrl?: string;
  readonly rekorUrl?: string;
  readonly tsaUrl?: string;
  readonly signingTimeout?: string;
}

/** Add the key/keyless options to a signing command. */
export function addSigningOptions(command: Command): Command {
  return command
    .option('--key <file>', `${KEY_OPTION_HELP}; without it the command signs keyless`)
    .option('--keyless', `sign keyless: Fulcio certificate for the OIDC identity in $${IDENTITY_TOKEN_ENV}, Rekor entry (the default when --key is absent)`)
    .option('--fulcio-url <url>', `keyless: Fulcio (default $MODELGATE_FULCIO_URL, else ${PUBLIC_GOOD_FULCIO_URL})`)
    .option('--rekor-url <url>', `keyless: Rekor (default $MODELGATE_REKOR_URL, else ${PUBLIC_GOOD_REKOR_URL})`)
    .option('--tsa-url <url>', 'keyless: RFC 3161 timestamp authority (default $MODELGATE_TSA_URL, else none)')
    .option('--signing-timeout <ms>', 'keyless: deadline of the whole Fulcio/Rekor/TSA exchange', String(DEFAULT_KEYLESS_TIMEOUT_MS));
}

/** Whether these options sign keyless (before anything is loaded). */
export function signsKeyless(options: SigningCliOptions): boolean {
  if (options.key !== undefined && options.keyless === true) throw new UsageError('USAGE', 'give either --key FILE or --keyless, not both');
  return options.key === undefined;
}

/**
 * The signer the options ask for. Keyless checks the token's shape and expiry now, so a long
 * command (a training run) fails before it starts rather than after.
 */
export async function resolveBundleSigner(options: SigningCliOptions): Promise<BundleSigner> {
  if (!signsKeyless(options)) return { kind: 'key', privateKey: await loadPrivateKeyFile(options.key!) };
  if (options.keyless !== true && identityTokenFromEnv() === undefined) {
    throw new UsageError('USAGE', `give --key FILE, or sign keyless with an OIDC identity token in ${IDENTITY_TOKEN_ENV}`);
  }
  const timeoutMs = Number(options.signingTimeout ?? DEFAULT_KEYLESS_TIMEOUT_MS);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('USAGE', `--signing-timeout must be a positive number of milliseconds, got ${JSON.stringify(options.signingTimeout)}`);
  const config = keylessConfig({
    ...(options.fulcioUrl !== undefined ? { fulcioUrl: options.fulcioUrl } : {}),
    ...(options.rekorUrl !== undefined ? { rekorUrl: options.rekorUrl } : {}),
    ...(options.tsaUrl !== undefined ? { tsaUrl: options.tsaUrl } : {}),
    timeoutMs,
  });
  return { kind: 'keyless', config };
}

/** One stderr line saying who signs (keyless: the claimed identity and the log it is published in). */
export function announceSigner(signer: BundleSigner): void {
  if (signer.kind === 'key') return;
  const claims = inspectIdentityToken(signer.config.identityToken);
  process.stderr.write(`Signing keyless as ${claims.subject} (issuer ${claims.issuer}); the identity is recorded in the transparency log ${signer.config.rekorUrl}\n`);
}
