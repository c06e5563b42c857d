// The import graph of src/ (scripts/import-graph.ts): no cycles, no import from a lower layer into a
// higher one (verified-evidence producers never import the policy or the pipeline), every folder
// placed in a layer, and src/evidence a leaf. The checker itself is shown to catch a cycle and an
// upward import in a small tree of its own.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { importCycles, importGraph, layerOf, upwardImports } from '../scripts/import-graph.ts';

const SRC = join(import.meta.dirname, '..', 'src');
const graph = importGraph(SRC);

t.test('the source tree is read: files and their relative imports', async (t) => {
  t.ok(graph.files.includes('pipeline/decide.ts'));
  t.ok(graph.edges.some((e) => e.from === 'pipeline/decide.ts' && e.to === 'errors.ts'), 'pipeline/decide.ts imports errors.ts');
});

t.test('no import cycles in src/', async (t) => {
  t.same(importCycles(graph), []);
});

t.test('no upward imports, and every folder has a layer', async (t) => {
  const { edges, unplaced } = upwardImports(graph);
  t.same(edges.map((e) => `${e.from} → ${e.to}`), []);
  t.same(unplaced, []);
  for (const [producer, consumer] of [
    ['sigstore', 'policy'],
    ['oms', 'pipeline'],
    ['attest', 'admission'],
    ['oci', 'init'],
    ['evidence', 'cli'],
    ['policy', 'pipeline'],
  ] as const) {
    t.ok(layerOf(`${producer}/x.ts`)! < layerOf(`${consumer}/x.ts`)!, `${producer} is below ${consumer}`);
  }
});

t.test('src/evidence is a leaf: it imports nothing from src/ but errors.ts', async (t) => {
  const imports = graph.edges.filter((e) => e.from.startsWith('evidence/') && !e.to.startsWith('evidence/')).map((e) => e.to);
  t.same([...new Set(imports)].filter((to) => to !== 'errors.ts'), []);
  t.ok(graph.files.some((f) => f.startsWith('evidence/')), 'src/evidence exists');
});

t.test('the checker finds a cycle and an upward import', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'import-graph-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const file = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  file('sigstore/a.ts', "import type { P } from '../policy/p.ts';\nimport { b } from './b.js';\n");
  file('sigstore/b.ts', "export { a } from './a.ts';\nexport const b = 1;\n");
  file('policy/p.ts', "import { b } from '../sigstore/b.ts';\nimport 'node:fs';\nexport type P = 1;\n");
  const small = importGraph(root);
  t.same(importCycles(small), [['policy/p.ts', 'sigstore/a.ts', 'sigstore/b.ts']]);
  t.same(
    upwardImports(small).edges.map((e) => `${e.from} → ${e.to}`),
    ['sigstore/a.ts → policy/p.ts'],
  );
});
