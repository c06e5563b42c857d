/**
 * What an auditor reading `modelgate explain` needs beside the verdict: which policy-data entries the
 * verified facts met (not only the data's digest), the names the data gives the signers, and an
 * explicit found / NOT FOUND line for each kind of evidence the policy can use.
 *
 * Owns: `policyDataView` and `evidenceChecklist`, both pure. They read the data document in effect
 * (`data.modelgate_config`, policies/schema/data.v1.schema.json) by exact key, as the Rego does; they
 * only report what is listed — the decision itself is the policy's (`verdict.reasons`).
 */
import type { DependencyView } from './predicates.ts';
import type { DatasetEvidenceView, EvidenceView, SignedBy, VerifiedAttestationView } from './views.ts';
import { isRecord } from '../evidence/json.ts';

export interface SignerEntryView {
  /** The signer as the evidence names it (`key sha256:…`, `SAN (issuer …)`). */
  readonly signer: string;
  /** Where the policy data lists it (`signers.keys["sha256:…"]`), or null when it does not. */
  readonly listedAt: string | null;
  /** The entry's `name`, when it has one. */
  readonly name: string | null;
  readonly revoked: boolean;
}

export interface AllowlistEntryView {
  /** The allowlist, e.g. `provenance.builders`. */
  readonly allowlist: string;
  /** The verified value looked up in it. */
  readonly value: string;
  /** The key that matched (for prefix lists, the prefix), or null when the value is not listed. */
  readonly matched: string | null;
  /** The entry (JSON), when listed. */
  readonly entry: unknown;
}

export interface PolicyDataView {
  readonly signers: readonly SignerEntryView[];
  /** Trusted signers required (`signers.threshold`, default 1). */
  readonly threshold: number;
  readonly allowlists: readonly AllowlistEntryView[];
}

export interface ChecklistItem {
  readonly evidence: 'signature' | 'SLSA provenance' | 'evaluation' | 'dataset attestation' | 'model signature (OMS)' | 'transparency-log time';
  readonly found: boolean;
  readonly detail: string;
}

const OMS_PREDICATE_TYPES = new Set(['https://model_signing/signature/v1.0', 'https://model_signing/Digests/v0.1']);

type Json = Record<string, unknown>;
const at = (value: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, key) => (isRecord(v) && Object.hasOwn(v, key) ? v[key] : undefined), value);

function signerEntry(config: unknown, s: SignedBy): SignerEntryView {
  const { signer } = s;
  let listedAt: string | null = null;
  let entry: unknown;
  let revoked = false;
  if (signer.keyId !== null) {
    entry = at(config, 'signers', 'keys', signer.keyId);
    if (entry !== undefined) listedAt = `signers.keys[${JSON.stringify(signer.keyId)}]`;
    revoked = at(config, 'revoked', 'keys', signer.keyId) !== undefined;
  } else if (signer.issuer !== null && signer.san !== null) {
    entry = at(config, 'signers', 'identities', signer.issuer, signer.san);
    if (entry !== undefined) listedAt = `signers.identities[${JSON.stringify(signer.issuer)}][${JSON.stringify(signer.san)}]`;
    revoked = at(config, 'revoked', 'identities', signer.issuer, signer.san) !== undefined;
  }
  const name = at(entry, 'name');
  return { signer: signer.description, listedAt, name: typeof name === 'string' && name !== '' ? name : null, revoked };
}

function lookup(config: unknown, allowlist: string, value: string): AllowlistEntryView {
  const entry = at(config, ...allowlist.split('.'), value);
  return { allowlist, value, matched: entry === undefined ? null : value, entry: entry ?? null };
}

/** `oci://ghcr.io/acme/trainer@sha256:…` → `ghcr.io/acme/trainer` (what `containers.repositories` prefixes match). */
function containerRepository(uri: string): string {
  const bare = uri.replace(/^[a-z+]+:\/\//, '').replace(/@.*$/, '');
  return bare.replace(/:[^/:]*$/, '');
}

function containerEntries(config: unknown, container: DependencyView): AllowlistEntryView[] {
  const byDigest = container.digests.map((d) => lookup(config, 'containers.digests', d));
  const listed = byDigest.filter((e) => e.matched !== null);
  if (listed.length > 0 || container.uri === null) return listed.length > 0 ? listed : byDigest;
  const repository = containerRepository(container.uri);
  const parts = repository.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    const entry = at(config, 'containers', 'repositories', prefix);
    if (entry !== undefined) return [{ allowlist: 'containers.repositories', value: repository, matched: prefix, entry }];
  }
  return [...byDigest, { allowlist: 'containers.repositories', value: repository, matched: null, entry: null }];
}

/** The policy data entries the verified evidence met; `data` is the document in effect (null when unknown). */
export function policyDataView(data: unknown, signed: readonly SignedBy[], attestations: readonly VerifiedAttestationView[]): PolicyDataView | null {
  const config = at(data, 'modelgate_config');
  if (!isRecord(config)) return null;
  const signers = new Map<string, SignerEntryView>();
  for (const s of signed) if (!signers.has(s.signer.description)) signers.set(s.signer.description, signerEntry(config, s));
  const allowlists: AllowlistEntryView[] = [];
  for (const a of attestations) {
    if (a.view.kind !== 'build') continue;
    allowlists.push(lookup(config, 'provenance.builders', a.view.builderId));
    if (a.view.source !== null) allowlists.push(lookup(config, 'sources.repositories', a.view.source.repository));
    for (const dataset of a.view.datasets) if (dataset.uri !== null) allowlists.push(lookup(config, 'datasets', dataset.uri));
    for (const container of a.view.containers) allowlists.push(...containerEntries(config, container));
  }
  const threshold = at(config, 'signers', 'threshold');
  const unique = new Map(allowlists.map((e) => [`${e.allowlist}\u0000${e.value}`, e]));
  return { signers: [...signers.values()], threshold: typeof threshold === 'number' ? threshold : 1, allowlists: [...unique.values()] };
}

/** One line per kind of evidence the default policy can use, found or explicitly not. */
export function evidenceChecklist(input: {
  readonly digest: string | null;
  readonly signatures: readonly SignedBy[];
  readonly attestations: readonly VerifiedAttestationView[];
  readonly datasets: readonly DatasetEvidenceView[];
  readonly evidence: readonly EvidenceView[];
}): ChecklistItem[] {
  if (input.digest === null) return [];
  const unverified = (kind: 'signature' | 'attestation', match: (e: EvidenceView) => boolean = () => true): string => {
    const n = input.evidence.filter((e) => e.status === 'failed' && e.kind === kind && match(e)).length;
    return n > 0 ? ` (${n} found that did not verify under the checked signers)` : '';
  };
  const builds = input.attestations.filter((a) => a.view.kind === 'build');
  const evaluations = input.attestations.filter((a) => a.view.kind === 'evaluation');
  const oms = input.attestations.filter((a) => OMS_PREDICATE_TYPES.has(a.predicateType));
  const attestedDatasets = input.datasets.filter((d) => d.status === 'verified');
  const signed = [...input.signatures, ...input.attestations];
  const timed = signed.filter((s) => s.tlog !== null || s.timestamps.length > 0);
  const datasetDetail =
    attestedDatasets.length > 0
      ? `${attestedDatasets.length} of ${input.datasets.length} OCI dataset(s) attested: ${attestedDatasets.map((d) => d.uri).join(', ')}`
      : input.datasets.length > 0
        ? `not found: none of the ${input.datasets.length} OCI dataset(s) the provenance names has a verified dataset attestation`
        : builds.length > 0
          ? 'not found: the verified provenance names no dataset stored as an OCI artifact (only those can carry dataset attestations)'
          : 'not found: no verified provenance names a dataset';
  return [
    { evidence: 'signature', found: input.signatures.length > 0, detail: input.signatures.length > 0 ? `${input.signatures.length} verified` : `not found: no verified signature over the digest${unverified('signature')}` },
    { evidence: 'SLSA provenance', found: builds.length > 0, detail: builds.length > 0 ? `${builds.length} verified` : `not found${unverified('attestation', (e) => /slsa\.dev\/provenance/.test(e.predicateType ?? ''))}` },
    { evidence: 'evaluation', found: evaluations.length > 0, detail: evaluations.length > 0 ? `${evaluations.length} verified` : `not found: no verified evaluation or test-result attestation${unverified('attestation', (e) => /evaluation|test-result/.test(e.predicateType ?? ''))}` },
    { evidence: 'dataset attestation', found: attestedDatasets.length > 0, detail: datasetDetail },
    { evidence: 'model signature (OMS)', found: oms.length > 0, detail: oms.length > 0 ? `${oms.length} verified` : 'not found next to the artifact (a model.sig inside the model is checked by modelgate init against the pulled files)' },
    {
      evidence: 'transparency-log time',
      found: timed.length > 0,
      detail: timed.length > 0 ? `${timed.length} of ${signed.length} verified item(s) logged or timestamped` : signed.length > 0 ? 'not found: the verified evidence has no transparency-log entry or RFC 3161 timestamp (signed by key only)' : 'not found: nothing verified',
    },
  ];
}
