// The renderers of `modelgate explain` on a synthetic report (no registry): hostile strings are escaped
// in HTML (every field kind: reference, reasons, lineage, predicate JSON, evidence errors) and made
// printable in the terminal; colour follows the TTY and NO_COLOR; unverified evidence is marked.
import t from 'tap';
import type { Digest } from '../../src/oci/digest.ts';
import { escapeHtml, renderHtml } from '../../src/explain/html.ts';
import { outlineOf } from '../../src/explain/outline.ts';
import { attestationView } from '../../src/explain/predicates.ts';
import { evidenceChecklist, policyDataView } from '../../src/explain/policy-data.ts';
import { buildExplainReport, EXPLAIN_REPORT_VERSION, type ExplainReport } from '../../src/explain/report.ts';
import { printable, renderTree, useColour } from '../../src/explain/tree.ts';

const EVIL = '<script>alert(1)</script>"\'&\u001b[2J\r';
const DIGEST = `sha256:${'ab'.repeat(32)}` as Digest;
const signer = { signer: { method: 'key' as const, keyId: `sha256:${'cd'.repeat(32)}`, san: null, issuer: null, oidc: {}, description: `key sha256:${'cd'.repeat(32)}` }, tlog: null, timestamps: [] };

const keyless = {
  signer: { method: 'keyless' as const, keyId: null, san: 'https://github.com/acme/data/.github/workflows/curate.yml@refs/heads/main', issuer: 'https://token.actions.githubusercontent.com', oidc: { sourceRepositoryUri: 'https://github.com/acme/data' }, description: 'curate.yml' },
  tlog: { logIndex: 42, integratedTime: '2026-11-01T10:00:00.000Z', logId: 'abc' },
  timestamps: [],
};
const datasetPredicate = {
  manifest: { mediaType: 'application/vnd.modelgate.dataset.manifest.v1+json', digest: DIGEST, merkleRoot: DIGEST, fileCount: 3, totalSize: 2048 },
  sources: [{ uri: `https://crawl.example/${EVIL}`, digest: { sha256: '00'.repeat(32) } }],
  curation: [{ kind: 'dedup', description: `minhash ${EVIL}`, tool: 'datatrove', parameters: { threshold: 0.8 } }],
  license: 'CC-BY-4.0',
};

function report(overrides: Partial<ExplainReport> = {}): ExplainReport {
  return {
    version: EXPLAIN_REPORT_VERSION,
    reference: `oci://r.example/m${EVIL}@${DIGEST}`,
    digest: DIGEST,
    generatedAt: '2026-11-26T00:00:00.000Z',
    verdict: { outcome: 'deny', allow: false, reasons: [{ code: 'NOT_SIGNED', message: `reason ${EVIL}` }], warnings: [], exceptions: [], failure: null, transient: null, policy: { name: 'p', bundleDigest: DIGEST, dataDigest: DIGEST }, variants: [] },
    artifact: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: null,
      size: 100,
      signed: false,
      config: null,
      model: null,
      files: [{ path: `weights${EVIL}.bin`, digest: DIGEST, size: 5, mediaType: 'x' }],
      lineage: [{ annotation: 'org.ml.training.code', label: 'training code', value: EVIL }],
      annotations: {},
    },
    signatures: [],
    attestations: [{ status: 'verified', predicateType: `https://example.com/${EVIL}`, ...signer, view: attestationView('https://example.com/p', { text: EVIL }) }],
    evidence: [{ status: 'failed', kind: 'attestation', source: 'referrer', manifestDigest: DIGEST, predicateType: `claimed${EVIL}`, signer: null, error: { code: 'SIGNATURE', message: EVIL } }],
    datasets: [
      {
        uri: 'oci://r.example/datasets/reviews',
        digest: DIGEST,
        status: 'verified',
        attestations: [{ status: 'verified', predicateType: 'https://modelgate.dev/dataset/v1', ...keyless, view: attestationView('https://modelgate.dev/dataset/v1', datasetPredicate) }],
        unverified: 1,
        failure: null,
      },
    ],
    problems: [],
    checkedSigners: [],
    checklist: [],
    policyData: null,
    ...overrides,
  };
}

t.test('escapeHtml', async (t) => {
  t.equal(escapeHtml(`<a href="x" title='y'>&amp;</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
});

t.test('html: every hostile string is escaped', async (t) => {
  const page = renderHtml(outlineOf(report()));
  t.notOk(/<script/i.test(page), 'no script element anywhere');
  const escapedCount = page.split('&lt;script&gt;alert(1)&lt;/script&gt;').length - 1;
  t.ok(escapedCount >= 6, `hostile text shown escaped in each place (${escapedCount})`);
  t.match(page, /<div class="verdict bad" id="verdict">DENY<\/div>/);
  t.match(page, /NOT signed: no verified signature/);
  t.match(page, /UNVERIFIED/);
});

t.test('tree: control characters made printable, colour only when asked', async (t) => {
  t.equal(printable('a\u001b[31mb\r\n\u009bc'), 'a\\x1b[31mb\\x0d\\x0a\\x9bc');
  const plain = renderTree(outlineOf(report()), { colour: false });
  t.notOk(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(plain), 'no control characters but newlines');
  t.match(plain, /verdict {2}✘ DENY/);
  t.match(plain, /NOT_SIGNED/);
  t.match(plain, /UNVERIFIED/);
  t.match(plain, /\\x1b\[2J\\x0d/);
  t.match(plain, /Dataset {2}✔ attested/);
  t.match(plain, /dedup +minhash/);
  t.match(plain, /CC-BY-4\.0/);
  t.match(plain, /Rekor #42 at 2026-11-01T10:00:00\.000Z/);
  t.match(plain, /1 dataset attestation\(s\) found that did not verify/);
  const coloured = renderTree(outlineOf(report()), { colour: true });
  t.match(coloured, /\u001b\[31m✘ DENY\u001b\[0m/);
  t.equal(useColour({ isTTY: true }, {}), true);
  t.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false);
  t.equal(useColour({ isTTY: true }, { NO_COLOR: '' }), true);
  t.equal(useColour({ isTTY: false }, {}), false);
  t.equal(useColour({}, {}), false);
});

t.test('predicate views', async (t) => {
  t.match(attestationView('https://slsa.dev/provenance/v1', { buildDefinition: 'nope' }), { kind: 'generic', note: /not readable as SLSA provenance/ });
  t.match(attestationView('https://in-toto.io/attestation/test-result/v0.1', { result: 'FAILED', failedTests: ['acc'], metrics: { acc: 0.5, bad: 'x' }, extra: 1 }), {
    kind: 'evaluation',
    result: 'FAILED',
    failedTests: ['acc'],
    metrics: { acc: 0.5 },
    other: { extra: 1 },
  });
  const big = attestationView('https://example.com/big', { blob: 'x'.repeat(100_000) });
  t.match(big, { kind: 'generic', truncated: true });
  t.equal(attestationView('x', 'not an object').kind, 'generic');
});

t.test('unavailable and non-OCI reports say what could not be known', async (t) => {
  const unavailable = renderTree(
    outlineOf(report({ verdict: { outcome: 'unavailable', allow: false, reasons: [], warnings: [], exceptions: [], failure: { code: 'TIMEOUT', message: 'registry slow' }, transient: true, policy: null, variants: [] }, artifact: null, attestations: [], datasets: [], evidence: [] })),
    { colour: false },
  );
  t.match(unavailable, /verdict {2}! UNAVAILABLE \(retry\)/);
  t.match(unavailable, /error +TIMEOUT: registry slow/);
  t.match(unavailable, /Evidence discovery did not complete/);
  const s3 = renderTree(outlineOf(report({ reference: 's3://bucket/model', digest: null, artifact: null, attestations: [], datasets: [], evidence: [] })), { colour: false });
  t.match(s3, /digest {3}-/);
  t.match(s3, /Not an OCI location/);
  t.notMatch(s3, /├─ Model/);
  const s3Report = buildExplainReport({
    reference: 's3://bucket/model',
    result: { outcome: 'deny', location: 's3://bucket/model', digest: null, decision: { allow: false, reasons: [{ code: 'UNVERIFIABLE_LOCATION', message: 'x' }], warnings: [], exceptions: [], policy: 'p', bundleDigest: DIGEST, dataDigest: DIGEST }, evidence: null, verified: null, manifest: null },
    checkedSigners: [],
    policyData: { modelgate_config: { signers: { keys: {}, identities: {} } } },
    now: new Date('2026-11-26T00:00:00Z'),
  });
  t.same([s3Report.checklist, s3Report.policyData], [[], null], 'no evidence checklist or data lookups for a location without evidence');
});

t.test('evaluation comparisons: parsed from modelgateEvaluation, shown without float noise', async (t) => {
  const predicate = {
    result: 'FAILED',
    passedTests: ['accuracy'],
    failedTests: ['f1'],
    metrics: { accuracy: 0.931, f1: 0.8 },
    modelgateEvaluation: {
      comparisons: [
        { metric: 'accuracy', result: 'PASSED', reason: 'within-tolerance', value: 0.931, reference: 0.93, difference: 0.0010000000000000009, allowed: 0.009300000000000001, tolerance: '1%' },
        { metric: 'f1', result: 'FAILED', reason: 'out-of-tolerance', value: 0.8, reference: 0.915, difference: 0.115, allowed: 0.00915, tolerance: '1%' },
      ],
    },
  };
  const view = attestationView('https://in-toto.io/attestation/test-result/v0.1', predicate);
  t.match(view, { kind: 'evaluation', result: 'FAILED', comparisons: [{ metric: 'accuracy', difference: 0.0010000000000000009 }, { metric: 'f1', result: 'FAILED' }], other: {} });
  t.notOk('modelgateEvaluation' in (view as { other: object }).other, 'an extension holding only comparisons is not repeated');
  const tree = renderTree(outlineOf(report({ attestations: [{ status: 'verified', predicateType: 'https://in-toto.io/attestation/test-result/v0.1', ...signer, view }] })), { colour: false });
  t.match(tree, /Evaluation — https:\/\/in-toto\.io\/attestation\/test-result\/v0\.1 {2}✘ verified · FAILED/);
  t.match(tree, /accuracy +0\.931 +0\.93 +0\.001 +0\.0093 \(1%\) +PASSED/);
  t.match(tree, /f1 +0\.8 +0\.915 +0\.115 +0\.00915 \(1%\) +FAILED/);
});

t.test('missing evidence is named explicitly: a signed model with no provenance, evaluation, dataset attestation or log time', async (t) => {
  const signed = { ...signer, signer: { ...signer.signer } };
  const checklist = evidenceChecklist({
    digest: DIGEST,
    signatures: [signed],
    attestations: [],
    datasets: [],
    evidence: [{ status: 'failed', kind: 'attestation', source: 'referrer', manifestDigest: DIGEST, predicateType: 'https://slsa.dev/provenance/v1', signer: null, error: { code: 'SIGNATURE', message: 'x' } }],
  });
  t.same(
    checklist.map((c) => [c.evidence, c.found, c.detail]),
    [
      ['signature', true, '1 verified'],
      ['SLSA provenance', false, 'not found (1 found that did not verify under the checked signers)'],
      ['evaluation', false, 'not found: no verified evaluation or test-result attestation'],
      ['dataset attestation', false, 'not found: no verified provenance names a dataset'],
      ['model signature (OMS)', false, 'not found next to the artifact (a model.sig inside the model is checked by modelgate init against the pulled files)'],
      ['transparency-log time', false, 'not found: the verified evidence has no transparency-log entry or RFC 3161 timestamp (signed by key only)'],
    ],
  );
  const data = { modelgate_config: { signers: { threshold: 2, keys: { [signer.signer.keyId]: { name: 'release' } }, identities: {} }, revoked: { keys: {}, identities: {} } } };
  const view = policyDataView(data, [signed, keyless], []);
  t.same(view, {
    signers: [
      { signer: signer.signer.description, listedAt: `signers.keys["${signer.signer.keyId}"]`, name: 'release', revoked: false },
      { signer: 'curate.yml', listedAt: null, name: null, revoked: false },
    ],
    threshold: 2,
    allowlists: [],
  });
  t.equal(policyDataView(undefined, [signed], []), null, 'no data in effect: nothing to show');
  const tree = renderTree(outlineOf(report({ checklist, policyData: view, signatures: [signed] })), { colour: false });
  t.match(tree, /├─ Evidence checklist {2}! 1 of 6 kinds found/);
  t.match(tree, /evaluation +NOT FOUND +not found: no verified evaluation/);
  t.match(tree, /dataset attestation +NOT FOUND/);
  t.match(tree, new RegExp(`release — key sha256:${'cd'.repeat(32)}`), 'the signer shown with its policy-data name');
  t.match(tree, /curate\.yml +- +not listed +NOT TRUSTED/);
  t.match(tree, /trusted signers required +2/);
  const html = renderHtml(outlineOf(report({ checklist, policyData: view })));
  t.ok(html.includes('NOT FOUND') && html.includes('Evidence checklist') && html.includes('Policy data applied'));
});

t.test('policy data view: allowlist entries met by verified provenance, prefixes for container repositories', async (t) => {
  const build = attestationView('https://slsa.dev/provenance/v1', {
    buildDefinition: {
      buildType: 'https://modelgate.dev/buildtypes/training-run/v1',
      externalParameters: {},
      resolvedDependencies: [
        { uri: 's3://acme-data/reviews', name: 'train', digest: { sha256: '11'.repeat(32) }, annotations: { 'modelgate.dev/kind': 'dataset' } },
        { uri: `oci://ghcr.io/acme/trainer@sha256:${'22'.repeat(32)}`, digest: { sha256: '22'.repeat(32) }, annotations: { 'modelgate.dev/kind': 'container' } },
      ],
    },
    runDetails: { builder: { id: 'https://builder.example/v1' } },
  });
  t.equal(build.kind, 'build', JSON.stringify(build));
  const data = {
    modelgate_config: {
      signers: { keys: {}, identities: {} },
      provenance: { builders: { 'https://builder.example/v1': { note: 'ours' } } },
      datasets: {},
      containers: { digests: {}, repositories: { 'ghcr.io/acme': {} } },
    },
  };
  const view = policyDataView(data, [], [{ status: 'verified', predicateType: 'https://slsa.dev/provenance/v1', ...signer, view: build }]);
  t.same(view?.allowlists, [
    { allowlist: 'provenance.builders', value: 'https://builder.example/v1', matched: 'https://builder.example/v1', entry: { note: 'ours' } },
    { allowlist: 'datasets', value: 's3://acme-data/reviews', matched: null, entry: null },
    { allowlist: 'containers.repositories', value: 'ghcr.io/acme/trainer', matched: 'ghcr.io/acme', entry: {} },
  ]);
  t.equal(view?.threshold, 1, 'threshold defaults to 1 as in the policy');
});
