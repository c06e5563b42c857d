/**
 * slsa-verifier `verify-npm-package`: an npm tarball against the attestations the npm registry
 * serves for it (`GET /-/npm/v1/attestations/<name>@<version>`).
 *
 * Owns: reading the attestation set (`{"attestations":[{predicateType, bundle}, …]}`: one SLSA
 * provenance, one npm publish attestation), npm's registry keys target (`registry.npmjs.org/keys.json`
 * in Sigstore's TUF repository) and `verifyNpmPackage`, in slsa-verifier's order:
 * 1. the provenance bundle (keyless, Fulcio + Rekor) and its builder trust decision (`kind: 'npm'`:
 *    `--builder-id` names the Node.js builder or a GitHub-hosted runner), source and subject digest;
 * 2. the publish attestation: signed by the registry key its bundle's `publicKey.hint` names (a key of
 *    usage `npm:attestations` in the keys target; nothing is trusted from the hint until that key
 *    verifies the signature), logged in Rekor, signed while the key was valid;
 * 3. the publish subject carries the tarball's sha512;
 * 4. the in-toto headers (payload type and predicate types; `parseStatement` admits only in-toto
 *    Statement v0.1 and v1);
 * 5. package name and version, when asked for, in the provenance subject (`pkg:npm/<name>@<version>`,
 *    URL-encoded) and in the publish attestation's subject and predicate.
 * The tarball is hashed by the caller (sha512, as npm records it).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Digest } from '../oci/digest.ts';
import { isRecord } from '../evidence/json.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../evidence/vocabulary.ts';
import { verifyBundle, type VerifiedBundle } from '../sigstore/bundle.ts';
import { echo } from '../sigstore/errors.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { AttestationError } from './errors.ts';
import { verifyProvenanceBundle, type VerifiedProvenance } from './provenance-bundle.ts';
import type { SlsaPolicy } from './slsa-policy.ts';
import { isProvenancePredicateType } from './provenance.ts';
import { parseArtifactDigest, parseStatementPayload, requireSubject, type Statement } from './statement.ts';

/** The npm publish attestation's predicate type prefix (npm/attestation specs/publish/v0.1). */
export const NPM_PUBLISH_PREDICATE_PREFIX = 'https://github.com/npm/attestation/tree/main/specs/publish/';
/** The TUF target holding the npm registry's signing keys. */
export const NPM_REGISTRY_KEYS_TARGET = 'registry.npmjs.org/keys.json';
const ATTESTATION_KEY_USAGE = 'npm:attestations';
/** Bounds on what is read from a registry answer or a file. */
const MAX_ATTESTATIONS = 16;

function invalid(message: string): never {
  throw new AttestationError('NPM_ATTESTATIONS', message);
}

export interface NpmAttestations {
  /** The SLSA provenance bundle (JSON value, verified later). */
  readonly provenance: unknown;
  /** The npm publish attestation bundle (JSON value, verified later). */
  readonly publish: unknown;
}

/** slsa-verifier `extractAttestations`: at least two entries, a provenance and a publish attestation among them. */
export function parseNpmAttestations(text: string): NpmAttestations {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    invalid(`the attestations file is not JSON: ${(err as Error).message}`);
  }
  const list = isRecord(value) ? value.attestations : undefined;
  if (!Array.isArray(list)) invalid('the attestations file has no "attestations" array');
  if (list.length < 2 || list.length > MAX_ATTESTATIONS) invalid(`expected a provenance and a publish attestation, found ${list.length} attestation(s)`);
  let provenance: unknown;
  let publish: unknown;
  for (const entry of list) {
    if (!isRecord(entry) || typeof entry.predicateType !== 'string') invalid('an attestation has no predicateType');
    if (isProvenancePredicateType(entry.predicateType)) provenance = entry.bundle;
    if (entry.predicateType.startsWith(NPM_PUBLISH_PREDICATE_PREFIX)) publish = entry.bundle;
  }
  if (provenance === undefined || publish === undefined) invalid('the attestations must include a SLSA provenance and an npm publish attestation');
  return { provenance, publish };
}

export interface NpmRegistryKey {
  readonly keyId: string;
  readonly keyUsage: string;
  readonly key: KeyObject;
  readonly validFrom?: Date;
  readonly validUntil?: Date;
}

function optionalDate(value: unknown, what: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new AttestationError('NPM_REGISTRY_KEYS', `${what} is not a date: ${echo(value)}`);
  return date;
}

/** npm's keys target: `{"keys":[{keyId, keyUsage, publicKey:{rawBytes (DER SPKI, base64), keyDetails, validFor}}]}`. */
export function parseNpmRegistryKeys(text: string, origin: string): NpmRegistryKey[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AttestationError('NPM_REGISTRY_KEYS', `${origin} is not JSON: ${(err as Error).message}`);
  }
  const keys = isRecord(value) ? value.keys : undefined;
  if (!Array.isArray(keys)) throw new AttestationError('NPM_REGISTRY_KEYS', `${origin} has no "keys" array`);
  return keys.map((entry, i) => {
    const where = `${origin} keys[${i}]`;
    const publicKey = isRecord(entry) ? entry.publicKey : undefined;
    if (!isRecord(entry) || typeof entry.keyId !== 'string' || typeof entry.keyUsage !== 'string' || !isRecord(publicKey) || typeof publicKey.rawBytes !== 'string') {
      throw new AttestationError('NPM_REGISTRY_KEYS', `${where} needs keyId, keyUsage and publicKey.rawBytes`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(publicKey.rawBytes, 'base64'), format: 'der', type: 'spki' });
    } catch (err) {
      throw new AttestationError('NPM_REGISTRY_KEYS', `${where}: publicKey.rawBytes is not a DER public key: ${(err as Error).message}`);
    }
    const validFor = isRecord(publicKey.validFor) ? publicKey.validFor : {};
    const validFrom = optionalDate(validFor.start, `${where} validFor.start`);
    const validUntil = optionalDate(validFor.end, `${where} validFor.end`);
    return { keyId: entry.keyId, keyUsage: entry.keyUsage, key, ...(validFrom === undefined ? {} : { validFrom }), ...(validUntil === undefined ? {} : { validUntil }) };
  });
}

export interface NpmPackagePolicy extends Omit<SlsaPolicy, 'artifactDigests' | 'kind'> {
  readonly packageName?: string | undefined;
  readonly packageVersion?: string | undefined;
}

export interface VerifiedNpmPackage {
  readonly provenance: VerifiedProvenance;
  readonly publish: { readonly statement: Statement; readonly bundle: VerifiedBundle; readonly keyId: string };
  readonly packageName: string;
  readonly packageVersion: string;
}

/** The `publicKey.hint` of a bundle (unauthenticated: only a pointer into the registry keys). */
function keyHint(bundle: unknown): string {
  const material = isRecord(bundle) ? bundle.verificationMaterial : undefined;
  const publicKey = isRecord(material) ? material.publicKey : undefined;
  const hint = isRecord(publicKey) ? publicKey.hint : undefined;
  if (typeof hint !== 'string' || hint === '') throw new AttestationError('NPM_ATTESTATIONS', 'the publish attestation is not signed with a registry key (no publicKey.hint)');
  return hint;
}

/** Verify the publish attestation with the registry key its hint names; the key must have been valid when it was logged. */
async function verifyPublishAttestation(bundle: unknown, trust: TrustMaterial, registryKeys: readonly NpmRegistryKey[], ignoreTlog: boolean) {
  const keyId = keyHint(bundle);
  const registryKey = registryKeys.find((k) => k.keyId === keyId && k.keyUsage === ATTESTATION_KEY_USAGE);
  if (registryKey === undefined) throw new AttestationError('NPM_REGISTRY_KEYS', `no npm registry key with keyId ${echo(keyId)} and keyUsage ${ATTESTATION_KEY_USAGE}`);
  const verified = await verifyBundle(bundle, { trust, signer: { kind: 'key', keys: [registryKey.key] }, ...(ignoreTlog ? { ignoreTlog: true } : { tlogThreshold: 1 }) });
  for (const { time } of verified.verifiedTimes) {
    if ((registryKey.validFrom !== undefined && time < registryKey.validFrom) || (registryKey.validUntil !== undefined && time > registryKey.validUntil)) {
      throw new AttestationError('NPM_REGISTRY_KEYS', `the publish attestation was logged at ${time.toISOString()}, outside the validity of registry key ${keyId}`);
    }
  }
  if (verified.content.kind !== 'dsse') throw new AttestationError('NPM_ATTESTATIONS', 'the publish attestation is not a DSSE envelope');
  return { statement: parseStatementPayload(verified.content.payloadType, verified.content.payload), bundle: verified, keyId };
}

/** slsa-verifier `verifyIntotoTypes`. */
function requireInTotoHeaders(bundle: VerifiedBundle, statement: Statement, what: string, predicateOk: (type: string) => boolean): void {
  if (bundle.content.kind !== 'dsse' || bundle.content.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new AttestationError('PAYLOAD_TYPE', `${what}: expected payload type ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  if (!predicateOk(statement.predicateType)) throw new AttestationError('PREDICATE_TYPE', `${what}: unexpected predicate type ${echo(statement.predicateType)}`);
}

/** slsa-verifier `getPackageNameAndVersion`: `name@version`, scoped names keep their leading `@`. */
export function splitPackageSpec(spec: string): { name: string; version: string } {
  const scoped = spec.startsWith('@');
  const parts = (scoped ? spec.slice(1) : spec).split('@');
  if (parts.length > 2) throw new AttestationError('PACKAGE_NAME', `invalid package name ${echo(spec)}`);
  return { name: `${scoped ? '@' : ''}${parts[0] ?? ''}`, version: parts[1] ?? '' };
}

/** The provenance's single subject `pkg:npm/<url-encoded name@version>`. */
function provenancePackage(statement: Statement): { name: string; version: string } {
  if (statement.subject.length !== 1) throw new AttestationError('SUBJECT_MISMATCH', `npm provenance must have exactly 1 subject, found ${statement.subject.length}`);
  const subject = statement.subject[0]?.name ?? '';
  const prefix = 'pkg:npm/';
  if (!subject.startsWith(prefix)) throw new AttestationError('PACKAGE_NAME', `provenance subject ${echo(subject)} is not a pkg:npm/ package`);
  let decoded: string;
  try {
    decoded = decodeURIComponent(subject.slice(prefix.length).replace(/\+/g, ' '));
  } catch {
    throw new AttestationError('PACKAGE_NAME', `provenance subject ${echo(subject)} is not URL-encoded`);
  }
  return splitPackageSpec(decoded);
}

/** The publish attestation's predicate `{name, version}`. */
function publishPackage(statement: Statement): { name: string; version: string } {
  const predicate = statement.predicate;
  return { name: typeof predicate.name === 'string' ? predicate.name : '', version: typeof predicate.version === 'string' ? predicate.version : '' };
}

/**
 * Verify an npm package tarball (its `sha512:` digest) against its attestations. Rejects with
 * AttestationError / VerificationError (stable codes) on the first failed check.
 */
export async function verifyNpmPackage(
  attestations: NpmAttestations,
  tarballDigest: Digest,
  trust: TrustMaterial,
  registryKeys: readonly NpmRegistryKey[],
  policy: NpmPackagePolicy,
  options: { readonly ignoreTlog?: boolean } = {},
): Promise<VerifiedNpmPackage> {
  const digest = parseArtifactDigest(tarballDigest);
  if (digest.algorithm !== 'sha512') throw new AttestationError('SUBJECT_MISMATCH', `npm packages are identified by their sha512, got ${digest.algorithm}`);
  const ignoreTlog = options.ignoreTlog === true;
  const provenance = await verifyProvenanceBundle(attestations.provenance, trust, tarballDigest, { ...policy, kind: 'npm' }, { ignoreTlog });
  const publish = await verifyPublishAttestation(attestations.publish, trust, registryKeys, ignoreTlog);
  requireSubject(publish.statement, digest);
  requireInTotoHeaders(provenance.bundle, provenance.statement, 'provenance', isProvenancePredicateType);
  requireInTotoHeaders(publish.bundle, publish.statement, 'publish attestation', (type) => type.startsWith(NPM_PUBLISH_PREDICATE_PREFIX));

  const fromProvenance = provenancePackage(provenance.statement);
  const published = publishPackage(publish.statement);
  if (policy.packageName !== undefined) {
    for (const [what, name] of [['provenance subject', fromProvenance.name], ['publish predicate', published.name]] as const) {
      if (name !== policy.packageName) throw new AttestationError('PACKAGE_NAME_MISMATCH', `${what}: got ${echo(name)}, expected ${echo(policy.packageName)}`);
    }
  }
  if (policy.packageVersion !== undefined) {
    for (const [what, version] of [['provenance subject', fromProvenance.version], ['publish predicate', published.version]] as const) {
      if (version !== policy.packageVersion) throw new AttestationError('PACKAGE_VERSION_MISMATCH', `${what}: got ${echo(version)}, expected ${echo(policy.packageVersion)}`);
    }
  }
  return { provenance, publish, packageName: fromProvenance.name, packageVersion: fromProvenance.version };
}
