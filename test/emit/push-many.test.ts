// `modelgate push` of a directory of many small files, through a recording proxy in front of the
// loopback registry: the pushed ModelPack is complete and correct (one layer per file, path and digest
// right, every blob served back verified), uploads run concurrently but bounded, blobs the registry
// already has are not uploaded again (only HEAD-checked), and a small file that is not what it was hashed
// as is refused before any upload starts; a progress line appears on stderr only when it is a terminal.
// Request counts, never timings, are asserted.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { digestOf } from '../../src/oci/digest.ts';
import { MediaType } from '../../src/oci/manifest.ts';
import { RegistryStore } from '../../src/oci/registry.ts';
import { FILEPATH_ANNOTATION } from '../../src/modelpack/spec.ts';
import { PUSH_CONCURRENCY } from '../../src/modelpack/pack.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { startRegistry } from '../helpers/registry.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';
import { REPO, runCli } from '../helpers/run-cli.ts';

const FILES = 300;
const NODE = join(REPO, 'node_modules/.bin/node');
const dir = mkdtempSync(join(tmpdir(), 'modelgate-push-many-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const model = join(dir, 'model');
const expected = new Map<string, string>(); // path → sha256 digest
for (let i = 0; i < FILES; i++) {
  const path = `shard-${String(i % 7)}/part-${String(i).padStart(4, '0')}.bin`;
  mkdirSync(join(model, `shard-${String(i % 7)}`), { recursive: true });
  const bytes = Buffer.alloc(1024, i % 251);
  bytes.writeUInt32BE(i, 0); // every file distinct
  writeFileSync(join(model, path), bytes);
  expected.set(path, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
}

const BLOB_UPLOAD = /\/blobs\/uploads\//;
const BLOB_HEAD = /\/blobs\/sha256:/;

/** The most requests matching `path` that were open at one moment (from arrival/finish events). */
function maxInFlight(requests: readonly { path: string; at: number; finishedAt: number | undefined }[], path: RegExp): number {
  const events: [number, number][] = [];
  for (const r of requests.filter((r) => path.test(r.path))) events.push([r.at, 1], [r.finishedAt ?? Number.POSITIVE_INFINITY, -1]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, delta] of events) most = Math.max(most, (open += delta));
  return most;
}

t.test('push of many small files: complete, concurrent, nothing uploaded twice', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  const proxy = await startFaultProxy({ upstream: registry.url });
  t.teardown(() => proxy.stop());

  const first = await runCli(['push', model, `oci://${proxy.host}/models/many:v1`]);
  t.equal(first.code, 0, first.stderr);
  const digest = first.stdout.trim();
  t.match(digest, /^sha256:[0-9a-f]{64}$/, 'stdout is the manifest digest only');
  t.equal(proxy.count('POST', BLOB_UPLOAD), FILES + 1, 'one upload per file, plus the config');
  t.equal(proxy.count('PUT', BLOB_UPLOAD), FILES + 1, 'each a single monolithic PUT');
  t.equal(proxy.count('PATCH'), 0, 'no chunked uploads for small files');
  const inFlight = maxInFlight(proxy.requests, BLOB_UPLOAD);
  t.ok(inFlight > 1 && inFlight <= 2 * PUSH_CONCURRENCY, `uploads overlap, bounded (at most ${inFlight} upload requests open at once)`);

  // Complete and correct: every file is one layer with its path and digest, and the registry serves it.
  const store = new RegistryStore({ registry: registry.host, repository: 'models/many' });
  const fetched = await store.fetchManifest(digest);
  if (fetched.manifest.kind !== 'manifest') throw new Error('expected an image manifest');
  const layers = fetched.manifest.layers;
  t.equal(layers.length, FILES);
  t.same(new Map(layers.map((l) => [l.annotations?.[FILEPATH_ANNOTATION], l.digest])), expected, 'layer paths and digests are the files');
  const contents = await Promise.all(layers.map((l) => store.fetchBlob(l)));
  t.ok(contents.every((bytes, i) => digestOf(bytes) === layers[i]!.digest && bytes.byteLength === 1024), 'every blob is served back, verified');
  const config = JSON.parse((await store.fetchBlob(fetched.manifest.config)).toString('utf8')) as { modelfs: { diffIds: string[] } };
  t.same(config.modelfs.diffIds, layers.map((l) => l.digest), 'config diffIds are the layer digests');

  // A second push of the same files (another tag): only existence checks, no blob uploaded again.
  proxy.clearRecords();
  const second = await runCli(['push', model, `oci://${proxy.host}/models/many:v2`]);
  t.equal(second.code, 0, second.stderr);
  t.equal(second.stdout.trim(), digest, 'same files, same manifest');
  t.equal(proxy.count('HEAD', BLOB_HEAD), FILES + 1, 'every blob HEAD-checked');
  t.equal(proxy.count('POST', BLOB_UPLOAD), 0, 'no blob uploaded again');
  t.equal(proxy.count('PUT', /\/manifests\/v2$/), 1, 'only the manifest is written');

  // One file changed: exactly its blob (and the new config) is uploaded.
  proxy.clearRecords();
  writeFileSync(join(model, 'shard-0/part-0000.bin'), 'changed');
  const third = await runCli(['push', model, `oci://${proxy.host}/models/many:v3`]);
  t.equal(third.code, 0, third.stderr);
  t.equal(proxy.count('POST', BLOB_UPLOAD), 2, 'the changed file and the new config only');

  // Progress: never on a pipe; on a terminal (util-linux `script` gives stderr a pty) a redrawn stderr
  // line, while stdout (redirected to a file) still holds the digest alone.
  for (const run of [first, second, third]) t.notMatch(run.stderr, /Pushing:/, 'no progress line when stderr is not a terminal');
  const transcript = join(dir, 'typescript');
  const stdoutFile = join(dir, 'stdout.txt');
  const command = `${NODE} ${join(REPO, 'src/cli/main.ts')} push ${model} oci://${proxy.host}/models/many:v4 > ${stdoutFile}`;
  const code = await new Promise<number | null>((resolve) => execFile('script', ['-qec', command, transcript], (err) => resolve(err === null ? 0 : (err.code as number | null))));
  t.equal(code, 0, readFileSync(transcript, 'utf8'));
  t.match(readFileSync(transcript, 'utf8'), new RegExp(`\\r\\x1b\\[KPushing: \\d+/${FILES} files, [\\d.]+/[\\d.]+ MiB stored`), 'a progress line on the terminal');
  t.equal(readFileSync(stdoutFile, 'utf8'), `${third.stdout.trim()}\n`, 'stdout: the digest alone');
});

t.test('a small file that is not what it was hashed as is refused before any upload', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  const proxy = await startFaultProxy({ upstream: registry.url });
  t.teardown(() => proxy.stop());
  const store = new RegistryStore({ registry: proxy.host, repository: 'models/changed' });
  const path = join(model, 'shard-1/part-0001.bin');
  const bytes = readFileSync(path);
  await rejectsWith(t, store.pushBlob({ kind: 'file', path, digest: digestOf('something else'), size: bytes.byteLength, mediaType: MediaType.OCI_LAYER_TAR }), ['DIGEST_MISMATCH'], 'changed content');
  await rejectsWith(t, store.pushBlob({ kind: 'file', path, digest: digestOf(bytes), size: bytes.byteLength + 1, mediaType: MediaType.OCI_LAYER_TAR }), ['SIZE_MISMATCH'], 'changed size');
  t.equal(proxy.count('POST', BLOB_UPLOAD), 0, 'no upload session was opened');
});
