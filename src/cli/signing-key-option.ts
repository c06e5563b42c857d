/**
 * Loading the private key a signing command was given (`--key FILE`).
 *
 * Owns: reading the file, asking for the passphrase only when the key is encrypted
 * (MODELGATE_PASSWORD or a prompt, `src/sign/passphrase.ts`), and the IO error naming the file.
 * Never prints key material or passphrases.
 */
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { SigningError } from '../sign/errors.ts';
import { isEncryptedKeyPem, parseSigningKey } from '../sign/keys.ts';
import { resolvePassphrase } from '../sign/passphrase.ts';

export const KEY_OPTION_HELP = 'private key: modelgate/cosign encrypted key (passphrase from MODELGATE_PASSWORD or a prompt) or PKCS#8 PEM';

export async function loadPrivateKeyFile(path: string): Promise<KeyObject> {
  let keyText: string;
  try {
    keyText = await readFile(path, 'utf8');
  } catch (err) {
    throw new SigningError('IO', `cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const passphrase = isEncryptedKeyPem(keyText) ? await resolvePassphrase({ purpose: 'unlock', keyName: path }) : undefined;
  return parseSigningKey(keyText, passphrase);
}
