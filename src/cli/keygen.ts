/**
 * `modelgate keygen`: create a cosign-compatible ECDSA P-256 signing key pair.
 *
 * Owns: the command's options and messages. Writes `PREFIX.key` (cosign's encrypted format, mode 0600)
 * and `PREFIX.pub` (SPKI PEM), and names the key id the policy data trusts it under (`signers.keys`),
 * so the id is never computed by hand; the passphrase policy is `src/sign/passphrase.ts`.
 * Output: `-o text` (default) writes the three lines to stderr, as cosign does; `-o json` prints
 * `{privateKey, publicKey, keyId}` on stdout; text also prints the bare key id on stdout, for scripts:
 * `ID=$(modelgate keygen …)`.
 */
import { readFile } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import type { Command } from 'commander';
import { keyId } from '../sigstore/keys.ts';
import { resolvePassphrase } from '../sign/passphrase.ts';
import { generateSigningKeyPair, policyKeyId, writeSigningKeyPair } from '../sign/keys.ts';
import { outputOption, type OutputFormat } from './output-format.ts';

export function register(program: Command): void {
  program
    .command('keygen')
    .description('Generate an ECDSA P-256 key pair in cosign\'s format: PREFIX.key (encrypted with MODELGATE_PASSWORD, else COSIGN_PASSWORD, else a prompted passphrase) and PREFIX.pub; prints the key id to list under signers.keys in the policy data')
    .option('--output-key-prefix <prefix>', 'path prefix of the two files', 'modelgate')
    .option('--force', 'overwrite existing PREFIX.key / PREFIX.pub', false)
    .option('--allow-empty-password', 'accept an empty passphrase (MODELGATE_PASSWORD= or COSIGN_PASSWORD= or an empty prompt)', false)
    .addOption(outputOption('output format: text (on stderr) or json ({privateKey, publicKey, keyId} on stdout)'))
    .action(async (options: { outputKeyPrefix: string; force: boolean; allowEmptyPassword: boolean; output: OutputFormat }) => {
      const passphrase = await resolvePassphrase({ purpose: 'create', allowEmpty: options.allowEmptyPassword, keyName: `${options.outputKeyPrefix}.key` });
      const { privateKey } = generateSigningKeyPair();
      const files = await writeSigningKeyPair(options.outputKeyPrefix, passphrase, { force: options.force, privateKey });
      const keyId = policyKeyId(privateKey);
      if (options.output === 'json') {
        process.stdout.write(`${JSON.stringify({ privateKey: files.privateKeyPath, publicKey: files.publicKeyPath, keyId })}\n`);
      } else {
        process.stderr.write(
          `Private key written to ${files.privateKeyPath}\nPublic key written to ${files.publicKeyPath}\n` +
            `Key id ${keyId} (trust it by listing this id under signers.keys in the policy data)\n`,
        );
        process.stdout.write(`${keyId}\n`);
      }
    });
}
