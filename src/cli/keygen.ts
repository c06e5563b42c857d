/**
 * `modelgate keygen`: create a cosign-compatible ECDSA P-256 signing key pair.
 *
 * Owns: the command's options and messages. Writes `PREFIX.key` (cosign's encrypted format, mode 0600)
 * and `PREFIX.pub` (SPKI PEM), and prints the key id policy data names it by (`sha256:` of the SPKI DER);
 * the passphrase policy is `src/sign/passphrase.ts`.
 */
import { readFile } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import type { Command } from 'commander';
import { keyId } from '../sigstore/keys.ts';
import { resolvePassphrase } from '../sign/passphrase.ts';
import { writeSigningKeyPair } from '../sign/keys.ts';

export function register(program: Command): void {
  program
    .command('keygen')
    .description('Generate an ECDSA P-256 key pair in cosign\'s format: PREFIX.key (encrypted with MODELGATE_PASSWORD or a prompted passphrase) and PREFIX.pub')
    .option('--output-key-prefix <prefix>', 'path prefix of the two files', 'modelgate')
    .option('--force', 'overwrite existing PREFIX.key / PREFIX.pub', false)
    .option('--allow-empty-password', 'accept an empty passphrase (MODELGATE_PASSWORD= or an empty prompt)', false)
    .action(async (options: { outputKeyPrefix: string; force: boolean; allowEmptyPassword: boolean }) => {
      const passphrase = await resolvePassphrase({ purpose: 'create', allowEmpty: options.allowEmptyPassword, keyName: `${options.outputKeyPrefix}.key` });
      const files = await writeSigningKeyPair(options.outputKeyPrefix, passphrase, { force: options.force });
      const id = `sha256:${keyId(createPublicKey(await readFile(files.publicKeyPath, 'utf8')))}`;
      process.stderr.write(`Private key written to ${files.privateKeyPath}\nPublic key written to ${files.publicKeyPath}\n`);
      // The id policy data names the key by (`signers.keys`), on stdout for scripts: ID=$(modelgate keygen …).
      process.stdout.write(`${id}\n`);
    });
}
