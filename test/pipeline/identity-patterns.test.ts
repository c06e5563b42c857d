// Keyless identity patterns end to end, against the loopback registry and a real local Fulcio/Rekor:
// models signed keyless by an acme workflow and by another organisation's, then `modelgate verify` with
// cosign's `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp` and policy data that
// trusts every acme workflow by anchored pattern (`signers.identityPatterns`). Unanchored and
// catastrophic patterns are refused when the data (or the flag) is read; a match a caller writes into
// the input itself is replaced by the engine's own.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { compileDataIdentityPatterns, markIdentityPatterns } from '../../src/policy/identity-patterns.ts';
import { buildPolicyInput } from '../../src/policy/input.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO, runCli, type CliResult } from '../helpers/run-cli.ts';
import { startSigstoreServices } from '../helpers/sigstore-services.ts';

const ACME = 'https://github.com/acme/train/.github/workflows/release.yml@refs/heads/main';
const EVIL = 'https://github.com/acme-evil/train/.github/workflows/release.yml@refs/heads/main';
const ACME_PATTERN = '^https://github\\.com/acme/[^/]+/\\.github/workflows/.+$';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-identity-patterns-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const services = await startSigstoreServices();
t.teardown(() => services.close());
const registry = await startRegistry({ t });
const root = join(dir, 'trusted_root.json');
writeFileSync(root, services.trustedRootJson);
const issuerPattern = `^${services.issuer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;

function env(token?: string): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['SIGSTORE_ID_TOKEN', 'MODELGATE_FULCIO_URL', 'MODELGATE_REKOR_URL', 'MODELGATE_TSA_URL']) delete e[name];
  if (token !== undefined) e.SIGSTORE_ID_TOKEN = token;
  return e;
}

/** Push a one-file model and sign it keyless as `san`; returns the pinned reference. */
async function signedModel(name: string, san: string): Promise<string> {
  const model = join(dir, name);
  mkdirSync(model);
  writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(512, name));
  const pushed = await runCli(['push', model, `oci://${registry.host}/models/${name}:v1`], { env: env() });
  if (pushed.code !== 0) throw new Error(pushed.stderr);
  const pinned = `oci://${registry.host}/models/${name}@${pushed.stdout.trim()}`;
  const signed = await runCli(['sign', pinned, '--fulcio-url', services.fulcioUrl, '--rekor-url', services.rekorUrl], { env: env(services.token(san)) });
  if (signed.code !== 0) throw new Error(signed.stderr);
  return pinned;
}

const defaults = JSON.parse(readFileSync(join(REPO, 'policies/data.json'), 'utf8')).modelgate_config;
function data(name: string, signers: object): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ modelgate_config: { ...defaults, signers: { ...defaults.signers, ...signers }, provenance: { ...defaults.provenance, required: false } } }));
  return path;
}
const byPattern = data('pattern', { identityPatterns: { [services.issuer]: { [ACME_PATTERN]: {} } } });
const noPattern = data('none', {});

const [acme, evil] = await Promise.all([signedModel('acme', ACME), signedModel('evil', EVIL)]);

const regexpFlags = ['--certificate-identity-regexp', '^https://github\\.com/.+$', '--certificate-oidc-issuer-regexp', issuerPattern];
function verify(reference: string, dataPath: string, flags: readonly string[] = regexpFlags): Promise<CliResult> {
  return runCli(['verify', reference, '--data', dataPath, ...flags, '--trusted-root', root, '--output', 'json'], { env: env() });
}
const codes = (r: CliResult): string[] => ((JSON.parse(r.stdout) as { reasons?: { code: string }[] }).reasons ?? []).map((x) => x.code).sort();

t.test('verify: signatures checked by pattern, trusted by a data pattern', async (t) => {
  const [allowed, untrusted, otherOrg, exactOnly] = await Promise.all([
    verify(acme, byPattern),
    verify(acme, noPattern),
    verify(evil, byPattern),
    verify(acme, byPattern, ['--certificate-identity', EVIL, '--certificate-oidc-issuer', services.issuer]),
  ]);
  t.equal(allowed.code, 0, `an acme workflow, matched by both patterns, is allowed (${allowed.stdout} ${allowed.stderr})`);
  t.equal(untrusted.code, 1, 'verified by the flag pattern, but no data entry trusts it');
  t.same(codes(untrusted), ['UNTRUSTED_SIGNATURE']);
  t.equal(otherOrg.code, 1, 'acme-evil verifies under the flag pattern but the data pattern (acme/ only) does not match it');
  t.same(codes(otherOrg), ['UNTRUSTED_SIGNATURE']);
  t.equal(exactOnly.code, 1, 'without a pattern flag the acme signature cannot be verified at all');
  t.same(codes(exactOnly), ['UNTRUSTED_SIGNATURE'], 'a signature exists but verifies under no configured signer: not UNSIGNED');
});

t.test('verify-signatures: cosign-style regexp flags', async (t) => {
  const run = (san: string): Promise<CliResult> =>
    runCli(['verify-signatures', acme, '--certificate-identity-regexp', san, '--certificate-oidc-issuer-regexp', issuerPattern, '--trusted-root', root, '--output', 'json'], { env: env() });
  const [match, noMatch] = await Promise.all([run(ACME_PATTERN), run('^https://github\\.com/other/.+$')]);
  t.equal(match.code, 0, match.stderr);
  t.not(noMatch.code, 0, 'a pattern the SAN does not match verifies nothing');
  t.match(noMatch.stdout, /is not the required pattern \^https:\/\/github\\\\?\.com\/other/);
});

t.test('unanchored and catastrophic patterns are refused when read', async (t) => {
  const unanchored = data('unanchored', { identityPatterns: { [services.issuer]: { 'https://github\\.com/acme/': {} } } });
  const catastrophic = data('catastrophic', { identityPatterns: { [services.issuer]: { '^(https://github\\.com/acme/.+)+$': {} } } });
  const [a, b, flag] = await Promise.all([
    verify(acme, unanchored),
    verify(acme, catastrophic),
    verify(acme, byPattern, ['--certificate-identity-regexp', 'github\\.com/acme', '--certificate-oidc-issuer-regexp', issuerPattern]),
  ]);
  t.equal(a.code, 2);
  t.match(a.stderr, /DATA_INVALID: /);
  t.ok(a.stderr.includes(`unanchored.json: policy data signers.identityPatterns[${JSON.stringify(services.issuer)}]: identity pattern ${JSON.stringify('https://github\\.com/acme/')} is not anchored`), a.stderr);
  t.equal(b.code, 2);
  t.match(b.stderr, /DATA_INVALID: .*may backtrack catastrophically/);
  t.equal(flag.code, 2);
  t.ok(flag.stderr.includes(`USAGE: --certificate-identity-regexp: identity pattern ${JSON.stringify('github\\.com/acme')} is not anchored`), flag.stderr);
});

t.test('the engine, not the caller, says which data pattern a SAN matches', async (t) => {
  const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: JSON.parse(readFileSync(byPattern, 'utf8')) });
  const digest = digestOf('model');
  const input = (san: string, claimed?: string[]): unknown => {
    const built = buildPolicyInput({
      artifact: { uri: `oci://registry.acme.dev/models/m@${digest}`, verifiedDigest: digest },
      signatures: [{ signer: { method: 'keyless', san, issuer: services.issuer }, subjectDigest: digest }],
      context: { mode: 'cli', time: new Date(0) },
    });
    return claimed === undefined ? built : { ...built, signatures: built.signatures.map((s) => ({ ...s, identityPatterns: claimed })) };
  };
  t.equal(engine.evaluate(input(ACME)).allow, true, 'matched once at load, marked per input');
  t.equal(engine.evaluate(input(EVIL, [ACME_PATTERN])).allow, false, 'a claimed match is replaced');
  t.equal(engine.evaluate(input('https://github.com/acme/train/.github/workflows/x.yml@refs/heads/main\nhttps://evil')).allow, false, 'the whole SAN must match');
  // Dataset signers (input.datasets[].signers) are marked the same way.
  const withDataset = (san: string): unknown => {
    const built = input(ACME) as Record<string, unknown>;
    const signer = (built.signatures as unknown[])[0] as Record<string, unknown>;
    return { ...built, datasets: [{ uri: 'oci://r/d', digest: digest, status: 'verified', reason: null, artifactType: null, signers: [{ ...signer, san }], unverifiedSignatures: 0 }] };
  };
  const marked = (value: unknown): unknown => (markIdentityPatterns(value, compileDataIdentityPatterns(engine.data)) as { datasets: Array<{ signers: Array<{ identityPatterns?: string[] }> }> }).datasets[0]!.signers[0]!.identityPatterns;
  t.same(marked(withDataset(ACME)), [ACME_PATTERN]);
  t.same(marked(withDataset(EVIL)) ?? [], [], 'no match: nothing marked');
});
