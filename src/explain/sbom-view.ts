/**
 * How `modelgate explain` reads a verified SBOM attestation: CycloneDX (`https://cyclonedx.org/bom`)
 * or SPDX 2.x (`https://spdx.dev/Document`).
 *
 * Owns: `SbomView` and `sbomView`: format and version, how many packages, the notable entries (the
 * environment — drivers, CUDA, devices, containers, runtimes — and the ML packages whose version
 * matters most: torch, tensorflow, jax, transformers, numpy, …) and the licences with how many
 * packages carry each (packages that state none are counted as such). Returns undefined for a
 * predicate that is not recognisably one of the two formats, which is then shown generically.
 */
import { isRecord } from '../evidence/json.ts';

export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';
export const SPDX_PREDICATE_TYPE = 'https://spdx.dev/Document';

/** Packages whose versions a reviewer of a training environment looks for first. */
const NOTABLE_PACKAGES = /^(torch|torchvision|tensorflow|tensorflow-gpu|jax|jaxlib|transformers|accelerate|deepspeed|numpy|scipy|scikit-learn|safetensors|onnx|onnxruntime|xgboost|lightgbm|cudatoolkit|cuda-.*|nvidia-.*|python|@tensorflow\/.*)$/;
const ENVIRONMENT_TYPES = new Set(['device-driver', 'platform', 'device', 'container', 'operating-system', 'firmware']);
const MAX_NOTABLE = 40;

export interface SbomView {
  readonly kind: 'sbom';
  readonly format: 'CycloneDX' | 'SPDX';
  readonly specVersion: string | null;
  /** Software packages (CycloneDX library/framework/application components; SPDX packages). */
  readonly packageCount: number;
  readonly notable: readonly { readonly type: string; readonly name: string; readonly version: string | null }[];
  /** Licence → number of packages, most frequent first; `not stated` for packages without one. */
  readonly licenses: readonly { readonly license: string; readonly packages: number }[];
}

type Json = Record<string, unknown>;
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function licenseCounts(perPackage: readonly (readonly string[])[]): SbomView['licenses'] {
  const counts = new Map<string, number>();
  for (const licenses of perPackage) for (const l of licenses.length > 0 ? licenses : ['not stated']) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([license, packages]) => ({ license, packages })).sort((a, b) => b.packages - a.packages || a.license.localeCompare(b.license));
}

function cycloneDx(bom: Json): SbomView {
  const components = Array.isArray(bom.components) ? bom.components.filter(isRecord) : [];
  const packages = components.filter((c) => !ENVIRONMENT_TYPES.has(String(c.type)));
  const fullName = (c: Json): string => [text(c.group), text(c.name)].filter(Boolean).join('/');
  const notable = components
    .filter((c) => ENVIRONMENT_TYPES.has(String(c.type)) || NOTABLE_PACKAGES.test(fullName(c)) || NOTABLE_PACKAGES.test(String(c.name)))
    .map((c) => ({ type: String(c.type), name: fullName(c), version: text(c.version) }));
  const licenses = packages.map((c) =>
    (Array.isArray(c.licenses) ? c.licenses.filter(isRecord) : []).flatMap((l) => {
      const one = text(l.expression) ?? (isRecord(l.license) ? (text(l.license.id) ?? text(l.license.name)) : null);
      return one === null ? [] : [one];
    }),
  );
  return { kind: 'sbom', format: 'CycloneDX', specVersion: text(bom.specVersion), packageCount: packages.length, notable: notable.slice(0, MAX_NOTABLE), licenses: licenseCounts(licenses) };
}

function spdx(doc: Json): SbomView {
  const packages = Array.isArray(doc.packages) ? doc.packages.filter(isRecord) : [];
  const stated = (v: unknown): string | null => (text(v) === null || v === 'NOASSERTION' || v === 'NONE' ? null : (v as string));
  const notable = packages.filter((p) => NOTABLE_PACKAGES.test(String(p.name))).map((p) => ({ type: 'package', name: String(p.name), version: text(p.versionInfo) }));
  const licenses = packages.map((p) => {
    const one = stated(p.licenseConcluded) ?? stated(p.licenseDeclared);
    return one === null ? [] : [one];
  });
  return { kind: 'sbom', format: 'SPDX', specVersion: text(doc.spdxVersion), packageCount: packages.length, notable: notable.slice(0, MAX_NOTABLE), licenses: licenseCounts(licenses) };
}

/** The SBOM view of a verified predicate, or undefined when it is not a CycloneDX / SPDX document. */
export function sbomView(predicateType: string, predicate: Json): SbomView | undefined {
  if (predicateType === CYCLONEDX_PREDICATE_TYPE && predicate.bomFormat === 'CycloneDX') return cycloneDx(predicate);
  if (predicateType === SPDX_PREDICATE_TYPE && typeof predicate.spdxVersion === 'string') return spdx(predicate);
  return undefined;
}
