// `modelgate explain` end to end against the loopback registry: a model signed, with SLSA provenance,
// a test-result evaluation and a stranger's attestation (test/explain/fixture.ts). The terminal tree
// names builder, dataset digest, commit and verdict; `-o json` has the documented shape; the HTML page
// escapes the hostile text planted in signed fields and renders in headless Chromium (screenshot
// decoded and checked for size, content and the verdict colour; DOM dump holds digest and verdict).
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { PNG } from 'pngjs';
import { startRegistry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';
import { BUILDER, COMMIT, DATASET_SOURCE, DATASET_URI, SIGNER_NAME, signedModel, TEST_RESULT } from './fixture.ts';

const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'modelgate-explain-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function chromium(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // A private profile per run: parallel test files must not share Chromium's singleton lock.
  const profile = mkdtempSync(join(dir, 'chromium-profile-'));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--disable-extensions', `--user-data-dir=${profile}`];
  return new Promise((resolve) => {
    execFile(CHROMIUM, [...flags, ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

t.test('explain a signed model with provenance and an evaluation', async (t) => {
  const registry = await startRegistry({ t });
  const model = await signedModel(t, dir, registry.host);
  const html = join(dir, 'report.html');
  const signer = ['--key', model.publicKey];
  // Two runs: the allow as tree + HTML page, the deny (same evidence, other policy data) as JSON.
  const [tree, json] = await Promise.all([
    runCli(['explain', model.pinned, '--data', model.allowData, ...signer, '--html', html]),
    runCli(['explain', model.pinned, '--data', model.denyData, ...signer, '-o', 'json']),
  ]);

  t.test('terminal tree', async (t) => {
    t.equal(tree.code, 0, tree.stderr);
    const out = tree.stdout;
    t.match(out, /^modelgate explain oci:\/\//);
    t.match(out, /verdict {2}✔ ALLOW/);
    for (const fact of [BUILDER, COMMIT, DATASET_URI, model.datasetDigest, model.digest, 'model.safetensors', 'accuracy', '0.931', TEST_RESULT, 'Compared with the reference evaluation']) t.ok(out.includes(fact), `tree shows ${fact}`);
    t.match(out, /├─ Build — SLSA provenance v1 {2}✔ verified/);
    t.match(out, /UNVERIFIED +attestation \(referrer\) +https:\/\/example\.com\/stranger\/v1 +SIGNATURE:/, 'the stranger attestation is marked unverified');
    t.notOk(out.includes('trust me'), 'contents of unverified evidence are not shown');
    t.match(out, /├─ Dataset {2}✔ attested/, 'the OCI dataset has a verified dataset attestation');
    for (const fact of [model.datasetRef, DATASET_SOURCE, 'dedup', 'CC-BY-4.0']) t.ok(out.includes(fact), `tree shows dataset fact ${fact}`);
    t.notOk(out.includes('\u001b'), 'no escape sequences when stdout is not a terminal');
    // For auditors: signer names from the policy data, the entries that decided, and what is missing.
    t.match(out, new RegExp(`${SIGNER_NAME} — key sha256:[0-9a-f]{64}`), 'the signer is named as the policy data names it');
    t.match(out, /├─ Evidence checklist {2}! 4 of 6 kinds found/);
    t.match(out, /model signature \(OMS\) +NOT FOUND +not found next to the artifact/);
    t.match(out, /transparency-log time +NOT FOUND +not found: the verified evidence has no transparency-log entry/);
    t.match(out, /evaluation +found +1 verified/);
    t.match(out, /dataset attestation +found +1 of 1 OCI dataset\(s\) attested/);
    t.match(out, /├─ Policy data applied/);
    t.ok(out.includes(`provenance.builders`) && out.includes('sources.repositories'), 'the allowlists looked up are named');
    t.match(out, new RegExp(`signers\\.keys\\["sha256:[0-9a-f]{64}"\\] +trusted`));
    t.match(out, /[├└]─ /);
  });

  t.test('json report of a deny: why, with the exit code of verify, and all the evidence', async (t) => {
    t.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout);
    t.equal(report.version, 'modelgate.dev/explain/v1');
    t.equal(report.digest, model.digest);
    t.match(report.verdict, { outcome: 'deny', allow: false, failure: null, policy: { name: String, bundleDigest: /^sha256:/, dataDigest: /^sha256:/ } });
    t.ok(report.verdict.reasons.some((r: { code: string }) => r.code === 'DATASET_DIGEST_MISMATCH'), JSON.stringify(report.verdict.reasons));
    t.match(report.artifact, { signed: true, model: { name: 'reviews', format: 'safetensors' }, files: [{ path: 'config.json' }, { path: 'model.safetensors', digest: /^sha256:/ }] });
    t.same(report.artifact.lineage.map((l: { label: string }) => l.label), ['dataset digest', 'training code', 'hyperparameters']);
    t.equal(report.signatures.length, 1);
    t.match(report.signatures[0], { signer: { method: 'key', keyId: /^sha256:/ }, tlog: null });
    const build = report.attestations.find((a: { predicateType: string }) => a.predicateType === 'https://slsa.dev/provenance/v1');
    t.match(build, {
      status: 'verified',
      signer: { method: 'key' },
      view: {
        kind: 'build',
        builderId: BUILDER,
        buildType: 'https://modelgate.dev/buildtypes/training-run/v1',
        source: { commit: COMMIT, ref: 'refs/heads/main' },
        lockfiles: [{ name: 'requirements.txt', role: 'lockfile' }],
        externalParameters: { seeds: ['7'], hyperparameters: { lr: 0.1, steps: 10 } },
        internalParameters: { exitCode: 0 },
      },
    });
    const datasets = build.view.datasets as { uri: string; digests: string[] }[];
    t.same(datasets.find((d) => d.uri === DATASET_URI)?.digests, [model.datasetDigest], 'the manifest-named dataset with its digest');
    t.same(datasets.find((d) => d.uri === model.datasetRef.split('@')[0])?.digests, [model.datasetRef.split('@')[1]], 'the OCI dataset with its artifact digest');
    const evaluation = report.attestations.find((a: { predicateType: string }) => a.predicateType === TEST_RESULT);
    t.match(report.datasets, [{ uri: model.datasetRef.split('@')[0], digest: model.datasetRef.split('@')[1], status: 'verified', unverified: 0, attestations: [{ view: { kind: 'dataset', license: 'CC-BY-4.0', sources: [{ uri: DATASET_SOURCE }], curation: [{ kind: 'dedup' }] } }] }]);
    t.match(evaluation, { view: { kind: 'evaluation', result: 'PASSED', passedTests: ['accuracy', 'f1'], failedTests: [], metrics: { accuracy: 0.931, f1: 0.912 } } });
    t.match(evaluation.view.comparisons, [{ metric: 'accuracy', result: 'PASSED', value: 0.931, reference: 0.93, tolerance: '1%' }, { metric: 'f1', result: 'PASSED', reference: 0.915 }]);
    t.equal(report.attestations.length, 2, 'the stranger attestation is not among the verified ones');
    t.same(
      report.evidence.map((e: { status: string; predicateType: string }) => `${e.status} ${e.predicateType}`).sort(),
      ['failed https://example.com/stranger/v1', 'verified https://in-toto.io/attestation/test-result/v0.1', 'verified https://sigstore.dev/cosign/sign/v1', 'verified https://slsa.dev/provenance/v1'],
    );
    t.match(report.evidence.find((e: { status: string }) => e.status === 'failed'), { error: { code: 'SIGNATURE' }, signer: null });
    t.same(
      report.checklist.map((c: { evidence: string; found: boolean }) => `${c.evidence}: ${c.found}`),
      ['signature: true', 'SLSA provenance: true', 'evaluation: true', 'dataset attestation: true', 'model signature (OMS): false', 'transparency-log time: false'],
    );
    t.match(report.policyData, { threshold: 1, signers: [{ signer: /^key sha256:/, name: SIGNER_NAME, listedAt: /^signers\.keys\["sha256:/, revoked: false }] });
    const entry = (allowlist: string, value: string) => report.policyData.allowlists.find((e: { allowlist: string; value: string }) => e.allowlist === allowlist && e.value === value);
    t.match(entry('provenance.builders', BUILDER), { matched: BUILDER, entry: {} });
    t.match(entry('datasets', DATASET_URI), { matched: DATASET_URI, entry: { digests: { [`sha256:${'0'.repeat(64)}`]: {} } } }, 'the dataset entry that denied, with its allowed digests');
  });

  t.test('html page: escaped, self-contained', async (t) => {
    const page = readFileSync(html, 'utf8');
    t.match(page, /^<!DOCTYPE html>/);
    t.notOk(/<script/i.test(page), 'no script element, not even from the planted <script>');
    t.notOk(page.includes('<img'), 'no planted element');
    // (inside the hyperparameters JSON, so its quotes are JSON-escaped too)
    t.ok(page.includes('&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;'), 'the hostile text is shown escaped');
    t.notOk(/\b(?:src|href)=["']?(?:https?:)?\/\//i.test(page), 'no external resources');
    t.match(page, /Content-Security-Policy" content="default-src 'none'/);
    t.ok(page.includes(model.digest));
  });

  t.test('html page renders in headless Chromium', async (t) => {
    // Never skipped: npm test's pretest step (scripts/test-prerequisites.ts) installs Chromium.
    t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (npm run test:prerequisites)`);
    const url = pathToFileURL(html).href;
    const screenshot = join(dir, 'report.png');
    const [shot, dom] = await Promise.all([chromium([`--screenshot=${screenshot}`, '--window-size=1200,1600', url]), chromium(['--dump-dom', url])]);
    t.equal(shot.code, 0, shot.stderr);
    // To look at the page: MODELGATE_EXPLAIN_SCREENSHOT=/tmp/explain.png npx tap test/explain/explain.test.ts
    if (process.env.MODELGATE_EXPLAIN_SCREENSHOT) {
      copyFileSync(screenshot, process.env.MODELGATE_EXPLAIN_SCREENSHOT);
      copyFileSync(html, `${process.env.MODELGATE_EXPLAIN_SCREENSHOT}.html`);
    }
    t.equal(dom.code, 0, dom.stderr);
    const png = PNG.sync.read(readFileSync(screenshot));
    t.equal(png.width, 1200);
    t.equal(png.height, 1600);
    let sum = 0;
    let sumSquares = 0;
    let verdictGreen = 0;
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
      const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      sum += luminance;
      sumSquares += luminance * luminance;
      if (colours.size < 5000) colours.add((r << 16) | (g << 8) | b);
      if (Math.abs(r - 0x1a) < 12 && Math.abs(g - 0x7f) < 12 && Math.abs(b - 0x37) < 12) verdictGreen += 1;
    }
    const pixels = png.width * png.height;
    const stddev = Math.sqrt(sumSquares / pixels - (sum / pixels) ** 2);
    t.ok(stddev > 20, `the page is not blank (luminance stddev ${stddev.toFixed(1)})`);
    t.ok(colours.size > 100, `text and colour were drawn (${colours.size} colours)`);
    t.ok(verdictGreen > 500, `the ALLOW badge is drawn in its green (${verdictGreen} pixels)`);
    t.match(dom.stdout, new RegExp(`<div class="digest mono" id="digest">${model.digest}</div>`));
    t.match(dom.stdout, /<div class="verdict ok" id="verdict">ALLOW<\/div>/);
    t.notOk(/<script/i.test(dom.stdout), 'the rendered DOM has no script element');
  });
});
