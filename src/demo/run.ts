/**
 * The demo walk-through (`runDemo`): what modelgate does so far, on a generated model and OCI image
 * layouts under one output directory.
 *
 * Owns: the demo's narrative only; every step calls the real modules (`modelpack`, `LayoutStore`).
 * Each step prints what it did and what it proved; any broken expectation throws (exit code 1).
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve as resolvePath } from 'node:path';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { hasCode } from '../errors.ts';
import { digestOf } from '../oci/digest.ts';
import { LayoutStore } from '../oci/layout.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { parseReference } from '../oci/reference.ts';
import { openStore } from '../oci/open.ts';
import { FILEPATH_ANNOTATION, ModelPackMediaType } from '../modelpack/spec.ts';
import { pushModelDirectory } from '../modelpack/pack.ts';
import { writeDemoModel } from './model.ts';

const TAG = 'v1';

class DemoFailure extends Error {}

function expect(condition: boolean, what: string): void {
  if (!condition) throw new DemoFailure(`demo expectation failed: ${what}`);
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${bytes} B`;
}

function short(digest: string): string {
  return `${digest.slice(0, 19)}…`;
}

export async function runDemo(outDir: string, log: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<void> {
  const started = performance.now();
  const out = resolvePath(outDir);
  const show = (p: string) => relative(process.cwd(), p) || '.';
  const modelDir = join(out, 'model');
  const layoutDir = join(out, 'layout');
  const rebuiltDir = join(out, 'layout-rebuilt');
  const tamperedDir = join(out, 'layout-tampered');
  const pulledDir = join(out, 'pulled');
  for (const dir of [modelDir, layoutDir, rebuiltDir, tamperedDir, pulledDir]) await rm(dir, { recursive: true, force: true });

  log('modelgate demo: package a model as an OCI artifact, then read it back trusting nothing but digests');
  log('');

  // 1. A model directory.
  const names = await writeDemoModel(modelDir);
  log(`1. Generated a model directory ${show(modelDir)}/ (${names.join(', ')})`);

  // 2. Pack and push.
  const store = new LayoutStore(layoutDir, { create: true });
  const built = await pushModelDirectory(store, modelDir, { name: 'demo-model', version: '1.0.0', tag: TAG });
  log(`2. Pushed it as a CNCF ModelPack artifact into the OCI image layout ${show(layoutDir)}/, tag ${TAG}`);
  log(`     artifactType ${ModelPackMediaType.ARTIFACT}`);
  log(`     config       ${short(built.config.descriptor.digest)} ${built.config.descriptor.mediaType}`);
  const width = Math.max(...built.files.map((f) => f.path.length));
  for (const layer of built.layers) {
    log(`     layer        ${short(layer.digest)} ${mib(layer.size).padStart(8)}  ${(layer.annotations?.[FILEPATH_ANNOTATION] ?? '').padEnd(width)}  ${layer.mediaType}`);
  }
  log(`     manifest     ${built.manifest.descriptor.digest}`);
  for (const file of built.files) {
    expect(digestOf(await readFile(file.absolutePath)) === file.digest, `layer digest of ${file.path} is its file's SHA-256`);
  }
  log('   proved: each layer is one uncompressed file and its digest is the SHA-256 of that file');

  // 3. Resolve the tag through the generic reference → store path the CLI uses.
  const reference = parseReference(`oci-layout://${layoutDir}:${TAG}`);
  const reader = openStore(reference);
  expect(reference.kind === 'layout' && reference.tag === TAG, 'the reference parses as an OCI layout with the tag');
  const resolved = await reader.resolve(TAG);
  expect(resolved.digest === built.manifest.descriptor.digest, 'tag resolves to the pushed manifest');
  log(`3. Resolved oci-layout://${show(layoutDir)}:${TAG} → ${resolved.digest}`);
  log('   proved: the tag names exactly the manifest that was pushed; from here on only the digest is used');

  // 4. Fetch the manifest by digest.
  const fetched = await reader.fetchManifest(resolved.digest);
  expect(fetched.manifest.kind === 'manifest', 'the artifact is an image manifest');
  const manifest = fetched.manifest.kind === 'manifest' ? fetched.manifest : undefined;
  expect(manifest?.artifactType === ModelPackMediaType.ARTIFACT, 'artifactType is the ModelPack manifest type');
  const config = JSON.parse((await reader.fetchBlob(manifest!.config)).toString('utf8')) as { descriptor: { name: string }; modelfs: { diffIds: string[] } };
  expect(config.modelfs.diffIds.length === manifest!.layers.length, 'config lists one diffId per layer');
  log(`4. Fetched the manifest by digest (${fetched.bytes.byteLength} bytes) and its config (model "${config.descriptor.name}", ${config.modelfs.diffIds.length} layers)`);
  log('   proved: manifest and config bytes hash to the digests that name them');

  // 5. Pull every layer, verified while written, and compare with the originals.
  let total = 0;
  for (const layer of manifest!.layers) {
    const path = layer.annotations?.[FILEPATH_ANNOTATION];
    expect(path !== undefined && !path.startsWith('/') && !path.split('/').includes('..'), 'layer file path is relative and stays inside the target');
    const target = join(pulledDir, path!);
    await rm(target, { force: true });
    await mkdir(join(target, '..'), { recursive: true });
    await reader.downloadBlob(layer, target);
    const original = await readFile(join(modelDir, path!));
    expect(Buffer.compare(original, await readFile(target)) === 0, `${path} pulled byte-identical`);
    total += layer.size;
  }
  log(`5. Pulled ${manifest!.layers.length} layers (${mib(total)}) into ${show(pulledDir)}/, each hashed while written and renamed into place only once verified`);
  log('   proved: the pulled model is byte-identical to the one that was packed');

  // 6. Reproducibility.
  const rebuilt = await pushModelDirectory(new LayoutStore(rebuiltDir, { create: true }), modelDir, { name: 'demo-model', version: '1.0.0', tag: TAG });
  expect(rebuilt.manifest.descriptor.digest === built.manifest.descriptor.digest, 'rebuilding gives the same manifest digest');
  log(`6. Packed the same directory again into ${show(rebuiltDir)}/ → same manifest digest ${short(rebuilt.manifest.descriptor.digest)}`);
  log('   proved: packaging is deterministic, so a digest identifies the model content, not the build run');

  // 7. Tampering is detected.
  await cp(layoutDir, tamperedDir, { recursive: true });
  const tampered = new LayoutStore(tamperedDir);
  const weights = manifest!.layers.find((l: Descriptor) => l.mediaType === ModelPackMediaType.WEIGHT_RAW)!;
  const blobPath = tampered.blobPath(weights.digest);
  const bytes = await readFile(blobPath);
  bytes[bytes.byteLength >> 1]! ^= 0x01;
  await writeFile(blobPath, bytes);
  let refusal = '';
  try {
    await tampered.downloadBlob(weights, join(tamperedDir, 'should-not-exist'));
  } catch (err) {
    if (!hasCode(err, 'DIGEST_MISMATCH')) throw err;
    refusal = `${err.code}: ${err.message}`;
  }
  expect(refusal !== '', 'a flipped bit in the weights is refused');
  expect(!existsSync(join(tamperedDir, 'should-not-exist')), 'nothing was written at the target path');
  log(`7. Flipped one bit of ${weights.annotations?.[FILEPATH_ANNOTATION]} inside a copy of the layout (${show(tamperedDir)}/) and pulled again`);
  log(`     refused: ${refusal.replace(/sha256:([0-9a-f]{12})[0-9a-f]+/g, 'sha256:$1…')}`);
  log('   proved: a modified blob never reaches the target path');

  log('');
  log(`Done in ${((performance.now() - started) / 1000).toFixed(2)} s. Not shown yet: signing, SLSA provenance, admission policy and the init container (later issues).`);
}
