// The one name rule (src/fs/entry-name.ts) at each of its callers: the init extractor (tar names,
// symlink targets), `push` (scanModelDirectory) and `dataset manifest` (listDatasetFiles). The raw
// layer file-path annotation is covered in init.test.ts (library refusals), through a real registry.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { listDatasetFiles } from '../../src/dataset/walk.ts';
import { entryNameProblem, escapeName } from '../../src/fs/entry-name.ts';
import { ExtractionScope, extractTar } from '../../src/init/extract.ts';
import { scanModelDirectory } from '../../src/modelpack/pack.ts';
import { tar, type TarEntry } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelgate-names-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('the rule: control characters, DEL, C1, non-UTF-8, empty, dot-dot, too long', async (t) => {
  for (const bad of ['weights\x01.bin', 'a/b\x7f', 'x\u0085y', 'tab\there', 'new\nline', 'bad\ufffd', 'lone\ud800', '', '.', './', 'a/../../b', '/abs', `${'a'.repeat(256)}`, `${'a/'.repeat(2100)}x`, `${'é'.repeat(128)}`]) {
    t.type(entryNameProblem(bad), 'string', `refused: ${escapeName(bad).slice(0, 40)}`);
  }
  for (const good of ['model.safetensors', 'a/b/c.json', './a//b', 'café/日本.txt', 'a'.repeat(255), 'with space and #%!.bin']) {
    t.equal(entryNameProblem(good), undefined, `accepted: ${good.slice(0, 40)}`);
  }
  t.equal(escapeName('weights\x01.bin'), '"weights\\x01.bin"');
  t.equal(escapeName('a\x9bb'), '"a\\x9bb"');
});

t.test('the extractor refuses each with UNSAFE_ENTRY and the escaped name; nothing is written', async (t) => {
  const attempt = async (entries: TarEntry[]): Promise<{ err: unknown; root: string }> => {
    const root = mkdtempSync(join(dir, 'x-'));
    const err = await extractTar(Readable.from([tar(entries)]), new ExtractionScope(root, 1 << 20), { compression: 'none', what: 'test' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { err, root };
  };
  t.match((await attempt([{ name: 'weights\x01.bin', body: Buffer.from('w') }])).err, { code: 'UNSAFE_ENTRY', message: /"weights\\x01\.bin" contains a control character/ });
  t.match((await attempt([{ name: 'dir\x1b[31m/x', body: Buffer.from('w') }])).err, { code: 'UNSAFE_ENTRY', message: /\\x1b/ });
  t.match((await attempt([{ name: 'latin1', nameBytes: Buffer.from([0x6d, 0xe9, 0x6c]), body: Buffer.from('w') }])).err, { code: 'UNSAFE_ENTRY', message: /not valid UTF-8/ });
  t.match((await attempt([{ name: 'link', type: '2', linkname: 'tar\x07get' }])).err, { code: 'UNSAFE_ENTRY', message: /symlink target "tar\\x07get" contains a control character/ });
  t.match((await attempt([{ name: '.', body: Buffer.from('w') }])).err, { code: 'UNSAFE_ENTRY', message: /names the destination itself/ });
  t.match((await attempt([{ name: 'a/./../../b', body: Buffer.from('w') }])).err, { code: 'UNSAFE_ENTRY', message: /"\.\."/ });
  t.equal((await attempt([{ name: 'ok/model.bin', body: Buffer.from('w') }])).err, undefined, 'an ordinary name is extracted');
});

t.test('push and dataset manifest walks refuse the same names, escaped', async (t) => {
  const model = join(dir, 'model');
  mkdirSync(join(model, 'sub'), { recursive: true });
  writeFileSync(join(model, 'config.json'), '{}');
  writeFileSync(join(model, 'sub', 'weights\x01.bin'), 'w');
  await t.rejects(scanModelDirectory(model), { code: 'BAD_MODEL_DIRECTORY', message: /"sub\/weights\\x01\.bin".*contains a control character/ });
  await t.rejects(listDatasetFiles(model), { code: 'BAD_PATH', message: /"sub\/weights\\x01\.bin": the name contains a control character/ });

  const latin = join(dir, 'latin');
  mkdirSync(latin);
  writeFileSync(Buffer.from(`${latin}/m\xe9l.bin`, 'latin1'), 'w');
  await t.rejects(scanModelDirectory(latin), { code: 'BAD_MODEL_DIRECTORY', message: /not valid UTF-8/ });
  await t.rejects(listDatasetFiles(latin), { code: 'BAD_PATH', message: /not valid UTF-8/ });
});
