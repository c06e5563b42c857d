// `modelgate attest attach --predicate BUNDLE` re-signs only what verifies, through the CLI against the
// loopback registry: the `attest run` provenance bundle is refused when tampered with or signed by another
// key than the one it must verify under (PREDICATE_UNVERIFIED), and when its subjects are not exactly the
// files of the pushed model (ATTACH_SUBJECT_MISMATCH, naming the files); it is attached when it verifies
// (under the signing key by default, or --predicate-key) and names exactly the model's files.
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { digestOf, parseDigest } from '../../src/oci/digest.ts';
import { MediaType } from '../../src/oci/manifest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { startRegistry } from '../helpers/registry.ts';
import { REPO, runCli } from '../helpers/run-cli.ts';
import { writeSourceCheckout } from '../helpers/source-checkout.ts';

const NODE = join(REPO, 'node_modules/.bin/node');
const BUILDER = 'https://ci.acme.dev/builders/gpu-pool@v1';
const dir = mkdtempSync(join(tmpdir(), 'modelgate-attach-verify-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function writeKeys(name: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, `${name}.key`), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, `${name}.pub`), publicKey.export({ type: 'spki', format: 'pem' }));
  return { key: join(dir, `${name}.key`), pub: join(dir, `${name}.pub`) };
}

t.test('attest attach verifies the predicate bundle and matches provenance to the model files', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  const signer = writeKeys('signer');
  const other = writeKeys('other');
  const source = writeSourceCheckout(dir, 'b'.repeat(40), 'https://github.com/acme/train');
  const out = join(dir, 'out');
  const train = "const fs=require('fs');fs.mkdirSync('out/tok',{recursive:true});fs.writeFileSync('out/model.safetensors','weights');fs.writeFileSync('out/config.json','{}');fs.writeFileSync('out/tok/vocab.txt','a b')";
  const ran = await runCli(['attest', 'run', '--outputs', out, '--key', signer.key, '--builder-id', BUILDER, '--source', source, '--', NODE, '-e', train], { cwd: dir });
  t.equal(ran.code, 0, ran.stderr);
  const bundlePath = ran.stdout.trim();

  // The same files, and a model whose files differ: one changed, one missing, one extra.
  const other_out = join(dir, 'other-out');
  cpSync(out, other_out, { recursive: true });
  writeFileSync(join(other_out, 'model.safetensors'), 'other weights');
  unlinkSync(join(other_out, 'config.json'));
  writeFileSync(join(other_out, 'extra.bin'), 'x');
  const [pushed, pushedOther] = await Promise.all([
    runCli(['push', out, `oci://${registry.host}/models/m:v1`]),
    runCli(['push', other_out, `oci://${registry.host}/models/other:v1`]),
  ]);
  t.equal(pushed.code, 0, pushed.stderr);
  t.equal(pushedOther.code, 0, pushedOther.stderr);
  const modelDigest = parseDigest(pushed.stdout.trim());
  const otherDigest = parseDigest(pushedOther.stdout.trim());
  const pinned = `oci://${registry.host}/models/m@${modelDigest}`;
  const pinnedOther = `oci://${registry.host}/models/other@${otherDigest}`;

  // Tampered: the payload names another digest for model.safetensors; the signature no longer covers it.
  const bundle = JSON.parse(readFileSync(bundlePath, 'utf8'));
  const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
  statement.subject.find((s: { name: string }) => s.name === 'model.safetensors').digest.sha256 = digestOf('other weights').slice(7);
  const tamperedPath = join(dir, 'tampered.sigstore.json');
  writeFileSync(tamperedPath, JSON.stringify({ ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') } }));

  const barePath = join(dir, 'bare-predicate.json');
  writeFileSync(barePath, '{"note":"not a bundle"}');
  const [tampered, wrongKey, wrongPredicateKey, otherFiles, bareWithKey] = await Promise.all([
    runCli(['attest', 'attach', pinned, '--predicate', tamperedPath, '--key', signer.key]),
    runCli(['attest', 'attach', pinned, '--predicate', bundlePath, '--key', other.key]),
    runCli(['attest', 'attach', pinned, '--predicate', bundlePath, '--key', signer.key, '--predicate-key', other.pub]),
    runCli(['attest', 'attach', pinnedOther, '--predicate', bundlePath, '--key', signer.key]),
    runCli(['attest', 'attach', pinned, '--predicate', barePath, '--type', 'custom', '--key', signer.key, '--predicate-key', signer.pub]),
  ]);
  t.equal(bareWithKey.code, 2, '--predicate-key with a bare predicate (nothing to verify) is a usage error');
  t.match(bareWithKey.stderr, /USAGE: --predicate-key \/ --predicate-certificate-\* verify a Sigstore bundle, but .*bare-predicate\.json is a bare predicate/);
  t.equal(tampered.code, 2, 'a tampered bundle is refused');
  t.match(tampered.stderr, /PREDICATE_UNVERIFIED: predicate bundle .*tampered\.sigstore\.json does not verify under the signing key/);
  t.equal(wrongKey.code, 2, 'a bundle signed by another key than the signing key is refused');
  t.match(wrongKey.stderr, /PREDICATE_UNVERIFIED: .* does not verify under the signing key/);
  t.equal(wrongPredicateKey.code, 2, 'a bundle not signed by --predicate-key is refused');
  t.match(wrongPredicateKey.stderr, /PREDICATE_UNVERIFIED: .* does not verify under --predicate-key .*other\.pub/);
  t.equal(otherFiles.code, 2, 'provenance about other files is refused');
  t.match(otherFiles.stderr, /ATTACH_SUBJECT_MISMATCH: the provenance's subjects are not the files of .*models\/other@sha256:[0-9a-f]{64} — different content: model\.safetensors; in the provenance, not in the model: config\.json; in the model, not in the provenance: extra\.bin/);
  for (const refused of [tampered, wrongKey, wrongPredicateKey, otherFiles, bareWithKey]) t.equal(refused.stdout, '', 'nothing printed on stdout');
  const storeOf = (repository: string): RegistryStore => new RegistryStore({ registry: registry.host, repository });
  t.same(await storeOf('models/m').listReferrers(modelDigest), [], 'nothing attached to the model');
  t.same(await storeOf('models/other').listReferrers(otherDigest), [], 'nothing attached to the other model');

  // The happy paths: verified under the signing key (default), or under --predicate-key with another signing key.
  // One writer at a time: two processes rewriting the referrers tag-schema index at once can lose an entry.
  const byDefault = await runCli(['attest', 'attach', pinned, '--predicate', bundlePath, '--key', signer.key]);
  const byPredicateKey = await runCli(['attest', 'attach', pinned, '--predicate', bundlePath, '--key', other.key, '--predicate-key', signer.pub]);
  t.equal(byDefault.code, 0, byDefault.stderr);
  t.equal(byPredicateKey.code, 0, byPredicateKey.stderr);
  const referrers = await storeOf('models/m').listReferrers(modelDigest);
  t.equal(referrers.length, 2, 'both attestations attached');
  const layer = (await storeOf('models/m').fetchManifest(referrers[0]!.digest)).manifest;
  if (layer.kind !== 'manifest') throw new Error('expected a referrer manifest');
  const attached = JSON.parse((await storeOf('models/m').fetchBlob(layer.layers[0]!)).toString('utf8'));
  const attachedStatement = JSON.parse(Buffer.from(attached.dsseEnvelope.payload, 'base64').toString('utf8'));
  t.same(attachedStatement.subject, [{ name: `${registry.host}/models/m`, digest: { sha256: modelDigest.slice(7) } }], 're-signed about the pushed manifest');
  t.same(attachedStatement.predicate, JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')).predicate, 'the verified predicate, unchanged');
});

t.test('a model with a tar layer cannot be matched file by file: refused naming the layer', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  const signer = writeKeys('tar-signer');
  const source = writeSourceCheckout(join(dir, 'tar'), 'c'.repeat(40), 'https://github.com/acme/train');
  const out = join(dir, 'tar-out');
  const ran = await runCli(['attest', 'run', '--outputs', out, '--key', signer.key, '--builder-id', BUILDER, '--source', source, '--', NODE, '-e', `require('fs').mkdirSync(${JSON.stringify(out)});require('fs').writeFileSync(${JSON.stringify(join(out, 'w.bin'))},'w')`], { cwd: dir });
  t.equal(ran.code, 0, ran.stderr);
  const store = new RegistryStore({ registry: registry.host, repository: 'models/tar' });
  const tar = await store.pushBlob({ kind: 'bytes', bytes: Buffer.alloc(1024), mediaType: MediaType.OCI_LAYER_TAR });
  const config = await store.pushBlob({ kind: 'bytes', bytes: Buffer.from('{}'), mediaType: MediaType.OCI_EMPTY });
  const manifest = { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config, layers: [{ ...tar, annotations: { 'org.opencontainers.image.title': 'w.bin' } }] };
  const pushed = await store.pushManifest(Buffer.from(JSON.stringify(manifest)), MediaType.OCI_MANIFEST);
  const refused = await runCli(['attest', 'attach', `oci://${registry.host}/models/tar@${pushed.digest}`, '--predicate', ran.stdout.trim(), '--key', signer.key]);
  t.equal(refused.code, 2);
  t.match(refused.stderr, new RegExp(`ATTACH_SUBJECT_MISMATCH: .* has layers that are not single files with a path.*${tar.digest} \\(${MediaType.OCI_LAYER_TAR.replace(/[.+]/g, '\\$&')}, w\\.bin\\)`));
});
