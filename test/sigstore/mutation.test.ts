/**
 * Mutation test over the shared vectors: every passing `bundle` case and the OMS model signatures
 * are mutated (a bit flip in every base64 field, deletions, type changes, swaps of sections between
 * vectors, deep nesting) with a fixed seed and a bounded count, and each mutant is verified in
 * process. No mutation of signed content may verify; a mutant that still verifies must verify to
 * the same signer and content; every refusal must be a coded ModelgateError (no TypeError, no
 * RangeError, no stack overflow).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ModelgateError } from '../../src/errors.ts';
import { verifyModelSignature, type ModelSigningMethod } from '../../src/oms/signature.ts';
import { verifyBundleSync, type BundleVerifyOptions, type VerifiedBundle } from '../../src/sigstore/bundle.ts';
import { parsePublicKey } from '../../src/sigstore/keys.ts';
import { loadTrustedRootFile, parseCertificatesPem } from '../../src/sigstore/trust.ts';
import { abs, bundleCases, signerFor, VECTORS } from './vector-cases.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

/** mulberry32: a small deterministic PRNG, so every run tries the same mutants. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(0x14_2026);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** Fields whose strings are base64 bytes in bundles and DSSE envelopes. */
const BASE64_FIELDS = new Set(['rawBytes', 'signature', 'digest', 'payload', 'sig', 'canonicalizedBody', 'signedEntryTimestamp', 'hashes', 'rootHash', 'keyId', 'signedTimestamp']);

function leaves(value: Json, path: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(value)) value.forEach((v, i) => leaves(v, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) leaves(v, [...path, k], out);
  if (path.length > 0) out.push(path);
  return out;
}

function get(root: Json, path: Path): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k]!, root);
}

function set(root: Json, path: Path, value: Json | undefined): Json {
  const copy = structuredClone(root);
  const parent = get(copy, path.slice(0, -1)) as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else parent[key] = value;
  return copy;
}

const base64Field = (path: Path): boolean => path.some((k) => typeof k === 'string' && BASE64_FIELDS.has(k)) && typeof path[path.length - 1] !== 'string' ? true : BASE64_FIELDS.has(String(path[path.length - 1]));

function deep(depth: number): Json {
  let v: Json = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

interface Mutant {
  what: string;
  value: Json;
  /** The mutant changed bytes that are signed (or that the signature depends on): it must not verify. */
  signed: boolean;
  /**
   * A changed RFC 3161 timestamp may be ignored as untrusted (then its time must not be claimed), or
   * the change may lie in the CMS certificate set, which nothing signs (then the time is unchanged).
   */
  timestamp?: boolean;
  /** A section swapped in from this vector: verifying to the donor's own signed content is no forgery. */
  donor?: Json;
}

/** Bit flips in every base64 field, then a bounded sample of structural mutations. */
function mutants(original: Json, others: readonly Json[], samples: number): Mutant[] {
  const out: Mutant[] = [];
  const paths = leaves(original);
  for (const path of paths) {
    const value = get(original, path);
    if (typeof value !== 'string' || !base64Field(path) || value.length === 0) continue;
    const bytes = Buffer.from(value, 'base64');
    if (bytes.byteLength === 0) continue;
    const bit = Math.floor(random() * bytes.byteLength * 8);
    bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
    const key = path.join('.');
    // Bytes nothing signs and nothing trusts: chain certificates after the leaf (the chain comes from
    // the trusted root) and a key-method bundle's non-standard publicKey.rawBytes (the caller's key is
    // the truth). The hint `messageDigest.digest` is unsigned but must match the artifact: refused.
    const unsigned = /certificates\.[1-9]/.test(key) || key.endsWith('publicKey.rawBytes');
    out.push({ what: `flip bit ${bit} of ${key}`, value: set(original, path, bytes.toString('base64')), signed: !unsigned, timestamp: key.includes('signedTimestamp') });
  }
  const typeChanges: Json[] = [null, 7, -1, true, '', 'x', [], {}, [1, 2], { a: 1 }];
  for (let i = 0; i < samples; i++) {
    const path = pick(paths);
    out.push({ what: `delete ${path.join('.')}`, value: set(original, path, undefined), signed: false });
    const replacement = pick(typeChanges);
    out.push({ what: `${path.join('.')} := ${JSON.stringify(replacement)}`, value: set(original, path, replacement), signed: false });
  }
  for (const other of others) {
    for (const path of [['verificationMaterial'], ['verificationMaterial', 'tlogEntries'], ['messageSignature'], ['dsseEnvelope'], ['verificationMaterial', 'timestampVerificationData']]) {
      let replacement: Json;
      try {
        replacement = get(other, path);
      } catch {
        continue;
      }
      if (replacement === undefined || JSON.stringify(replacement) === JSON.stringify((() => { try { return get(original, path); } catch { return undefined; } })())) continue;
      out.push({ what: `swap ${path.join('.')}`, value: set(original, path, structuredClone(replacement)), signed: false, donor: other });
    }
  }
  out.push({ what: 'deep mediaType', value: set(original, ['mediaType'], deep(20_000)), signed: true });
  out.push({ what: 'deep nesting', value: set(original, pick(paths), deep(5_000)), signed: false });
  return out;
}

const summary = (v: VerifiedBundle): string => JSON.stringify({ signer: v.signer.kind === 'key' ? v.signer.keyId : [v.signer.san, v.signer.issuer], content: v.content.kind === 'message' ? v.content.digest : [v.content.payloadType, v.content.payload.toString('base64')] });

/** What the donor vector itself verifies to under the same policy, if anything. */
function donorSummary(donor: Json | undefined, options: BundleVerifyOptions): string | undefined {
  if (donor === undefined) return undefined;
  try {
    return summary(verifyBundleSync(donor, options));
  } catch {
    return undefined;
  }
}

const roots = new Map<string, ReturnType<typeof loadTrustedRootFile>>();
const trustFor = (path: string): ReturnType<typeof loadTrustedRootFile> => roots.get(path) ?? roots.set(path, loadTrustedRootFile(abs(path))).get(path)!;

const passing = bundleCases.filter((c) => c.expect === 'pass');
const originals = passing.map((c) => JSON.parse(readFileSync(abs(c.bundle), 'utf8')) as Json);

t.test('no mutation of a valid bundle verifies to anything else, and every refusal is coded', async (t) => {
  let count = 0;
  for (const [i, c] of passing.entries()) {
    const options: BundleVerifyOptions = {
      trust: trustFor(c.trustedRoot),
      signer: signerFor(c),
      ...(c.artifact === undefined ? {} : { artifact: { kind: 'bytes' as const, bytes: readFileSync(abs(c.artifact)) } }),
      ...(c.tlogThreshold === undefined ? {} : { tlogThreshold: c.tlogThreshold }),
    };
    const baseline = verifyBundleSync(originals[i], options);
    const baseTsa = baseline.verifiedTimes.filter((v) => v.source === 'tsa').length;
    const others = [originals[(i + 7) % originals.length]!];
    for (const m of mutants(originals[i]!, others, 1)) {
      count++;
      let result: VerifiedBundle | undefined;
      try {
        result = verifyBundleSync(m.value, options);
      } catch (err) {
        if (!(err instanceof ModelgateError)) t.fail(`${c.id}: ${m.what}: uncoded ${(err as Error)?.name}: ${(err as Error)?.message}`);
        continue;
      }
      if (m.timestamp === true) {
        const times = (v: VerifiedBundle): string => JSON.stringify(v.verifiedTimes.filter((x) => x.source === 'tsa'));
        if (result.verifiedTimes.filter((v) => v.source === 'tsa').length < baseTsa || times(result) === times(baseline)) continue;
        t.fail(`${c.id}: ${m.what} verified with another timestamp`);
      } else if (m.signed) t.fail(`${c.id}: ${m.what} verified`);
      else if (summary(result) !== summary(baseline) && summary(result) !== donorSummary(m.donor, options)) t.fail(`${c.id}: ${m.what} verified to different content`);
    }
  }
  t.ok(count > 200, `${count} mutants tried`);
});

t.test('no mutation of an OMS model signature verifies to another statement; refusals are coded', async (t) => {
  const methods: { sig: string; method: ModelSigningMethod }[] = [
    { sig: 'model-transparency/v1.0.0-elliptic-key/model.sig', method: { kind: 'key', publicKey: parsePublicKey(readFileSync(join(VECTORS, 'model-transparency/keys/certificate/signing-key-pub.pem'), 'utf8')) } },
    {
      sig: 'model-transparency/v1.0.0-certificate/model.sig',
      method: { kind: 'certificate', caCertificates: parseCertificatesPem(readFileSync(join(VECTORS, 'model-transparency/keys/certificate/ca-cert.pem'), 'utf8')), verificationTime: new Date('2025-06-01T00:00:00Z') },
    },
    {
      sig: 'model-transparency/v1.0.0-sigstore/model.sig',
      method: { kind: 'sigstore', identity: 'stefanb@us.ibm.com', issuer: 'https://sigstore.verify.ibm.com/oauth2', trust: loadTrustedRootFile(join(VECTORS, 'trust/public-good.trusted_root.json')) },
    },
  ];
  const sigs = methods.map((m) => JSON.parse(readFileSync(join(VECTORS, m.sig), 'utf8')) as Json);
  let count = 0;
  for (const [i, { sig, method }] of methods.entries()) {
    const baseline = JSON.stringify((await verifyModelSignature(sigs[i], method)).statement);
    for (const m of mutants(sigs[i]!, [sigs[(i + 1) % sigs.length]!], 6)) {
      count++;
      try {
        const result = await verifyModelSignature(m.value, method);
        // The upstream key and certificate vectors are signed with the same key: the other's envelope
        // is authentic for this key, so verifying to the donor's own statement is no forgery.
        const donorEnvelope = (m.donor as { dsseEnvelope?: { payload?: string } } | undefined)?.dsseEnvelope?.payload;
        const donorSubject = donorEnvelope === undefined ? undefined : JSON.stringify((JSON.parse(Buffer.from(donorEnvelope, 'base64').toString('utf8')) as { subject: unknown }).subject);
        if (m.signed && !(m.timestamp === true)) t.fail(`${sig}: ${m.what} verified`);
        else if (JSON.stringify(result.statement) !== baseline && JSON.stringify(result.statement.subject) !== donorSubject) t.fail(`${sig}: ${m.what} verified to another statement`);
      } catch (err) {
        if (!(err instanceof ModelgateError)) t.fail(`${sig}: ${m.what}: uncoded ${(err as Error)?.name}: ${(err as Error)?.message}`);
      }
    }
  }
  t.ok(count > 40, `${count} mutants tried`);
});
