/**
 * ECDSA verification over a precomputed digest (NIST P-256, P-384, P-521).
 *
 * Owns: the curve arithmetic needed to check an ECDSA signature when only the message digest is
 * known (a `sha256:<hex>` artifact reference instead of the bytes). Written by hand because Node's
 * crypto (`verify`, WebCrypto) always hashes its input and no installed library exposes prehashed
 * ECDSA; this is verification only (public data, no secrets), so constant time is not a concern.
 * Jacobian coordinates with a = -3, Shamir's trick for u1·G + u2·Q. Cross-checked in tests
 * against signatures made by Node's crypto.
 */
import type { KeyObject } from 'node:crypto';

export type EcdsaCurve = 'P-256' | 'P-384' | 'P-521';

interface CurveParams {
  p: bigint;
  n: bigint;
  gx: bigint;
  gy: bigint;
}

const CURVES: Record<EcdsaCurve, CurveParams> = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  },
  'P-521': {
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
  },
};

/** Jacobian point (X/Z², Y/Z³); Z = 0 is the point at infinity. */
type Point = readonly [bigint, bigint, bigint];

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function invert(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('not invertible');
  return mod(oldS, m);
}

function double([x, y, z]: Point, p: bigint): Point {
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  const delta = (z * z) % p;
  const gamma = (y * y) % p;
  const beta = (x * gamma) % p;
  const alpha = mod(3n * (x - delta) * (x + delta), p);
  const x3 = mod(alpha * alpha - 8n * beta, p);
  const z3 = mod((y + z) * (y + z) - gamma - delta, p);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, p);
  return [x3, y3, z3];
}

function add(a: Point, b: Point, p: bigint): Point {
  const [x1, y1, z1] = a;
  const [x2, y2, z2] = b;
  if (z1 === 0n) return b;
  if (z2 === 0n) return a;
  const z1z1 = (z1 * z1) % p;
  const z2z2 = (z2 * z2) % p;
  const u1 = (x1 * z2z2) % p;
  const u2 = (x2 * z1z1) % p;
  const s1 = (((y1 * z2) % p) * z2z2) % p;
  const s2 = (((y2 * z1) % p) * z1z1) % p;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  if (h === 0n) return r === 0n ? double(a, p) : [0n, 1n, 0n];
  const hh = (h * h) % p;
  const hhh = (h * hh) % p;
  const v = (u1 * hh) % p;
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  const z3 = (((z1 * z2) % p) * h) % p;
  return [x3, y3, z3];
}

function affineX([x, , z]: Point, p: bigint): bigint {
  const zInv = invert(z, p);
  return (x * zInv * zInv) % p;
}

/** u1·G + u2·Q by simultaneous double-and-add (Shamir's trick). */
function doubleScalarMultiply(u1: bigint, g: Point, u2: bigint, q: Point, p: bigint): Point {
  const gq = add(g, q, p);
  let acc: Point = [0n, 1n, 0n];
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    acc = double(acc, p);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) acc = add(acc, gq, p);
    else if (b1) acc = add(acc, g, p);
    else if (b2) acc = add(acc, q, p);
  }
  return acc;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.byteLength === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/** Strict DER `SEQUENCE { INTEGER r, INTEGER s }` (short or one/two-byte long lengths). */
function parseDerSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  let pos = 0;
  const readLength = (): number | undefined => {
    const first = sig[pos++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2) return undefined;
    let len = 0;
    for (let i = 0; i < count; i++) {
      const byte = sig[pos++];
      if (byte === undefined) return undefined;
      len = (len << 8) | byte;
    }
    return len < 0x80 ? undefined : len;
  };
  const readInteger = (): bigint | undefined => {
    if (sig[pos++] !== 0x02) return undefined;
    const len = readLength();
    if (len === undefined || len === 0 || pos + len > sig.byteLength) return undefined;
    const body = sig.subarray(pos, pos + len);
    pos += len;
    if ((body[0]! & 0x80) !== 0) return undefined; // negative
    if (len > 1 && body[0] === 0 && (body[1]! & 0x80) === 0) return undefined; // non-minimal
    return bytesToBigInt(body);
  };
  if (sig[pos++] !== 0x30) return undefined;
  const seqLen = readLength();
  if (seqLen === undefined || pos + seqLen !== sig.byteLength) return undefined;
  const r = readInteger();
  const s = readInteger();
  if (r === undefined || s === undefined || pos !== sig.byteLength) return undefined;
  return { r, s };
}

/** True when `signature` (DER) is a valid ECDSA signature by `key` over the digest `digest`. */
export function verifyEcdsaPrehashed(key: KeyObject, curve: EcdsaCurve, digest: Uint8Array, signature: Uint8Array): boolean {
  const { p, n, gx, gy } = CURVES[curve];
  const rs = parseDerSignature(signature);
  if (rs === undefined) return false;
  const { r, s } = rs;
  if (r < 1n || r >= n || s < 1n || s >= n) return false;
  const jwk = key.export({ format: 'jwk' });
  if (jwk.x === undefined || jwk.y === undefined) return false;
  const q: Point = [bytesToBigInt(Buffer.from(jwk.x, 'base64url')), bytesToBigInt(Buffer.from(jwk.y, 'base64url')), 1n];
  // e = leftmost bitlen(n) bits of the digest (FIPS 186-4 §6.4).
  const nBits = n.toString(2).length;
  let e = bytesToBigInt(digest);
  const digestBits = digest.byteLength * 8;
  if (digestBits > nBits) e >>= BigInt(digestBits - nBits);
  const w = invert(s, n);
  const u1 = mod(e * w, n);
  const u2 = mod(r * w, n);
  const point = doubleScalarMultiply(u1, [gx, gy, 1n], u2, q, p);
  if (point[2] === 0n) return false;
  return mod(affineX(point, p), n) === r;
}
