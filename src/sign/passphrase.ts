/**
 * Where the passphrase of a signing key comes from.
 *
 * Owns: the policy, used by `keygen` and every command that loads a private key:
 *   1. `MODELGATE_PASSWORD` set (even to the empty string) → that value, never echoed or logged;
 *   2. otherwise `COSIGN_PASSWORD` set (even empty) → that value, so a CI job written for cosign keeps
 *      working unchanged (MODELGATE_PASSWORD wins when both are set: it names this tool's key);
 *   3. otherwise, when stdin and stderr are terminals → a prompt on stderr with echo off
 *      (asked twice when creating a key);
 *   4. otherwise → SigningError PASSPHRASE (fail closed: CI must set the variable).
 * An empty passphrase is accepted when *creating* a key only with an explicit opt-in
 * (`--allow-empty-password`, i.e. `allowEmpty`); when *unlocking* it is accepted, because cosign
 * keys made with `COSIGN_PASSWORD=` are common and the key file itself says it is encrypted.
 */
import { SigningError } from './errors.ts';

export const PASSPHRASE_ENV = 'MODELGATE_PASSWORD';
/** cosign's variable, read when MODELGATE_PASSWORD is not set. */
export const COSIGN_PASSPHRASE_ENV = 'COSIGN_PASSWORD';

export type PassphrasePurpose = 'create' | 'unlock';

export interface PassphraseOptions {
  readonly purpose: PassphrasePurpose;
  /** For `create`: accept an empty passphrase. */
  readonly allowEmpty?: boolean;
  /** Environment to read `MODELGATE_PASSWORD` / `COSIGN_PASSWORD` from; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** What the prompt calls the key, e.g. its path. */
  readonly keyName?: string;
}

export async function resolvePassphrase(options: PassphraseOptions): Promise<string> {
  const env = options.env ?? process.env;
  const fromEnv = env[PASSPHRASE_ENV] ?? env[COSIGN_PASSPHRASE_ENV];
  let passphrase: string;
  if (fromEnv !== undefined) {
    passphrase = fromEnv;
  } else if (process.stdin.isTTY === true && process.stderr.isTTY === true) {
    const what = options.keyName === undefined ? 'the private key' : options.keyName;
    const prompts = [`Enter passphrase for ${what}: `];
    if (options.purpose === 'create') prompts.push('Enter passphrase again: ');
    const [first = '', again = first] = await promptHidden(prompts);
    if (again !== first) throw new SigningError('PASSPHRASE', 'the two passphrases do not match');
    passphrase = first;
  } else {
    throw new SigningError('PASSPHRASE', `no passphrase: set ${PASSPHRASE_ENV} (or ${COSIGN_PASSPHRASE_ENV}; it may be empty only with --allow-empty-password) or run on a terminal`);
  }
  if (passphrase === '' && options.purpose === 'create' && options.allowEmpty !== true) {
    throw new SigningError('PASSPHRASE', 'refusing to encrypt the private key with an empty passphrase (pass --allow-empty-password to accept it)');
  }
  return passphrase;
}

/**
 * Read one line per prompt from the terminal without echoing it. Hand-written because Node has no
 * hidden-input prompt and the project has no dependency for it. Echo is turned off (raw mode)
 * *before* the first prompt is shown and back on only after the last answer, so type-ahead is never
 * echoed. Handles backspace, Ctrl-C and Ctrl-D.
 */
function promptHidden(prompts: readonly string[]): Promise<string[]> {
  const input = process.stdin;
  return new Promise<string[]>((resolve, reject) => {
    const answers: string[] = [];
    let value = '';
    const wasRaw = input.isRaw;
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      if (err === undefined) resolve(answers);
      else {
        process.stderr.write('\n');
        reject(err);
      }
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003') return finish(new SigningError('PASSPHRASE', 'passphrase entry interrupted'));
        if (char === '\u0004' && value === '') return finish(new SigningError('PASSPHRASE', 'passphrase entry ended (EOF)'));
        if (char === '\r' || char === '\n' || char === '\u0004') {
          answers.push(value);
          value = '';
          process.stderr.write('\n');
          const next = prompts[answers.length];
          if (next === undefined) return finish();
          process.stderr.write(next);
        } else if (char === '\u007f' || char === '\b') {
          value = [...value].slice(0, -1).join('');
        } else {
          value += char;
        }
      }
    };
    input.setRawMode(true);
    process.stderr.write(prompts[0] ?? '');
    input.resume();
    input.on('data', onData);
  });
}
