// Cold admission: the registry round trips a review waits for one after the other (the critical-path
// depth of its requests, recorded causally by a counting dispatcher: see test/helpers/round-trips.ts;
// with a dispatcher of its own the store sends blob reads through undici too), for each shape of model a
// review meets — digest or tag, Sigstore bundles as referrers (tag-schema fallback, distribution 2.8
// has no referrers API) or cosign's legacy `.sig`/`.att` tags, with or without attestations, unsigned,
// in a repository the webhook has not read before or one it has, on an anonymous registry or one
// asking for Bearer tokens (the token realm is one more round trip for a repository whose token the
// webhook does not hold yet, and the first contact with such a registry costs its 401). Every review is a first sighting
// (new digest, nothing cached), decided through the reviewer and caches the webhook uses.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DecisionCache } from '../../src/admission/decision-cache.ts';
import { AdmissionReviewer } from '../../src/admission/review.ts';
import { basicCredential, staticCredentials } from '../../src/oci/credentials.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { ManifestCache } from '../../src/pipeline/manifest-cache.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { attachLegacyAttestation, attachLegacySignature } from '../../src/sign/legacy-tag.ts';
import { signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { startRegistry } from '../helpers/registry.ts';
import { countingDispatcher, criticalPath } from '../helpers/round-trips.ts';
import { keyTrustPolicyData, pushSignedModel, SLSA_V1, trainingProvenance } from '../helpers/signed-models.ts';
import { admissionReview } from '../helpers/webhook-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-round-trips-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const registry = await startRegistry({ t });
const tokenRegistry = await startRegistry({ t, auth: 'token' });
const credentials = staticCredentials(tokenRegistry.host, basicCredential(tokenRegistry.username, tokenRegistry.password));
const counted = countingDispatcher();
t.teardown(() => counted.dispatcher.close());
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Models are pushed with the default dispatcher (only the reviews' requests are counted). */
const storeOf = (repository: string) => openStore(parseReference(`${registry.host}/${repository}`));
const tokenStoreOf = (repository: string) => openStore(parseReference(`${tokenRegistry.host}/${repository}`), { registry: { credentials } });

async function legacyModel(repository: string, name: string, attest: boolean, tag?: string) {
  const store = storeOf(repository);
  const subject = await pushSignedModel(store, dir, name, privateKey, { signed: false, ...(tag === undefined ? {} : { tag }) });
  await attachLegacySignature(store, subject.digest, privateKey, { dockerReference: `${registry.host}/${repository}` });
  if (attest) {
    const bundle = signStatementBundle([{ name: 'model', digest: subject.digest }], SLSA_V1, trainingProvenance(), privateKey) as { dsseEnvelope?: { payloadType: string; payload: string; signatures: { sig: string; keyid?: string }[] } };
    await attachLegacyAttestation(store, subject.digest, bundle.dsseEnvelope!, SLSA_V1);
  }
  return subject;
}

const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: keyTrustPolicyData(publicKey) });
const reviewer = new AdmissionReviewer({
  deps: { stores: storeProvider({ registry: { dispatcher: counted.dispatcher, credentials } }), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, keyTlogThreshold: 0, timeoutMs: 20_000, evidenceCache: new EvidenceCache(), manifestCache: new ManifestCache() },
  modes: { default: 'enforce' },
  cache: new DecisionCache(),
  deadlineMs: 30_000, // a shared 2-core machine: the deadline is not what is tested here
});

interface Shape {
  readonly name: string;
  readonly location: () => Promise<string>;
  /** The fewest round trips the shape allows (each step needs the answer of the one before). */
  readonly depth: number;
  readonly decision: 'allow' | 'deny';
  /** Token requests made by the review, when checked. */
  readonly tokens?: number;
}

const at = (repository: string, digest: string): string => `oci://${registry.host}/${repository}@${digest}`;
const shapes: Shape[] = [
  {
    name: 'digest, signature and provenance as referrers (tag schema), repository not read before',
    location: async () => at('rt/referrers', (await pushSignedModel(storeOf('rt/referrers'), dir, 'referrers-1', privateKey)).digest),
    depth: 3, // manifest ‖ fallback index ‖ legacy tags → referrer manifests → bundle blobs
    decision: 'allow',
  },
  {
    name: 'digest, referrers, repository read before',
    location: async () => at('rt/referrers', (await pushSignedModel(storeOf('rt/referrers'), dir, 'referrers-2', privateKey)).digest),
    depth: 3,
    decision: 'allow',
  },
  {
    name: 'digest, legacy .sig and .att tags',
    location: async () => at('rt/legacy', (await legacyModel('rt/legacy', 'legacy-1', true)).digest),
    depth: 2, // manifest ‖ .sig ‖ .att ‖ fallback index → signature and attestation blobs
    decision: 'allow',
  },
  {
    name: 'digest, legacy .sig only (no attestation: denied for missing provenance)',
    location: async () => at('rt/legacy', (await legacyModel('rt/legacy', 'legacy-2', false)).digest),
    depth: 2,
    decision: 'deny',
  },
  {
    name: 'digest, unsigned',
    location: async () => at('rt/unsigned', (await pushSignedModel(storeOf('rt/unsigned'), dir, 'unsigned', privateKey, { signed: false })).digest),
    depth: 1, // manifest ‖ fallback index ‖ .sig ‖ .att, all absent
    decision: 'deny',
  },
  {
    name: 'tag, legacy .sig and .att tags',
    location: async () => (await legacyModel('rt/tagged-legacy', 'legacy-tag', true, 'v1'), `oci://${registry.host}/rt/tagged-legacy:v1`),
    depth: 3, // the tag → .sig ‖ .att ‖ fallback index → blobs (denied: TAG_NOT_PINNED)
    decision: 'deny',
  },
  {
    name: 'tag, referrers',
    location: async () => (await pushSignedModel(storeOf('rt/tagged'), dir, 'referrers-tag', privateKey, { tag: 'v1' }), `oci://${registry.host}/rt/tagged:v1`),
    // The tag → fallback index (named after the digest) → referrer manifests → blobs: four answers
    // each needed by the next; the default policy denies an unpinned location whatever they say.
    depth: 4,
    decision: 'deny',
  },
  {
    name: 'token registry, first contact: refused (401), token, then the three round trips',
    location: async () => `oci://${tokenRegistry.host}/rt/a@${(await pushSignedModel(tokenStoreOf('rt/a'), dir, 'token-1', privateKey)).digest}`,
    depth: 5,
    decision: 'allow',
  },
  {
    name: 'token registry, repository not read before: its token is fetched before the first request',
    location: async () => `oci://${tokenRegistry.host}/rt/b@${(await pushSignedModel(tokenStoreOf('rt/b'), dir, 'token-2', privateKey)).digest}`,
    depth: 4, // token → manifest ‖ fallback index ‖ legacy tags → referrer manifests → blobs
    decision: 'allow',
    tokens: 1,
  },
  {
    name: 'token registry, repository read before (token held)',
    location: async () => `oci://${tokenRegistry.host}/rt/b@${(await pushSignedModel(tokenStoreOf('rt/b'), dir, 'token-3', privateKey)).digest}`,
    depth: 3,
    decision: 'allow',
    tokens: 0,
  },
];

for (const [i, shape] of shapes.entries()) {
  t.test(shape.name, async (t) => {
    const location = await shape.location();
    counted.clear();
    const result = await reviewer.review(admissionReview('prod', location, `model-${i}`));
    const verdict = result.summary.verdicts[0];
    t.equal(verdict?.outcome, shape.decision, `${shape.decision}${verdict?.reasons[0] ? ` (${verdict.reasons[0].code})` : ''}`);
    t.equal(verdict?.cache, 'miss', 'decided afresh');
    const chain = criticalPath(counted.requests);
    t.equal(chain.length, shape.depth, `${chain.length} sequential round trips (${counted.requests.length} requests): ${chain.join(' → ')}`);
    if (shape.tokens !== undefined) t.equal(counted.requests.filter((r) => r.path.startsWith('/token')).length, shape.tokens, `${shape.tokens} token request(s)`);
  });
}
