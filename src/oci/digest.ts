/**
 * Content digests: parsing, formatting and incremental verification.
 *
 * Owns: the `Digest` type (only ever constructed through `parseDigest` / `digestOf`), the supported
 * algorithms (sha256, sha512 as in the OCI image spec) and `DigestVerifier`, which hashes bytes as
 * they stream past and refuses content that is longer, shorter or different from what was asked for.
 */
import { createHash, type Hash } from 'node:crypto';
import { OciError } from '../errors.ts';

import type { Digest, DigestAlgorithm } from '../evidence/digest.ts';

export type { Digest, DigestAlgorithm } from '../evidence/digest.ts';

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

/** Parse and validate `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`. */
export function parseDigest(value: string): Digest {
  const colon = value.indexOf(':');
  const algorithm = colon < 0 ? '' : value.slice(0, colon);
  const encoded = colon < 0 ? '' : value.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new OciError('BAD_DIGEST', `unsupported or missing digest algorithm in "${value}" (expected sha256:<hex> or sha512:<hex>)`);
  }
  const length = ENCODED_LENGTH[algorithm];
  if (encoded.length !== length || !/^[a-f0-9]+$/.test(encoded)) {
    throw new OciError('BAD_DIGEST', `malformed ${algorithm} digest "${value}" (expected ${length} lowercase hex characters)`);
  }
  return value as Digest;
}

export function isDigest(value: string): value is Digest {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** Digest of in-memory bytes. */
export function digestOf(bytes: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
}

/**
 * Hashes content incrementally and checks it against an expected digest and size.
 * `update` throws TOO_LARGE / SIZE_MISMATCH as soon as more bytes arrive than expected, so a hostile
 * server cannot make us buffer or write more than the descriptor allows.
 */
export class DigestVerifier {
  readonly expected: Digest;
  readonly expectedSize: number | undefined;
  #hash: Hash;
  #received = 0;

  constructor(expected: Digest, expectedSize?: number) {
    this.expected = expected;
    this.expectedSize = expectedSize;
    this.#hash = createHash(digestAlgorithm(expected));
  }

  get received(): number {
    return this.#received;
  }

  update(chunk: Uint8Array): void {
    this.#received += chunk.byteLength;
    if (this.expectedSize !== undefined && this.#received > this.expectedSize) {
      throw new OciError('SIZE_MISMATCH', `content for ${this.expected} is longer than its descriptor size ${this.expectedSize}`);
    }
    this.#hash.update(chunk);
  }

  /** Finish and compare; throws SIZE_MISMATCH or DIGEST_MISMATCH. Returns the verified digest. */
  finish(): Digest {
    if (this.expectedSize !== undefined && this.#received !== this.expectedSize) {
      throw new OciError('SIZE_MISMATCH', `content for ${this.expected} has ${this.#received} bytes, descriptor says ${this.expectedSize}`);
    }
    const actual = `${digestAlgorithm(this.expected)}:${this.#hash.digest('hex')}`;
    if (actual !== this.expected) {
      throw new OciError('DIGEST_MISMATCH', `content hashes to ${actual}, expected ${this.expected}`);
    }
    return this.expected;
  }
}

/** Verify complete in-memory content against a digest (and optionally a size). */
export function verifyBytes(bytes: Uint8Array, expected: Digest, expectedSize?: number): void {
  const verifier = new DigestVerifier(expected, expectedSize);
  verifier.update(bytes);
  verifier.finish();
}
