// A restart over a published DEST (a real registry, the library `initModel`): DEST is reused only when
// every file still matches the receipt and the receipt matches the verified manifest; a changed,
// deleted or added file, or a receipt edited to match a changed raw layer, is taken out and published
// again from the cache. Published files are copies: writing through DEST never reaches the node cache.
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BlobCache } from '../../src/init/cache.ts';
import { initModel, type InitDeps } from '../../src/init/pull.ts';
import { RECEIPT_SCHEMA } from '../../src/init/receipt.ts';
import { ModelPackMediaType } from '../../src/modelpack/spec.ts';
import { KEYS_ONLY_TRUST, storeProvider } from '../../src/pipeline/deps.ts';
import { DEFAULT_BUNDLE_DIR } from '../../src/policy/bundle.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { initFixture, sha256, tar } from './fixtures.ts';

const { dir, publicKey, dataPath, pushArtifact, uriOf } = await initFixture(t);

const weights = Buffer.alloc(256 * 1024, 'w');
const model = await pushArtifact('reuse', [
  { mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: weights, filepath: 'model.safetensors' },
  { mediaType: 'application/vnd.cncf.model.weight.config.v1.tar', bytes: tar([{ name: 'tokenizer/tokenizer.json', body: Buffer.from('{"vocab":{}}') }, { name: 'tokenizer/current.json', type: '2', linkname: 'tokenizer.json' }]) },
]);

const engine = await PolicyEngine.load(DEFAULT_BUNDLE_DIR, { data: JSON.parse(readFileSync(dataPath, 'utf8')) as unknown });
const events: Array<Record<string, unknown>> = [];
const cache = new BlobCache(join(dir, 'cache'));
const deps: InitDeps = {
  pipeline: { stores: storeProvider({ registry: { timeoutMs: 5000 } }), trust: KEYS_ONLY_TRUST, signers: { keys: [publicKey], identities: [] }, engine, timeoutMs: 5000 },
  cache,
  log: (e) => events.push(e),
};
const dest = join(dir, 'models');
const receiptPath = join(dest, '.modelgate', 'receipt.json');

async function restart(): Promise<{ reused: boolean | undefined; refused: Record<string, unknown> | undefined }> {
  events.length = 0;
  const outcome = await initModel(uriOf(model.manifest), dest, deps);
  if (outcome.kind !== 'published') throw new Error(`refused: ${JSON.stringify(outcome.reasons)}`);
  return { reused: outcome.reused, refused: events.find((e) => e.event === 'reuse-refused') };
}

t.test('the receipt is typed and versioned, with every file, its size and SHA-256', async (t) => {
  const first = await initModel(uriOf(model.manifest), dest, deps);
  t.match(first, { kind: 'published', reused: false });
  const receipt = JSON.parse(readFileSync(receiptPath, 'utf8')) as Record<string, unknown>;
  t.equal(receipt.schema, RECEIPT_SCHEMA);
  t.equal(receipt.cached, true);
  t.same(receipt.files, [
    { path: 'model.safetensors', size: weights.length, sha256: sha256(weights).slice(7) },
    { path: 'tokenizer/tokenizer.json', size: 12, sha256: createHash('sha256').update('{"vocab":{}}').digest('hex') },
  ]);
  t.same(receipt.symlinks, [{ path: 'tokenizer/current.json', target: 'tokenizer.json' }]);
  t.match(await restart(), { reused: true, refused: undefined }, 'unchanged: reused');
  t.ok(events.some((e) => e.event === 'reuse' && e.verified === 're-hashed'));
});

t.test('a published raw file is a copy: writing it through DEST leaves the cache blob intact', async (t) => {
  const blob = cache.blobPath(model.layers[0]!.digest);
  chmodSync(join(dest, 'model.safetensors'), 0o644);
  writeFileSync(join(dest, 'model.safetensors'), Buffer.alloc(weights.length, 'X'));
  t.equal(sha256(readFileSync(blob)), model.layers[0]!.digest, 'the cache still holds the verified blob');
  const again = await restart();
  t.equal(again.reused, false, 'changed bytes (same size) are not reused');
  t.match(again.refused, { reason: /model\.safetensors changed/ });
  t.same(readFileSync(join(dest, 'model.safetensors')), weights, 'DEST repaired');
});

t.test('a changed, deleted or added file, a changed symlink or an invalid receipt: published again, never reused', async (t) => {
  const cases: Array<{ name: string; change: () => void; reason: RegExp }> = [
    { name: 'tar file changed, same size', change: () => writeFileSync(join(dest, 'tokenizer/tokenizer.json'), '{"vocab":{X}'), reason: /tokenizer\/tokenizer\.json changed/ },
    { name: 'file deleted', change: () => rmSync(join(dest, 'tokenizer/tokenizer.json')), reason: /tokenizer\/tokenizer\.json is missing/ },
    { name: 'file added', change: () => writeFileSync(join(dest, 'extra.py'), 'import os'), reason: /extra\.py was added/ },
    { name: 'file grown', change: () => appendFileSync(join(dest, 'model.safetensors'), 'x'), reason: /model\.safetensors changed size/ },
    {
      name: 'symlink retargeted',
      change: () => {
        rmSync(join(dest, 'tokenizer/current.json'));
        writeFileSync(join(dest, 'tokenizer/current.json'), '');
      },
      reason: /current\.json was added|symlink/,
    },
    {
      name: 'raw file changed and its receipt entry edited to match',
      change: () => {
        const forged = Buffer.alloc(weights.length, 'F');
        writeFileSync(join(dest, 'model.safetensors'), forged);
        const receipt = JSON.parse(readFileSync(receiptPath, 'utf8')) as { files: Array<{ path: string; sha256: string }> };
        receipt.files[0]!.sha256 = sha256(forged).slice(7);
        writeFileSync(receiptPath, JSON.stringify(receipt));
      },
      reason: /is not layer sha256:/,
    },
    {
      name: 'receipt of an older version',
      change: () => {
        const receipt = JSON.parse(readFileSync(receiptPath, 'utf8')) as Record<string, unknown>;
        delete receipt.schema;
        writeFileSync(receiptPath, JSON.stringify(receipt));
      },
      reason: /receipt is not valid: schema/,
    },
  ];
  for (const c of cases) {
    c.change();
    const again = await restart();
    t.equal(again.reused, false, `${c.name}: not reused`);
    t.match(again.refused, { reason: c.reason }, `${c.name}: the reason is logged`);
    t.same(readFileSync(join(dest, 'model.safetensors')), weights, `${c.name}: DEST holds the verified model again`);
    t.equal(readFileSync(join(dest, 'tokenizer/tokenizer.json'), 'utf8'), '{"vocab":{}}');
    t.notOk(existsSync(join(dest, 'extra.py')), `${c.name}: nothing foreign left`);
    t.match(await restart(), { reused: true }, `${c.name}: the repaired DEST is reused on the next restart`);
  }
});

t.test('a cached blob changed behind its record (record rewritten to match size, mtime, inode): dropped and downloaded again, never published', async (t) => {
  const digest = model.layers[0]!.digest;
  const blob = cache.blobPath(digest);
  writeFileSync(blob, Buffer.alloc(weights.length, 'T')); // same size, same inode
  const record = join(cache.root, 'records', 'sha256', `${digest.slice('sha256:'.length)}.json`);
  const st = statSync(blob);
  writeFileSync(record, JSON.stringify({ ...(JSON.parse(readFileSync(record, 'utf8')) as object), size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }));
  const other = join(dir, 'models-after-tamper');
  events.length = 0;
  const outcome = await initModel(uriOf(model.manifest), other, deps);
  t.match(outcome, { kind: 'published', reused: false });
  t.same(readFileSync(join(other, 'model.safetensors')), weights, 'the verified bytes are published');
  t.match(events.find((e) => e.event === 'layer' && e.digest === digest), { cached: false }, 'the blob was downloaded again');
  t.equal(sha256(readFileSync(blob)), digest, 'the cache holds the verified blob again');
});

t.test('a large cached blob changed behind its record: refused before publication (DIGEST_MISMATCH, exit 1) and dropped, so the retry downloads it', async (t) => {
  const big = Buffer.alloc(1536 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  const large = await pushArtifact('reuse-large', [{ mediaType: ModelPackMediaType.WEIGHT_RAW, bytes: big, filepath: 'model.safetensors' }]);
  const first = join(dir, 'models-large-1');
  t.match(await initModel(uriOf(large.manifest), first, deps), { kind: 'published' });
  const digest = large.layers[0]!.digest;
  const blob = cache.blobPath(digest);
  writeFileSync(blob, Buffer.alloc(big.length, 'T'));
  const record = join(cache.root, 'records', 'sha256', `${digest.slice('sha256:'.length)}.json`);
  const st = statSync(blob);
  writeFileSync(record, JSON.stringify({ ...(JSON.parse(readFileSync(record, 'utf8')) as object), size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }));
  const second = join(dir, 'models-large-2');
  const refused = await initModel(uriOf(large.manifest), second, deps);
  t.match(refused, { kind: 'refused', exitCode: 1, reasons: [{ code: 'DIGEST_MISMATCH', message: /copy "model\.safetensors" does not hash to it/ }] });
  t.notOk(existsSync(second), 'nothing published');
  t.notOk(existsSync(blob), 'the changed blob is dropped from the cache');
  t.match(await initModel(uriOf(large.manifest), second, deps), { kind: 'published' }, 'the retry downloads it again');
  t.same(readFileSync(join(second, 'model.safetensors')), big);
});
