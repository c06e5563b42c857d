/**
 * Test-only OMS signer: builds model_signing-shaped `model.sig` bundles (key or certificate method)
 * over a model directory, hashing with plain `crypto` (independently of src/hashing), so tests can
 * sign models they then tamper with.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface TestResource {
  name: string;
  algorithm: 'sha256' | 'blake2b';
  digest: string;
}

const NODE_HASH = { sha256: 'sha256', blake2b: 'blake2b512' } as const;

/** Files under `dir` (relative POSIX names, sorted by code point), skipping `skip` names. */
export function walk(dir: string, skip: readonly string[] = ['model.sig'], prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (skip.includes(name)) continue;
    if (entry.isDirectory()) out.push(...walk(dir, skip, name));
    else out.push(name);
  }
  return out.sort();
}

export function fileResources(dir: string, names: readonly string[], algorithm: 'sha256' | 'blake2b' = 'sha256'): TestResource[] {
  return names.map((name) => ({ name, algorithm, digest: createHash(NODE_HASH[algorithm]).update(readFileSync(join(dir, name))).digest('hex') }));
}

export function shardResources(dir: string, names: readonly string[], shardSize: number): TestResource[] {
  const out: TestResource[] = [];
  for (const name of names) {
    const bytes = readFileSync(join(dir, name));
    for (let start = 0; start < statSync(join(dir, name)).size; start += shardSize) {
      const end = Math.min(start + shardSize, bytes.length);
      out.push({ name: `${name}:${start}:${end}`, algorithm: 'sha256', digest: createHash('sha256').update(bytes.subarray(start, end)).digest('hex') });
    }
  }
  return out;
}

export function rootDigest(resources: readonly TestResource[]): string {
  const h = createHash('sha256');
  for (const r of resources) h.update(Buffer.from(r.digest, 'hex'));
  return h.digest('hex');
}

export interface StatementOptions {
  method?: 'files' | 'shards';
  shardSize?: number;
  hashType?: 'sha256' | 'blake2b';
  ignorePaths?: string[];
  modelName?: string;
  subjectDigest?: string;
  predicateType?: string;
}

export function omsStatement(resources: readonly TestResource[], options: StatementOptions = {}): Record<string, unknown> {
  const serialization: Record<string, unknown> = { method: options.method ?? 'files', hash_type: options.hashType ?? 'sha256', allow_symlinks: false };
  if (options.method === 'shards') serialization.shard_size = options.shardSize;
  if (options.ignorePaths !== undefined) serialization.ignore_paths = options.ignorePaths;
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: options.modelName ?? 'model', digest: { sha256: options.subjectDigest ?? rootDigest(resources) } }],
    predicateType: options.predicateType ?? 'https://model_signing/signature/v1.0',
    predicate: { serialization, resources },
  };
}

const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

function pae(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${PAYLOAD_TYPE.length} ${PAYLOAD_TYPE} ${payload.length} `), payload]);
}

function envelope(statement: unknown, key: KeyObject, hash: string): Record<string, unknown> {
  const payload = Buffer.from(JSON.stringify(statement));
  return { payload: payload.toString('base64'), payloadType: PAYLOAD_TYPE, signatures: [{ sig: sign(hash, pae(payload), key).toString('base64'), keyid: null }] };
}

export function keyBundle(statement: unknown, privateKey: KeyObject, hash = 'sha256'): string {
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'not-checked' }, tlogEntries: [] },
    dsseEnvelope: envelope(statement, privateKey, hash),
  });
}

export function certificateBundle(statement: unknown, leafKey: KeyObject, chainDer: readonly Buffer[], hash = 'sha256'): string {
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { x509CertificateChain: { certificates: chainDer.map((d) => ({ rawBytes: d.toString('base64') })) } },
    dsseEnvelope: envelope(statement, leafKey, hash),
  });
}
