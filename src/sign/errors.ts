/**
 * Errors raised on the training side when creating, loading or using signing keys.
 *
 * Owns: `SigningError` and its stable codes. Messages never contain key material, passphrases or
 * identity tokens.
 */
import { ModelgateError } from '../errors.ts';

export const SIGNING_ERROR_CODES = [
  'KEY_FORMAT', // the key file is not a supported private key (bad PEM, bad envelope, unsupported KDF/cipher/params)
  'WRONG_PASSPHRASE', // the encrypted key did not decrypt (wrong passphrase, or the ciphertext was altered)
  'PASSPHRASE', // no passphrase available, an empty one not allowed, or the confirmation did not match
  'KEY_EXISTS', // an output key file exists and --force was not given
  'SIGNING_IO', // a key file could not be read or written
  'IDENTITY_TOKEN', // keyless: no OIDC token, or one that is malformed or expired (never echoed)
  'FULCIO', // keyless: the certificate authority failed or refused the request
  'REKOR', // keyless: the transparency log failed or refused the entry
  'TSA', // keyless: the timestamp authority failed
  'KEYLESS_TIMEOUT', // keyless: signing did not finish within its deadline
  'KMS_UNAVAILABLE', // a KMS key reference (awskms://, gcpkms://, …) whose provider this build does not include
] as const;
export type SigningErrorCode = (typeof SIGNING_ERROR_CODES)[number];

export class SigningError extends ModelgateError<SigningErrorCode> {}
