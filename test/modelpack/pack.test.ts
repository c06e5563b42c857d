import t from 'tap';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCode } from '../../src/errors.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { LayoutStore } from '../../src/oci/layout.ts';
import { MediaType } from '../../src/oci/manifest.ts';
import { ModelPackError, pushModelDirectory, scanModelDirectory } from '../../src/modelpack/pack.ts';
import { FILEPATH_ANNOTATION, ModelPackMediaType, classifyModelFile } from '../../src/modelpack/spec.ts';

const WEIGHTS = Buffer.alloc(1024 * 1024 + 3, 9);

function modelTree() {
  return {
    'config.json': '{"hidden_size":8}',
    'model.safetensors': WEIGHTS,
    'tokenizer.json': '{}',
    'README.md': '# m\n',
    sub: { 'extra.bin': 'extra', 'train.py': 'print(1)\n' },
    '.git': { HEAD: 'ref: refs/heads/main\n' },
  };
}

t.test('classification follows the ModelPack kinds', async (t) => {
  t.equal(classifyModelFile('model.safetensors'), 'weight');
  t.equal(classifyModelFile('shards/model-00001-of-00002.gguf'), 'weight');
  t.equal(classifyModelFile('config.json'), 'weight.config');
  t.equal(classifyModelFile('tokenizer.model'), 'weight.config');
  t.equal(classifyModelFile('README.md'), 'doc');
  t.equal(classifyModelFile('LICENSE'), 'doc');
  t.equal(classifyModelFile('src/train.py'), 'code');
  t.equal(classifyModelFile('data/eval.parquet'), 'dataset');
});

t.test('scan hashes every regular file, sorted, skipping .git', async (t) => {
  const dir = t.testdir(modelTree());
  const files = await scanModelDirectory(dir);
  t.same(files.map((f) => f.path), ['README.md', 'config.json', 'model.safetensors', 'sub/extra.bin', 'sub/train.py', 'tokenizer.json']);
  const weights = files.find((f) => f.path === 'model.safetensors')!;
  t.equal(weights.digest, digestOf(WEIGHTS));
  t.equal(weights.size, WEIGHTS.byteLength);
  t.equal(weights.mediaType, ModelPackMediaType.WEIGHT_RAW);
});

t.test('symlinks, empty and missing directories are refused', async (t) => {
  const dir = t.testdir({ model: { 'a.bin': 'a' }, empty: {} });
  await symlink('/etc/passwd', join(dir, 'model/link.json'));
  const attempts: Array<[string, RegExp]> = [
    [join(dir, 'model'), /link\.json .* symbolic link/],
    [join(dir, 'empty'), /has no files/],
    [join(dir, 'missing'), /does not exist/],
  ];
  for (const [path, message] of attempts) {
    await t.rejects(scanModelDirectory(path), message);
    await scanModelDirectory(path).catch((err) => t.ok(hasCode(err, ModelPackError, 'BAD_MODEL_DIRECTORY'), `code for ${path}`));
  }
});

t.test('push builds a ModelPack manifest that reads back verified and is reproducible', async (t) => {
  const dir = t.testdir({ model: modelTree() });
  const store = new LayoutStore(join(dir, 'layout'), { create: true });
  const seen: string[] = [];
  const built = await pushModelDirectory(store, join(dir, 'model'), { name: 'm', version: '2', tag: 'v2', onLayer: (f) => seen.push(f.path) });
  t.equal(seen.length, 6);

  const fetched = await store.fetchManifest('v2');
  t.equal(fetched.descriptor.digest, built.manifest.descriptor.digest);
  t.same(fetched.bytes, built.manifest.bytes);
  const manifest = fetched.manifest;
  if (manifest.kind !== 'manifest') throw new Error('expected an image manifest');
  t.equal(manifest.mediaType, MediaType.OCI_MANIFEST);
  t.equal(manifest.artifactType, ModelPackMediaType.ARTIFACT);
  t.equal(manifest.config.mediaType, ModelPackMediaType.CONFIG);
  t.same(manifest.layers.map((l) => l.annotations?.[FILEPATH_ANNOTATION]), built.files.map((f) => f.path));
  const config = JSON.parse((await store.fetchBlob(manifest.config)).toString('utf8'));
  t.same(config, {
    descriptor: { name: 'm', version: '2' },
    config: { format: 'safetensors' },
    modelfs: { type: 'layers', diffIds: manifest.layers.map((l) => l.digest) },
  });
  for (const layer of manifest.layers) {
    const path = layer.annotations![FILEPATH_ANNOTATION]!;
    t.equal(layer.digest, built.files.find((f) => f.path === path)!.digest, `${path} layer digest = file digest`);
    t.ok(await store.hasBlob(layer.digest));
  }

  const again = await pushModelDirectory(new LayoutStore(join(dir, 'other'), { create: true }), join(dir, 'model'), { name: 'm', version: '2' });
  t.equal(again.manifest.descriptor.digest, built.manifest.descriptor.digest, 'same input, same digest');
  const dated = await pushModelDirectory(store, join(dir, 'model'), { name: 'm', version: '2', createdAt: '2026-01-01T00:00:00Z' });
  t.not(dated.manifest.descriptor.digest, built.manifest.descriptor.digest, 'createdAt changes the digest');
  await writeFile(join(dir, 'model/config.json'), '{"hidden_size":9}');
  const changed = await pushModelDirectory(store, join(dir, 'model'), { name: 'm', version: '2' });
  t.not(changed.manifest.descriptor.digest, built.manifest.descriptor.digest, 'changed content, new digest');
});
