/**
 * A bounded cache of verified evidence, for long-running shells (the admission webhook).
 *
 * Owns: the cache key scheme (`verificationScope`, `evidenceKey`) — (repository, manifest digest,
 * trust root digest, configured signers, key tlog threshold): the same digest in another repository may carry other evidence, and other trust or
 * signers verify differently — and an LRU with a time-to-live, so new evidence (a signature or a
 * revocation-relevant attestation pushed later) is seen within `ttlMs`. Only complete discoveries are
 * stored (the pipeline never caches an `unavailable` outcome). Decisions themselves are not cached:
 * they depend on the location as written, the usage site and the time, and cost microseconds; callers
 * that do cache decisions key them additionally by `Decision.bundleDigest` and `dataDigest`.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Digest } from '../evidence/digest.ts';
import type { VerificationSigners } from '../evidence/signers.ts';
import type { VerifiedEvidenceSet } from '../evidence/verified.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { keyId } from '../sigstore/keys.ts';

const fingerprints = new WeakMap<VerificationSigners, string>();

/** A stable fingerprint of the configured signers (computed once per signers object). */
export function signersFingerprint(signers: VerificationSigners): string {
  let fingerprint = fingerprints.get(signers);
  if (fingerprint === undefined) {
    const parts = [
      ...signers.keys.map((k) => `key:${keyId(k)}`),
      ...signers.identities.map((i) => `id:${i.issuer}\u0000${i.san}`),
      ...(signers.identityPatterns ?? []).map((p) => `re:${typeof p.issuer === 'string' ? p.issuer : `/${p.issuer.source}`}\u0000${p.san.source}`),
    ].sort();
    fingerprint = createHash('sha256').update(parts.join('\n')).digest('hex');
    fingerprints.set(signers, fingerprint);
  }
  return fingerprint;
}

/** What verification depends on besides the artifact: the trust root, the configured signers, the key tlog threshold. */
export interface VerificationSettings {
  readonly trust: Pick<TrustMaterial, 'trustDigest'>;
  readonly signers: VerificationSigners;
  readonly keyTlogThreshold?: number;
}

/**
 * The one key scheme of cached verification results: the verification settings, serialised. The
 * evidence cache keys by (repository, digest, settings); admission's decision cache and its
 * in-flight decisions add the policy input's other parts to the same settings.
 */
export function verificationScope(settings: VerificationSettings): string {
  return JSON.stringify([settings.trust.trustDigest, signersFingerprint(settings.signers), settings.keyTlogThreshold ?? 0]);
}

/** The evidence cache key of `digest` in `repository` under `scope` (`verificationScope`). */
export function evidenceKey(repository: string, digest: Digest, scope: string): string {
  return JSON.stringify([repository, digest, scope]);
}

export interface EvidenceCacheOptions {
  /** Entries kept (default 1000). */
  readonly max?: number;
  /** How long an entry is reused (default 60 s). */
  readonly ttlMs?: number;
}

export class EvidenceCache {
  readonly #lru: LRUCache<string, VerifiedEvidenceSet>;

  constructor(options: EvidenceCacheOptions = {}) {
    this.#lru = new LRUCache({ max: options.max ?? 1000, ttl: options.ttlMs ?? 60_000 });
  }

  get(key: string): VerifiedEvidenceSet | undefined {
    return this.#lru.get(key);
  }

  set(key: string, value: VerifiedEvidenceSet): void {
    this.#lru.set(key, value);
  }

  get size(): number {
    return this.#lru.size;
  }
}
