// `npm run release` (scripts/release.ts) into a temporary directory, then everything it signed is
// verified with `modelgate verify-bundle` under the release public key: the tarball and SBOM blob
// signatures, and the SLSA provenance against the tarball's sha256 (a statement subject), whose
// resolvedDependencies name this checkout's commit and package-lock.json digest. To stay well under a
// minute it packages the dist/ that `npm test` built (pretest) when it exists instead of compiling.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { list as listTar } from 'tar';
import { REPO, runCli, VECTORS } from '../helpers/run-cli.ts';

const NODE = join(REPO, 'node_modules/.bin/node');
const TRUSTED_ROOT = join(VECTORS, 'trust/public-good.trusted_root.json');
const out = mkdtempSync(join(tmpdir(), 'modelgate-release-'));
t.teardown(() => rmSync(out, { recursive: true, force: true }));

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

t.test('release builds, signs and attests; verify-bundle verifies all of it', async (t) => {
  const dist = join(REPO, 'dist');
  const args = [join(REPO, 'scripts/release.ts'), '--out', out, ...(existsSync(join(dist, 'cli/main.js')) ? ['--dist', dist] : [])];
  const env = { ...process.env, MODELGATE_RELEASE_KEY: '', MODELGATE_BUILDER_ID: '' };
  const release = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(NODE, args, { cwd: REPO, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }));
  });
  t.equal(release.code, 0, release.stderr);
  const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  const tarball = join(out, `modelgate-${version}.tgz`);
  const sbom = join(out, 'modelgate.cdx.json');
  const context = join(out, 'modelgate-image-context.tar');
  const pub = join(out, 'modelgate-release.pub');
  for (const file of [tarball, `${tarball}.sigstore.json`, `${tarball}.provenance.sigstore.json`, sbom, `${sbom}.sigstore.json`, context, `${context}.sigstore.json`, pub, join(out, 'SHA256SUMS')]) {
    t.ok(existsSync(file), `${file} written`);
  }
  t.notOk(readFileSync(join(out, 'SHA256SUMS'), 'utf8').includes('.key'), 'no private key published');

  const tarballDigest = sha256(tarball);
  const verify = (bundle: string, artifact: string) => runCli(['verify-bundle', '--bundle', bundle, '--key', pub, '--tlog-threshold', '0', '--trusted-root', TRUSTED_ROOT, artifact]);
  const [tarSig, sbomSig, contextSig, provenance, wrongSubject] = await Promise.all([
    verify(`${tarball}.sigstore.json`, tarball),
    verify(`${sbom}.sigstore.json`, sbom),
    verify(`${context}.sigstore.json`, context),
    verify(`${tarball}.provenance.sigstore.json`, `sha256:${tarballDigest}`),
    verify(`${tarball}.provenance.sigstore.json`, `sha256:${sha256(sbom)}`),
  ]);
  t.equal(tarSig.code, 0, `tarball signature: ${tarSig.stdout}${tarSig.stderr}`);
  t.equal(sbomSig.code, 0, `SBOM signature: ${sbomSig.stdout}${sbomSig.stderr}`);
  t.equal(contextSig.code, 0, `image context signature: ${contextSig.stdout}${contextSig.stderr}`);
  t.equal(provenance.code, 0, `provenance about the tarball digest: ${provenance.stdout}${provenance.stderr}`);
  t.equal(wrongSubject.code, 1, 'the provenance is not about another digest');

  // A changed tarball no longer verifies.
  const tampered = join(out, 'tampered.tgz');
  writeFileSync(tampered, Buffer.concat([readFileSync(tarball), Buffer.from([0])]));
  t.equal((await verify(`${tarball}.sigstore.json`, tampered)).code, 1, 'a modified tarball fails');

  const bundle = JSON.parse(readFileSync(`${tarball}.provenance.sigstore.json`, 'utf8'));
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
  t.equal(statement.predicateType, 'https://slsa.dev/provenance/v1');
  t.same(statement.subject.find((s: { name: string }) => s.name === `modelgate-${version}.tgz`)?.digest, { sha256: tarballDigest }, 'subject digest = sha256 of the tarball');
  const deps = statement.predicate.buildDefinition.resolvedDependencies as { name?: string; uri?: string; digest: Record<string, string> }[];
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  t.ok(deps.some((d) => d.digest.gitCommit === commit), `resolvedDependencies hold the commit ${commit}`);
  t.same(deps.find((d) => d.name === 'package-lock.json')?.digest, { sha256: sha256(join(REPO, 'package-lock.json')) }, 'and the package-lock.json digest');
  t.equal(statement.predicate.runDetails.builder.id, 'https://modelgate.dev/builders/local-release@v1');

  const bom = JSON.parse(readFileSync(sbom, 'utf8')) as { bomFormat: string; metadata: { component: { name: string } }; components: { name: string }[] };
  t.equal(bom.bomFormat, 'CycloneDX');
  t.equal(bom.metadata.component.name, 'modelgate');
  const names = new Set(bom.components.map((c) => c.name));
  t.ok(names.has('commander') && names.has('fastify'), 'production dependencies listed');
  t.notOk(names.has('tap') || names.has('typescript'), 'dev dependencies omitted');

  const entries: string[] = [];
  await listTar({ file: context, onReadEntry: (entry) => entries.push(entry.path) });
  t.ok(entries.includes('Dockerfile') && entries.includes('package-lock.json') && entries.includes('src/cli/main.ts'), 'image context holds the Dockerfile and what it copies');
  t.notOk(entries.some((e) => e.startsWith('node_modules/') || e.startsWith('test/')), 'and nothing else');
  const packed: string[] = [];
  await listTar({ file: tarball, onReadEntry: (entry) => packed.push(entry.path) });
  t.ok(packed.includes('package/dist/cli/main.js') && packed.includes('package/package.json'), 'npm tarball holds dist/ and package.json');
  t.ok(packed.includes('package/build/policy/policy.wasm') && packed.includes('package/build/policy/manifest.json'), 'npm tarball holds the compiled policy bundle (the default --policy)');
});
