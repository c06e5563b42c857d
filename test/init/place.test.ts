// Placement of a small raw layer (src/init/place.ts): the blob is read once, checked against the
// layer's size and SHA-256, and written from the same bytes to a new file (never over an existing
// one); a missing blob is `absent`, a blob of other content (shorter, longer, same size) is
// `mismatch` and nothing is written. Through a real registry and cache: reuse.test.ts.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { copyVerifiedSync, SMALL_BLOB_BYTES } from '../../src/init/place.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-place-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const bytes = Buffer.from('{"architectures":["LlamaForCausalLM"]}');
const hex = createHash('sha256').update(bytes).digest('hex');
const descriptor: Descriptor = { mediaType: 'application/vnd.cncf.model.weight.config.v1.raw', digest: `sha256:${hex}` as Descriptor['digest'], size: bytes.length };
const blob = join(dir, 'blob');
writeFileSync(blob, bytes);

t.test('copied: the same bytes at a new file (0644), its size and SHA-256 returned; never over an existing file', async (t) => {
  const to = join(dir, 'config.json');
  t.same(copyVerifiedSync(blob, to, descriptor), { kind: 'copied', placed: { size: bytes.length, sha256: hex } });
  t.same(readFileSync(to), bytes);
  t.equal(statSync(to).mode & 0o7000, 0, 'no special bits');
  t.notOk(statSync(to).mode & 0o111, 'not executable');
  t.throws(() => copyVerifiedSync(blob, to, descriptor), { code: 'EEXIST' }, 'an existing file is not overwritten');
});

t.test('absent and mismatch (shorter, longer, same size): nothing written', async (t) => {
  t.same(copyVerifiedSync(join(dir, 'missing'), join(dir, 'out-absent'), descriptor), { kind: 'absent' });
  t.notOk(existsSync(join(dir, 'out-absent')));
  const variants = { shorter: bytes.subarray(1), longer: Buffer.concat([bytes, Buffer.from(' ')]), 'same size': Buffer.from(bytes.toString().replace('Llama', 'Evil!')) };
  for (const [name, content] of Object.entries(variants)) {
    const changed = join(dir, `blob-${name}`);
    writeFileSync(changed, content);
    const to = join(dir, `out-${name}`);
    t.same(copyVerifiedSync(changed, to, descriptor), { kind: 'mismatch' }, name);
    t.notOk(existsSync(to), `${name}: nothing written`);
  }
});

t.test('only for SHA-256 blobs below SMALL_BLOB_BYTES', async (t) => {
  t.throws(() => copyVerifiedSync(blob, join(dir, 'big'), { ...descriptor, size: SMALL_BLOB_BYTES }), RangeError);
  t.throws(() => copyVerifiedSync(blob, join(dir, 'sha512'), { ...descriptor, digest: `sha512:${'0'.repeat(128)}` as Descriptor['digest'] }), RangeError);
});
