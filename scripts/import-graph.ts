/**
 * The import graph of `src/`: which module imports which, its cycles, and imports that go up the layers.
 *
 * Owns: the layer order of the source folders (below) and the two checks `test/architecture.test.ts`
 * asserts — no import cycle between files of `src/` and no import from a lower layer into a higher one.
 * Imports are read with the TypeScript compiler's pre-processor (import / export … from / dynamic
 * import), type-only imports included: a type that lives in the consumer is an upward dependency too.
 *
 * Usage: `npx node scripts/import-graph.ts` prints cycles and upward imports (exit 1 when there are any).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * Layers, bottom first. A module may import from its own layer and the layers below it, never above.
 *  0. evidence/errors/time: the shared vocabulary (verified evidence, error codes, the clock; and the
 *     logger, which any shell may use);
 *  1. producers of verified facts and their plumbing: oci, sigstore, oms, attest, dataset, hashing, fs,
 *     modelpack (the model layout's media types and annotations);
 *  2. policy: turns verified evidence into policy JSON and decides;
 *  3. pipeline: reference → resolve → fetch evidence → verify → policy input → decision;
 *  4. the shells around the pipeline: admission, init, explain, emit (and sign, the emitter's signing
 *     side; config and k8s, which build pipeline dependencies and admission settings);
 *  5. entry points: cli, demo.
 * A folder (or top-level file) not listed here fails the check, so a new one must be placed.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['evidence', 'errors.ts', 'time', 'version.ts', 'logging'],
  ['oci', 'sigstore', 'oms', 'attest', 'dataset', 'hashing', 'fs', 'modelpack'],
  ['policy'],
  ['pipeline'],
  ['admission', 'init', 'explain', 'emit', 'sign', 'config', 'k8s'],
  ['cli', 'demo'],
];

export interface ImportEdge {
  /** Importing file, relative to the source root (`sigstore/bundle.ts`). */
  readonly from: string;
  readonly to: string;
  /** Only `import type` / `export type` statements name the target (erased at run time). */
  readonly typeOnly: boolean;
}

/**
 * The one exception to both checks: `errors.ts` gathers each domain's error-code union (type-only) into
 * the project's one closed `ErrorCode` union, so its type-only imports of `<module>/errors.ts` and the
 * like are left out. Any other import, type-only or not, counts.
 */
const EXEMPT_TYPE_IMPORTERS: ReadonlySet<string> = new Set(['errors.ts']);

export interface ImportGraph {
  readonly files: readonly string[];
  readonly edges: readonly ImportEdge[];
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const toPosix = (path: string): string => path.split(sep).join('/');

/** Every relative import between the `.ts` files under `root` (imports of packages are left out). */
export function importGraph(root: string): ImportGraph {
  const files = sourceFiles(root).sort();
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const { importedFiles } = ts.preProcessFile(text, true, true);
    const typeOnly = new Set([...text.matchAll(/^(?:import|export) type [^;]*? from '([^']+)'/gms)].map((m) => m[1]!));
    const value = new Set([...text.matchAll(/^(?:import|export) (?!type )[^;]*? from '([^']+)'/gms)].map((m) => m[1]!));
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
      if (!known.has(target)) continue;
      const from = toPosix(relative(root, file));
      const edge = { from, to: toPosix(relative(root, target)), typeOnly: typeOnly.has(fileName) && !value.has(fileName) };
      if (edge.typeOnly && EXEMPT_TYPE_IMPORTERS.has(from)) continue;
      edges.push(edge);
    }
  }
  return { files: files.map((f) => toPosix(relative(root, f))), edges };
}

/** The layer of a source file (index into LAYERS), or undefined when its folder is not placed. */
export function layerOf(file: string): number | undefined {
  const top = file.split('/')[0]!;
  const index = LAYERS.findIndex((layer) => layer.includes(top));
  return index < 0 ? undefined : index;
}

/** Imports from a lower layer into a higher one (and files whose folder has no layer). */
export function upwardImports(graph: ImportGraph): { edges: ImportEdge[]; unplaced: string[] } {
  const unplaced = [...new Set(graph.files.filter((f) => layerOf(f) === undefined).map((f) => f.split('/')[0]!))];
  const edges = graph.edges.filter((e) => {
    const from = layerOf(e.from);
    const to = layerOf(e.to);
    return from !== undefined && to !== undefined && to > from;
  });
  return { edges, unplaced };
}

/** The import cycles: each strongly connected component of more than one file (or a self-import), as a list of files. */
export function importCycles(graph: ImportGraph): string[][] {
  const next = new Map<string, string[]>();
  for (const e of graph.edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const file of graph.files) if (!index.has(file)) visit(file);
  return cycles;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = importGraph(resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const cycles = importCycles(graph);
  const upward = upwardImports(graph);
  for (const cycle of cycles) console.log(`cycle: ${cycle.join(' ↔ ')}`);
  for (const e of upward.edges) console.log(`upward import: ${e.from} → ${e.to}`);
  for (const folder of upward.unplaced) console.log(`no layer: src/${folder}`);
  console.log(`${graph.files.length} files, ${graph.edges.length} imports, ${cycles.length} cycles, ${upward.edges.length} upward imports`);
  process.exitCode = cycles.length + upward.edges.length + upward.unplaced.length > 0 ? 1 : 0;
}
