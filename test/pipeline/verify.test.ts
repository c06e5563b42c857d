// The one verification pipeline end to end against a real registry: ModelPack models pushed, signed
// (key-signed DSSE bundle referrers, cosign v3 shape) and attested (SLSA v1 provenance with a source,
// builder and dataset), then `modelgate verify` run as a subprocess: allow for the good artifact and a
// distinct deny code for each way it can be wrong; a registry that is down is "unavailable", never allow.
// In-process: incomplete evidence discovery (5xx on the referrers listing) fails closed as transient,
// k-of-n over keys and identities, and the evidence cache.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import type { ArtifactStore } from '../../src/oci/store.ts';
import { pushModelDirectory } from '../../src/modelpack/pack.ts';
import { decideArtifact, exitCodeOf, type PipelineDeps } from '../../src/pipeline/decide.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { EvidenceCache } from '../../src/pipeline/evidence-cache.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { keyId } from '../../src/sigstore/keys.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { startRegistry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';

const SLSA_V1 = 'https://slsa.dev/provenance/v1';
const BUILDER = 'https://ci.acme.dev/trainer@v1';
const SOURCE = 'https://github.com/acme/train';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const DATASET = 'https://data.acme.dev/reviews-v3.tar';
const DATASET_HEX = 'd'.repeat(64);

const dir = mkdtempSync(join(tmpdir(), 'modelgate-verify-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject; pubPath: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pubPath = join(dir, `key-${keyId(publicKey).slice(0, 12)}.pub`);
  writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privateKey, publicKey, pubPath };
}

function provenance(opts: { builder?: string; dataset?: string } = {}): unknown {
  return {
    buildDefinition: {
      buildType: 'https://modelgate.dev/buildtypes/train/v1',
      externalParameters: { config: 'configs/llama-ft.yaml' },
      resolvedDependencies: [
        { uri: `git+${SOURCE}@refs/heads/main`, digest: { gitCommit: COMMIT } },
        { uri: opts.dataset ?? DATASET, digest: { sha256: DATASET_HEX }, annotations: { 'modelgate.dev/kind': 'dataset' } },
      ],
    },
    runDetails: { builder: { id: opts.builder ?? BUILDER }, metadata: { invocationId: 'run-42' } },
  };
}

function policyData(trustedKeys: readonly KeyObject[], extra: { revoked?: readonly string[]; threshold?: number; identities?: Record<string, Record<string, object>> } = {}): unknown {
  return {
    modelgate_config: {
      signers: { threshold: extra.threshold ?? 1, keys: Object.fromEntries(trustedKeys.map((k) => [`sha256:${keyId(k)}`, {}])), identities: extra.identities ?? {} },
      provenance: { required: true, builders: { [BUILDER]: {} }, buildTypes: {} },
      sources: { repositories: { [SOURCE]: {} } },
      datasets: { [DATASET]: { digests: { [`sha256:${DATASET_HEX}`]: {} } } },
      containers: { digests: {}, repositories: {} },
      revoked: { digests: Object.fromEntries((extra.revoked ?? []).map((d) => [d, {}])), keys: {}, identities: {} },
      evaluation: { required: false, thresholds: {} },
      modelSignature: { required: false },
      unverifiable: { allowed: {} },
      exceptions: {},
    },
  };
}

async function pushModel(store: ArtifactStore, name: string, tag?: string): Promise<Descriptor> {
  const modelDir = join(dir, 'models', name);
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], name }));
  writeFileSync(join(modelDir, 'model.safetensors'), Buffer.alloc(4096, name));
  writeFileSync(join(modelDir, 'README.md'), `# ${name}\n`);
  const built = await pushModelDirectory(store, modelDir, { name, ...(tag === undefined ? {} : { tag }) });
  return built.manifest.descriptor;
}

async function signAndAttest(store: ArtifactStore, subject: Descriptor, opts: { signer?: KeyObject; attester?: KeyObject; predicate?: unknown }): Promise<void> {
  if (opts.signer) await attachBundle(store, subject, signStatementBundle([{ digest: subject.digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, opts.signer));
  if (opts.attester) await attachBundle(store, subject, signStatementBundle([{ name: 'model', digest: subject.digest }], SLSA_V1, opts.predicate ?? provenance(), opts.attester));
}

// ---------------------------------------------------------------------------------------------
// Fixtures, built once: one registry, one repository, one model per case.

const registry = await startRegistry({ t });
const repo = `${registry.host}/models/llama`;
const store = openStore(parseReference(repo));
const trusted = keyPair();
const other = keyPair();

const good = await pushModel(store, 'good', 'v1');
await signAndAttest(store, good, { signer: trusted.privateKey, attester: trusted.privateKey });
const unsigned = await pushModel(store, 'unsigned');
const wrongSigner = await pushModel(store, 'wrong-signer');
await signAndAttest(store, wrongSigner, { signer: other.privateKey, attester: other.privateKey });
const badBuilder = await pushModel(store, 'bad-builder');
await signAndAttest(store, badBuilder, { signer: trusted.privateKey, attester: trusted.privateKey, predicate: provenance({ builder: 'https://evil.example/builder' }) });
const badDataset = await pushModel(store, 'bad-dataset');
await signAndAttest(store, badDataset, { signer: trusted.privateKey, attester: trusted.privateKey, predicate: provenance({ dataset: 'https://data.evil.example/scraped.tar' }) });
const noProvenance = await pushModel(store, 'no-provenance');
await signAndAttest(store, noProvenance, { signer: trusted.privateKey });

const dataPath = join(dir, 'data.json');
writeFileSync(dataPath, JSON.stringify(policyData([trusted.publicKey])));
const revokedDataPath = join(dir, 'data-revoked.json');
writeFileSync(revokedDataPath, JSON.stringify(policyData([trusted.publicKey], { revoked: [good.digest] })));

const pinned = (d: Descriptor): string => `oci://${repo}@${d.digest}`;

interface VerifyJson {
  outcome: string;
  allow: boolean;
  digest: string | null;
  reasons?: { code: string; message: string }[];
  transient?: boolean;
  failure?: { code: string; message: string };
  evidence?: { signers: string[]; predicateTypes: string[]; items: { status: string; kind: string; signer: string | null }[] } | null;
}

async function verify(reference: string, data = dataPath, extra: readonly string[] = []): Promise<{ code: number; json: VerifyJson; stderr: string }> {
  const { code, stdout, stderr } = await runCli(['verify', reference, '--data', data, '--key', trusted.pubPath, '--key', other.pubPath, '--output', 'json', ...extra]);
  let json: VerifyJson;
  try {
    json = JSON.parse(stdout) as VerifyJson;
  } catch {
    throw new Error(`verify ${reference} printed no JSON (exit ${code}): ${stdout}\n${stderr}`);
  }
  return { code, json, stderr };
}

const codes = (json: VerifyJson): string[] => (json.reasons ?? []).map((r) => r.code).sort();

t.test('modelgate verify: allow, and one distinct deny code per defect', async (t) => {
  // Subprocesses in small batches: the machine is shared.
  const cases: Array<{ name: string; ref: string; data?: string; exit: number; codes: string[] }> = [
    { name: 'signed and attested', ref: pinned(good), exit: 0, codes: [] },
    { name: 'unsigned', ref: pinned(unsigned), exit: 1, codes: ['MISSING_PROVENANCE', 'UNSIGNED'] },
    { name: 'signed by another key', ref: pinned(wrongSigner), exit: 1, codes: ['PROVENANCE_SIGNER_UNTRUSTED', 'UNTRUSTED_SIGNATURE'] },
    { name: 'tag not pinned', ref: `oci://${repo}:v1`, exit: 1, codes: ['TAG_NOT_PINNED'] },
    { name: 'untrusted builder', ref: pinned(badBuilder), exit: 1, codes: ['UNTRUSTED_BUILDER'] },
    { name: 'dataset not allowlisted', ref: pinned(badDataset), exit: 1, codes: ['DATASET_NOT_ALLOWLISTED'] },
    { name: 'revoked digest', ref: pinned(good), data: revokedDataPath, exit: 1, codes: ['REVOKED_DIGEST'] },
    { name: 'missing provenance', ref: pinned(noProvenance), exit: 1, codes: ['MISSING_PROVENANCE'] },
  ];
  const results: Array<Awaited<ReturnType<typeof verify>>> = [];
  for (let i = 0; i < cases.length; i += 4) {
    results.push(...(await Promise.all(cases.slice(i, i + 4).map((c) => verify(c.ref, c.data)))));
  }
  for (const [i, c] of cases.entries()) {
    const { code, json, stderr } = results[i]!;
    t.equal(code, c.exit, `${c.name}: exit ${c.exit} (${stderr.trim()})`);
    t.equal(json.outcome, c.exit === 0 ? 'allow' : 'deny', `${c.name}: outcome`);
    t.same(codes(json), c.codes, `${c.name}: deny codes`);
  }
  const denials = cases.filter((c) => c.exit === 1).map((c) => c.codes.join(','));
  t.equal(new Set(denials).size, denials.length, 'every defect is told apart by its deny codes');

  const allow = results[0]!.json;
  t.equal(allow.digest, good.digest);
  t.same(allow.evidence!.signers, [`key sha256:${keyId(trusted.publicKey)}`]);
  t.same(allow.evidence!.predicateTypes, [SLSA_V1]);
  t.same(allow.evidence!.items.map((i) => [i.kind, i.status]).sort(), [['attestation', 'verified'], ['signature', 'verified']]);

  const tag = results[3]!.json;
  t.equal(tag.digest, good.digest, 'the tag was resolved once, to the digest');
  t.match(tag.reasons![0]!.message, `not pinned by digest (use @sha256:...; tags can be moved); it resolves to ${good.digest} now`);

  const wrong = results[2]!.json;
  t.same(wrong.evidence!.signers, [`key sha256:${keyId(other.publicKey)}`], 'the other key verified, and the policy refused it');
});

t.test('modelgate verify: table output', async (t) => {
  const table = await runCli(['verify', pinned(good), '--data', dataPath, '--key', trusted.pubPath]);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^VERDICT\s+allow$/m);
  t.match(table.stdout, new RegExp(`^digest\\s+${good.digest}$`, 'm'));
  t.match(table.stdout, /^evidence\s+verified\s+referrer attestation https:\/\/slsa\.dev\/provenance\/v1/m);
  t.match(table.stdout, /^bundle\s+sha256:[0-9a-f]{64}$/m);
});

t.test('modelgate verify: a registry that is down is "unavailable" (exit 3), never allow', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const { code, json, stderr } = await verify(`oci://127.0.0.1:${port}/models/llama@${good.digest}`, dataPath, ['--timeout', '2000']);
  t.equal(code, 3, stderr);
  t.equal(json.outcome, 'unavailable');
  t.equal(json.transient, true);
  t.equal(json.failure!.code, 'NETWORK');
  t.equal(json.allow, false);
});

t.test('decideArtifact in process: incomplete discovery fails closed; k of n; evidence cache', async (t) => {
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: policyData([trusted.publicKey]) });
  const deps = (extra: Partial<PipelineDeps> = {}): PipelineDeps => ({
    stores: storeProvider(),
    trust: KEYS_ONLY_TRUST,
    signers: { keys: [trusted.publicKey, other.publicKey], identities: [] },
    engine,
    keyTlogThreshold: 0,
    timeoutMs: 5000,
    ...extra,
  });
  const allowed = await decideArtifact(pinned(good), { mode: 'admission' }, deps());
  t.equal(allowed.outcome, 'allow');

  // The referrers listing answers 503 (through a fault proxy): evidence may be missing, so no decision.
  const proxy = await startFaultProxy({ upstream: registry.url, rules: [{ method: 'GET', path: /\/referrers\/|\/manifests\/sha256-[0-9a-f]{64}$/, fault: { kind: 'status', status: 503 } }] });
  t.teardown(() => proxy.stop());
  const faulty = await decideArtifact(`oci://${proxy.host}/models/llama@${good.digest}`, { mode: 'init' }, deps());
  t.equal(faulty.outcome, 'unavailable');
  if (faulty.outcome === 'unavailable') {
    t.equal(faulty.transient, true);
    t.equal(faulty.failure.code, 'REGISTRY_ERROR');
    t.equal(exitCodeOf(faulty), 3);
  }

  // k of n: two trusted keys required, one signed.
  const twoOfTwo = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: policyData([trusted.publicKey, other.publicKey], { threshold: 2 }) });
  const insufficient = await decideArtifact(pinned(good), { mode: 'cli' }, deps({ engine: twoOfTwo }));
  t.equal(insufficient.outcome, 'deny');
  if (insufficient.outcome === 'deny') t.same(insufficient.decision.reasons.map((r) => r.code), ['INSUFFICIENT_SIGNATURES']);
  await attachBundle(store, good, signStatementBundle([{ digest: good.digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, other.privateKey));
  const cache = new EvidenceCache();
  const both = await decideArtifact(pinned(good), { mode: 'cli' }, deps({ engine: twoOfTwo, evidenceCache: cache }));
  t.equal(both.outcome, 'allow', 'two distinct trusted keys signed');
  if (both.outcome === 'allow') t.equal(both.evidence!.signers.length, 2);
  t.equal(cache.size, 1);
  // A cached entry is reused (same repository, digest, trust and signers): no evidence discovery.
  let listings = 0;
  const inner = storeProvider();
  const counting = (ref: Parameters<typeof inner>[0]): ArtifactStore => {
    const real = inner(ref);
    return new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'listReferrers') listings++;
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  const again = await decideArtifact(pinned(good), { mode: 'cli' }, deps({ engine: twoOfTwo, evidenceCache: cache, stores: counting }));
  t.equal(again.outcome, 'allow');
  t.equal(listings, 0, 'evidence came from the cache');
  const withIdentity = { keys: [trusted.publicKey, other.publicKey], identities: [{ san: 'ci@acme.dev', issuer: 'https://accounts.acme.dev' }] };
  t.equal((await decideArtifact(pinned(good), { mode: 'cli' }, deps({ engine: twoOfTwo, stores: counting, signers: withIdentity }))).outcome, 'allow');
  t.equal(listings, 1, 'without the cache, evidence is discovered once for both signer passes');
  // A digest the registry does not have: unavailable, permanent (exit 4).
  const missing = await decideArtifact(`oci://${repo}@sha256:${'0'.repeat(64)}`, { mode: 'init' }, deps());
  t.equal(missing.outcome, 'unavailable');
  if (missing.outcome === 'unavailable') t.same([missing.transient, missing.failure.code, exitCodeOf(missing)], [false, 'NOT_FOUND', 4]);
  // Evidence by a key that is not configured cannot be verified: it is never trusted, but the model is
  // not reported as unsigned either (UNTRUSTED_SIGNATURE, with the count of such signatures).
  const unknownKey = await decideArtifact(pinned(wrongSigner), { mode: 'cli' }, deps({ signers: { keys: [trusted.publicKey], identities: [] } }));
  t.equal(unknownKey.outcome, 'deny');
  if (unknownKey.outcome === 'deny') {
    t.same(unknownKey.decision.reasons.map((r) => r.code).sort(), ['MISSING_PROVENANCE', 'UNTRUSTED_SIGNATURE']);
    t.match(unknownKey.decision.reasons.find((r) => r.code === 'UNTRUSTED_SIGNATURE')?.message, /: 1 signature found, 1 verifies under no configured signer key or identity$/);
    t.same(unknownKey.evidence!.items.map((i) => [i.status, i.error?.code]), [['failed', 'SIGNATURE'], ['failed', 'SIGNATURE']]);
  }
  // Locations other than OCI go to the policy as unverifiable.
  const s3 = await decideArtifact('s3://bucket/models/llama', { mode: 'admission' }, deps());
  t.equal(s3.outcome, 'deny');
  if (s3.outcome === 'deny') t.same(s3.decision.reasons.map((r) => r.code), ['UNVERIFIABLE_LOCATION']);
  const bad = await decideArtifact('oci://UPPER/Case', { mode: 'admission' }, deps());
  t.equal(bad.outcome, 'invalid');
  if (bad.outcome === 'invalid') t.equal(bad.failure.code, 'BAD_REFERENCE');
  // Keyless identities are verified as their own signer policies: a key bundle never matches one.
  const identityOnly = await decideArtifact(pinned(good), { mode: 'cli' }, deps({ signers: { keys: [], identities: [{ san: 'ci@acme.dev', issuer: 'https://accounts.acme.dev' }] } }));
  t.equal(identityOnly.outcome, 'deny');
  if (identityOnly.outcome === 'deny') t.ok(identityOnly.decision.reasons.some((r) => r.code === 'UNTRUSTED_SIGNATURE'));
});
