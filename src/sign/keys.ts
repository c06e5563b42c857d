/**
 * Signing keys in cosign's encrypted key format, so cosign reads our keys and we read cosign's.
 *
 * Owns: generating ECDSA P-256 key pairs, encrypting a PKCS#8 private key into the PEM that
 * `cosign generate-key-pair` writes, decrypting it (and plain PKCS#8 / SEC1 PEM keys) into a Node
 * `KeyObject`, writing a `PREFIX.key` / `PREFIX.pub` pair atomically, and naming any key file by the
 * key id the policy data lists signers under (`signers.keys`: `sha256:` + hex SHA-256 of the SPKI DER).
 *
 * Format (cosign `pkg/cosign/keys.go` + go-securesystemslib `encrypted/encrypted.go`):
 *   PEM type `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign ≥ 2; cosign 1 wrote `ENCRYPTED COSIGN PRIVATE KEY`,
 *   still accepted), body = the bytes of Go's `json.Marshal` of
 *   `{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":B64},
 *     "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}`
 *   (standard padded base64, 32-byte salt, 24-byte nonce), where the 32-byte secretbox key is
 *   scrypt(passphrase UTF-8, salt, N, r, p) and the plaintext is the PKCS#8 DER private key.
 *   On reading, only the three parameter sets go-securesystemslib accepts are allowed (N = 2^15,
 *   2^16, 2^17 with r=8, p=1), so a tampered file cannot make us burn unbounded memory/CPU.
 *
 * Why a library + built-ins: Node has scrypt but no XSalsa20-Poly1305; `tweetnacl`'s
 * `secretbox` is NaCl's exact construction (the one Go's `x/crypto/nacl/secretbox` implements).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scrypt, X509Certificate, type KeyObject } from 'node:crypto';
import { lstat, readFile, unlink } from 'node:fs/promises';
import nacl from 'tweetnacl';
import { writeFileAtomic } from '../fs/atomic-write.ts';
import { keyId, parsePublicKey } from '../sigstore/keys.ts';
import { SigningError } from './errors.ts';

export const SIGSTORE_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY';
export type EncryptedKeyPemType = typeof SIGSTORE_PRIVATE_KEY_PEM_TYPE | typeof COSIGN_PRIVATE_KEY_PEM_TYPE;

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** go-securesystemslib's `Legacy` (cosign 1.x), `Standard` (cosign default) and `OWASP` levels. */
export const SCRYPT_LEGACY: ScryptParams = { N: 32768, r: 8, p: 1 };
export const SCRYPT_STANDARD: ScryptParams = { N: 65536, r: 8, p: 1 };
export const SCRYPT_OWASP: ScryptParams = { N: 131072, r: 8, p: 1 };
const ACCEPTED_SCRYPT_PARAMS: readonly ScryptParams[] = [SCRYPT_LEGACY, SCRYPT_STANDARD, SCRYPT_OWASP];

const SALT_BYTES = 32;
const BOX_KEY_BYTES = nacl.secretbox.keyLength; // 32
const BOX_NONCE_BYTES = nacl.secretbox.nonceLength; // 24

/** The JSON envelope inside the PEM, field order exactly as Go's encoder writes it. */
interface EncryptedKeyEnvelope {
  kdf: { name: 'scrypt'; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: 'nacl/secretbox'; nonce: string };
  ciphertext: string;
}

export interface EncryptOptions {
  /** scrypt parameters; default `SCRYPT_STANDARD` (what cosign writes). */
  readonly scrypt?: ScryptParams;
  /** PEM type; default `ENCRYPTED SIGSTORE PRIVATE KEY`. */
  readonly pemType?: EncryptedKeyPemType;
}

function passphraseBytes(passphrase: string | Uint8Array): Buffer {
  return typeof passphrase === 'string' ? Buffer.from(passphrase, 'utf8') : Buffer.from(passphrase);
}

async function deriveBoxKey(passphrase: string | Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const secret = passphraseBytes(passphrase);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is below cosign's 64 MiB.
      scrypt(secret, salt, BOX_KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 }, (err, key) => {
        if (err) reject(err);
        else resolve(key);
      });
    });
  } finally {
    secret.fill(0);
  }
}

/** Go's `pem.EncodeToMemory`: 64-character base64 lines, trailing newline. */
export function encodePem(type: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}-----END ${type}-----\n`;
}

/** The first PEM block of `text`: its type and decoded bytes, or undefined when there is none. */
export function decodePem(text: string): { type: string; bytes: Buffer } | undefined {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (match === null) return undefined;
  const body = (match[2] ?? '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) return undefined;
  return { type: match[1] ?? '', bytes: Buffer.from(body, 'base64') };
}

/** Encrypt PKCS#8 DER private-key bytes into cosign's encrypted-key PEM. */
export async function encryptPrivateKey(pkcs8Der: Uint8Array, passphrase: string | Uint8Array, options: EncryptOptions = {}): Promise<string> {
  const params = options.scrypt ?? SCRYPT_STANDARD;
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(BOX_NONCE_BYTES);
  const key = await deriveBoxKey(passphrase, salt, params);
  try {
    const ciphertext = nacl.secretbox(pkcs8Der, nonce, key);
    const envelope: EncryptedKeyEnvelope = {
      kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
      ciphertext: Buffer.from(ciphertext).toString('base64'),
    };
    return encodePem(options.pemType ?? SIGSTORE_PRIVATE_KEY_PEM_TYPE, Buffer.from(JSON.stringify(envelope), 'utf8'));
  } finally {
    key.fill(0);
  }
}

function base64Field(value: unknown, name: string, length?: number): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new SigningError('KEY_FORMAT', `encrypted key: "${name}" is not standard base64`);
  }
  const bytes = Buffer.from(value, 'base64');
  if (length !== undefined && bytes.length !== length) {
    throw new SigningError('KEY_FORMAT', `encrypted key: "${name}" must be ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function parseEnvelope(body: Uint8Array): { params: ScryptParams; salt: Buffer; nonce: Buffer; ciphertext: Buffer } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new SigningError('KEY_FORMAT', 'encrypted key: the PEM body is not a JSON envelope');
  }
  const envelope = json as Partial<Record<'kdf' | 'cipher' | 'ciphertext', unknown>> | null;
  const kdf = (typeof envelope === 'object' && envelope !== null ? envelope.kdf : undefined) as Record<string, unknown> | undefined;
  const cipher = (typeof envelope === 'object' && envelope !== null ? envelope.cipher : undefined) as Record<string, unknown> | undefined;
  if (typeof kdf !== 'object' || kdf === null || typeof cipher !== 'object' || cipher === null) {
    throw new SigningError('KEY_FORMAT', 'encrypted key: the envelope lacks "kdf" or "cipher"');
  }
  if (kdf.name !== 'scrypt') throw new SigningError('KEY_FORMAT', `encrypted key: unsupported kdf ${JSON.stringify(kdf.name)} (expected "scrypt")`);
  if (cipher.name !== 'nacl/secretbox') {
    throw new SigningError('KEY_FORMAT', `encrypted key: unsupported cipher ${JSON.stringify(cipher.name)} (expected "nacl/secretbox")`);
  }
  const raw = kdf.params as Record<string, unknown> | undefined;
  const params = ACCEPTED_SCRYPT_PARAMS.find((p) => raw !== undefined && raw !== null && raw.N === p.N && raw.r === p.r && raw.p === p.p);
  if (params === undefined) {
    throw new SigningError('KEY_FORMAT', `encrypted key: unsupported scrypt parameters ${JSON.stringify(raw)} (accepted: N=32768/65536/131072, r=8, p=1)`);
  }
  return {
    params,
    salt: base64Field(kdf.salt, 'kdf.salt'),
    nonce: base64Field(cipher.nonce, 'cipher.nonce', BOX_NONCE_BYTES),
    ciphertext: base64Field((envelope as { ciphertext?: unknown }).ciphertext, 'ciphertext'),
  };
}

/**
 * Decrypt a cosign encrypted-key PEM (`ENCRYPTED SIGSTORE PRIVATE KEY` or `ENCRYPTED COSIGN PRIVATE KEY`)
 * into a private KeyObject. Throws KEY_FORMAT or WRONG_PASSPHRASE.
 */
export async function decryptPrivateKey(pem: string, passphrase: string | Uint8Array): Promise<KeyObject> {
  const block = decodePem(pem);
  if (block === undefined) throw new SigningError('KEY_FORMAT', 'no PEM block found in the key file');
  if (block.type !== SIGSTORE_PRIVATE_KEY_PEM_TYPE && block.type !== COSIGN_PRIVATE_KEY_PEM_TYPE) {
    throw new SigningError('KEY_FORMAT', `PEM type "${block.type}" is not an encrypted cosign/sigstore private key`);
  }
  const { params, salt, nonce, ciphertext } = parseEnvelope(block.bytes);
  const key = await deriveBoxKey(passphrase, salt, params);
  let plaintext: Uint8Array | null;
  try {
    plaintext = nacl.secretbox.open(ciphertext, nonce, key);
  } finally {
    key.fill(0);
  }
  if (plaintext === null) throw new SigningError('WRONG_PASSPHRASE', 'the private key did not decrypt: wrong passphrase, or the key file was altered');
  try {
    // A view, not a copy, so zeroing `plaintext` below leaves no second copy of the key bytes.
    return createPrivateKey({ key: Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength), format: 'der', type: 'pkcs8' });
  } catch {
    throw new SigningError('KEY_FORMAT', 'the decrypted private key is not valid PKCS#8 DER');
  } finally {
    plaintext.fill(0);
  }
}

/** Any supported private-key PEM: cosign/sigstore encrypted, `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1). */
export async function parseSigningKey(pem: string, passphrase: string | Uint8Array | undefined): Promise<KeyObject> {
  const block = decodePem(pem);
  if (block === undefined) throw new SigningError('KEY_FORMAT', 'no PEM block found in the key file');
  let key: KeyObject;
  switch (block.type) {
    case SIGSTORE_PRIVATE_KEY_PEM_TYPE:
    case COSIGN_PRIVATE_KEY_PEM_TYPE:
      if (passphrase === undefined) throw new SigningError('PASSPHRASE', 'the private key is encrypted and no passphrase was given');
      key = await decryptPrivateKey(pem, passphrase);
      break;
    case 'PRIVATE KEY':
    case 'EC PRIVATE KEY':
      try {
        key = createPrivateKey({ key: block.bytes, format: 'der', type: block.type === 'PRIVATE KEY' ? 'pkcs8' : 'sec1' });
      } catch {
        throw new SigningError('KEY_FORMAT', `the "${block.type}" PEM block is not a valid private key`);
      }
      break;
    default:
      throw new SigningError('KEY_FORMAT', `unsupported PEM type "${block.type}" (expected ${SIGSTORE_PRIVATE_KEY_PEM_TYPE}, ${COSIGN_PRIVATE_KEY_PEM_TYPE}, PRIVATE KEY or EC PRIVATE KEY)`);
  }
  assertSupportedSigningKey(key);
  return key;
}

/** ECDSA P-256/P-384/P-521 and Ed25519: the key types cosign generates and our verifiers accept. */
function assertSupportedSigningKey(key: KeyObject): void {
  if (key.asymmetricKeyType === 'ed25519') return;
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'secp384r1' || curve === 'secp521r1') return;
    throw new SigningError('KEY_FORMAT', `unsupported elliptic curve ${String(curve)} (supported: P-256, P-384, P-521)`);
  }
  throw new SigningError('KEY_FORMAT', `unsupported private key type ${String(key.asymmetricKeyType)} (supported: ECDSA, Ed25519)`);
}

/**
 * Load a signing key from a file: our/cosign encrypted keys (needs `passphrase`) or plain PKCS#8/SEC1 PEM.
 * Throws SigningError SIGNING_IO, KEY_FORMAT, PASSPHRASE or WRONG_PASSPHRASE.
 */
export async function loadSigningKey(path: string, passphrase: string | Uint8Array | undefined): Promise<KeyObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SigningError('SIGNING_IO', `cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return parseSigningKey(text, passphrase);
}

/** True when the key file text is one of the encrypted formats (so a caller knows to ask for a passphrase). */
export function isEncryptedKeyPem(text: string): boolean {
  const type = decodePem(text)?.type;
  return type === SIGSTORE_PRIVATE_KEY_PEM_TYPE || type === COSIGN_PRIVATE_KEY_PEM_TYPE;
}

/** `-----BEGIN PUBLIC KEY-----` SPKI PEM of a private or public key (what cosign writes to `.pub`). */
export function publicKeyPem(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return encodePem('PUBLIC KEY', publicKey.export({ type: 'spki', format: 'der' }));
}

/** A fresh ECDSA P-256 key pair (cosign's default algorithm). */
export function generateSigningKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export interface KeyPairFiles {
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
}

/**
 * Generate a P-256 pair and write `PREFIX.key` (encrypted, mode 0600) and `PREFIX.pub`, each atomically.
 * Without `force`, an existing file fails KEY_EXISTS before anything is written, and a file that
 * appears meanwhile is never clobbered (and our half-written pair is removed).
 */
export async function writeSigningKeyPair(
  prefix: string,
  passphrase: string,
  options: { force?: boolean; scrypt?: ScryptParams; /** default: a fresh P-256 key */ privateKey?: KeyObject } = {},
): Promise<KeyPairFiles> {
  const files: KeyPairFiles = { privateKeyPath: `${prefix}.key`, publicKeyPath: `${prefix}.pub` };
  const overwrite = options.force === true;
  if (!overwrite) {
    for (const path of [files.privateKeyPath, files.publicKeyPath]) {
      if (await lstat(path).then(() => true, () => false)) throw new SigningError('KEY_EXISTS', `${path} already exists (use --force to overwrite it)`);
    }
  }
  const privateKey = options.privateKey ?? generateSigningKeyPair().privateKey;
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  let encrypted: string;
  try {
    encrypted = await encryptPrivateKey(der, passphrase, options.scrypt === undefined ? {} : { scrypt: options.scrypt });
  } finally {
    der.fill(0);
  }
  const publicPem = publicKeyPem(privateKey);
  await publish(files.privateKeyPath, encrypted, 0o600, overwrite);
  try {
    await publish(files.publicKeyPath, publicPem, 0o644, overwrite);
  } catch (err) {
    await unlink(files.privateKeyPath).catch(() => {}); // never leave a private key without its public half
    throw err;
  }
  return files;
}

async function publish(path: string, content: string, mode: number, overwrite: boolean): Promise<void> {
  try {
    await writeFileAtomic(path, content, { mode, overwrite });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new SigningError('KEY_EXISTS', `${path} already exists (use --force to overwrite it)`);
    throw new SigningError('SIGNING_IO', `cannot write ${path}: ${code ?? (err as Error).message}`, { cause: err });
  }
}

/** The id a public key is trusted under in the policy data (`signers.keys`, `revoked.keys`): `sha256:<hex>`. */
export function policyKeyId(key: KeyObject): string {
  return `sha256:${keyId(key.type === 'private' ? createPublicKey(key) : key)}`;
}

export type KeyFileKind = 'public' | 'certificate' | 'private' | 'encrypted-private';

/**
 * The policy key id of the key in a PEM file's text: a public key (`PUBLIC KEY`, `EC PUBLIC KEY`,
 * `RSA PUBLIC KEY`), a certificate (its subject key), or a private key — plain PKCS#8/SEC1, or
 * cosign's encrypted format, for which `passphrase` is asked only then. Throws KEY_FORMAT (or the
 * passphrase errors of `parseSigningKey`).
 */
export async function keyIdOfPem(text: string, passphrase: () => Promise<string>): Promise<{ keyId: string; kind: KeyFileKind }> {
  const block = decodePem(text);
  if (block === undefined) throw new SigningError('KEY_FORMAT', 'no PEM block found in the key file');
  switch (block.type) {
    case 'PUBLIC KEY':
    case 'EC PUBLIC KEY':
    case 'RSA PUBLIC KEY':
      try {
        return { keyId: policyKeyId(parsePublicKey(text)), kind: 'public' };
      } catch (err) {
        throw new SigningError('KEY_FORMAT', (err as Error).message, { cause: err });
      }
    case 'CERTIFICATE':
      try {
        return { keyId: policyKeyId(new X509Certificate(text).publicKey), kind: 'certificate' };
      } catch (err) {
        throw new SigningError('KEY_FORMAT', `the CERTIFICATE PEM block is not a valid X.509 certificate: ${(err as Error).message}`, { cause: err });
      }
    default: {
      const encrypted = isEncryptedKeyPem(text);
      const key = await parseSigningKey(text, encrypted ? await passphrase() : undefined);
      return { keyId: policyKeyId(key), kind: encrypted ? 'encrypted-private' : 'private' };
    }
  }
}
