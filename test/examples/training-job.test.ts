// examples/training-job: README section 3 end to end against the test registry — dataset manifest,
// signature, attestation and push; attest run of the example's training script; push, sign, attach
// provenance and evaluation; then `modelgate verify` with the policy data the script writes, from a
// work directory outside the modelgate checkout. Run twice against the same registry: the second run
// is allowed too (no earlier evidence in its way). README section 3 is the script's transcript: its
// `$ modelgate …` lines are the ones the script prints (run ids and digests aside).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startRegistry } from '../helpers/registry.ts';
import { REPO } from '../helpers/run-cli.ts';

t.setTimeout(600_000);
const registry = await startRegistry({ t });
const dir = mkdtempSync(join(tmpdir(), 'modelgate-training-job-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function example(work: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // What `npm run example:training -- REGISTRY WORK_DIR` runs once built (the PATH npm test gives: Node 24 first).
    execFile('bash', [join(REPO, 'examples/training-job/run.sh'), registry.host, work], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** `$ modelgate …` lines with the run's own values replaced, to compare with the README transcript. */
const normalise = (lines: string[]): string[] =>
  lines.map((l) => l.replace(/oci:\/\/[^/\s]+\/runs\/[a-z0-9-]+\//g, 'oci://REGISTRY/').replace(/sha256:[0-9a-f]{64}/g, 'sha256:…'));

let firstCommands: string[] = [];
for (const attempt of ['first run', 're-run against the same registry']) {
  t.test(`${attempt}: trained, signed, pushed, attested, and allowed by the policy data it wrote`, async (t) => {
    const work = join(dir, attempt === 'first run' ? 'one' : 'two');
    const run = await example(work);
    t.equal(run.code, 0, run.stderr + run.stdout);
    t.match(run.stdout, /^VERDICT +allow$/m);
    t.notMatch(run.stdout, /SOURCE_NOT_ALLOWLISTED/, 'the source is recorded and allowlisted, outside the modelgate checkout');
    t.match(run.stdout, /verified +referrer attestation https:\/\/slsa\.dev\/provenance\/v1/);
    t.match(run.stdout, /verified +referrer attestation https:\/\/in-toto\.io\/attestation\/test-result\/v0\.1/);
    const metrics = JSON.parse(readFileSync(join(work, 'model/metrics.json'), 'utf8')) as { trainAccuracy: number };
    t.ok(metrics.trainAccuracy >= 0.9, 'the example model meets the threshold the policy data sets');
    t.ok(existsSync(join(work, 'model.provenance.sigstore.json')));
    const commands = normalise(run.stderr.split('\n').filter((l) => l.startsWith('$ ')));
    if (attempt === 'first run') firstCommands = commands;
    else t.same(commands, firstCommands, 'the same commands');
    t.ok(commands.length >= 10);
  });
}

t.test('README section 3 is the transcript of the example', async (t) => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### 3. Sign and push a model from a training job'), readme.indexOf('### 4. '));
  const shown = normalise(section.split('\n').filter((l) => l.startsWith('$ ')));
  t.same(shown, firstCommands, 'every command the README shows, in order, is one the example runs');
});
