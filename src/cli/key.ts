/**
 * `modelgate key id FILE…`: the key id the policy data trusts a key under (`signers.keys`,
 * `revoked.keys`), for any key file a user has at hand — so trust is named once, by this command.
 *
 * Owns: the command's options and output. Accepts a public key PEM (what `keygen` and
 * `cosign generate-key-pair` write to `.pub`), a certificate PEM, or a private key: plain PKCS#8/SEC1
 * PEM, or cosign's encrypted `.key` (its passphrase from MODELGATE_PASSWORD, else COSIGN_PASSWORD, else
 * a prompt — asked only for such a file), whose public key's id is printed. Output: `-o text` one
 * line per file, `sha256:<hex>  FILE` (the id alone when one file is given); `-o json` an array of
 * `{file, keyId, kind}`. Never prints key material.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { keyIdOfPem, type KeyFileKind } from '../sign/keys.ts';
import { SigningError } from '../sign/errors.ts';
import { resolvePassphrase } from '../sign/passphrase.ts';
import { outputOption, type OutputFormat } from './output-format.ts';

async function keyIdOfFile(file: string): Promise<{ file: string; keyId: string; kind: KeyFileKind }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SigningError('SIGNING_IO', `cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  try {
    return { file, ...(await keyIdOfPem(text, () => resolvePassphrase({ purpose: 'unlock', keyName: file }))) };
  } catch (err) {
    if (err instanceof SigningError && err.code === 'KEY_FORMAT') throw new SigningError('KEY_FORMAT', `${file}: ${err.message}`, { cause: err });
    throw err;
  }
}

export function register(program: Command): void {
  const key = program.command('key').description('key utilities: `key id` names a key the way the policy data does');
  key
    .command('id')
    .description('print the key id (sha256:<hex of the public key>) that signers.keys in the policy data lists a key under, for a public key, certificate or (cosign encrypted) private key file')
    .argument('<file...>', 'PEM file: public key (.pub), certificate, or private key (.key; encrypted ones need MODELGATE_PASSWORD, COSIGN_PASSWORD or a prompt)')
    .addOption(outputOption())
    .action(async (files: string[], options: { output: OutputFormat }) => {
      const ids = [];
      for (const file of files) ids.push(await keyIdOfFile(file));
      if (options.output === 'json') process.stdout.write(`${JSON.stringify(ids, null, 2)}\n`);
      else process.stdout.write(ids.map((id) => (ids.length === 1 ? `${id.keyId}\n` : `${id.keyId}  ${id.file}\n`)).join(''));
    });
}
