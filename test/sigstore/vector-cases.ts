/**
 * Test helper: the `bundle` cases of the shared vectors (`shared/vectors/cases.json`) and the signer
 * policy each one is verified with (identity, a PEM key, or the key named by the bundle's hint).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SignerPolicy } from '../../src/sigstore/bundle.ts';
import { parsePublicKey } from '../../src/sigstore/keys.ts';

export const VECTORS = join(import.meta.dirname, '../../../shared/vectors');

export interface BundleCase {
  id: string;
  kind: string;
  expect: 'pass' | 'fail';
  bundle: string;
  artifact?: string;
  trustedRoot: string;
  key?: string;
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  tlogThreshold?: number;
  notes?: string;
}

export const bundleCases = (JSON.parse(readFileSync(join(VECTORS, 'cases.json'), 'utf8')) as BundleCase[]).filter((c) => c.kind === 'bundle');
export const abs = (p: string): string => join(VECTORS, p);

export function signerFor(c: BundleCase): SignerPolicy {
  if (c.key === undefined) return { kind: 'identity', san: c.certificateIdentity!, issuer: c.certificateOidcIssuer! };
  const text = readFileSync(abs(c.key), 'utf8');
  if (!text.trimStart().startsWith('{')) return { kind: 'key', keys: [parsePublicKey(text)] };
  const hint = JSON.parse(readFileSync(abs(c.bundle), 'utf8')).verificationMaterial.publicKey.hint as string;
  return { kind: 'key', keys: [parsePublicKey((JSON.parse(text) as Record<string, string>)[hint]!)] };
}
