/**
 * Model variants: one model published as an OCI image index of ModelPack manifests (quantisations,
 * hardware targets), each child descriptor naming its variant.
 *
 * Owns: the variant vocabulary (annotation keys `dev.modelgate.variant` and
 * `dev.modelgate.variant.accelerator`, the `platform` of a child descriptor), building and pushing the
 * index (`pushVariantIndex`), reading the variants of an index (`variantsOfIndex`, strict: names must
 * be present and unique), the storage-URI selector `…#variant=NAME` (`splitVariantSelector`) and the
 * documented selection rule of the init container (`selectVariant`):
 *   1. the variant named in the storage URI (`#variant=NAME`), else the one named by `--variant` /
 *      `MODELGATE_VARIANT`;
 *   2. else the variants the node can run: a declared `platform` must equal the node's os/architecture
 *      (and its variant, when declared), a declared accelerator must equal the node's accelerator
 *      (`--accelerator` / `MODELGATE_ACCELERATOR`, else `nvidia` when /dev/nvidiactl exists, else none);
 *      among them the ones whose accelerator matches win over those that declare none;
 *   3. exactly one must remain; none or several is a refusal (VARIANT_NOT_SELECTED) listing every variant.
 */
import { existsSync } from 'node:fs';
import { ModelgateError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { MediaType, type Descriptor, type ImageIndex, type Platform } from '../oci/manifest.ts';
import type { ArtifactStore, CallOptions } from '../oci/store.ts';
import { ModelPackMediaType } from './spec.ts';

/** Name of the variant a child manifest of a model index is (on the index's descriptor of it). */
export const VARIANT_ANNOTATION = 'dev.modelgate.variant';
/** Accelerator the variant needs (e.g. `nvidia`); absent: runs on any node of its platform. */
export const VARIANT_ACCELERATOR_ANNOTATION = 'dev.modelgate.variant.accelerator';

/** The storage-URI fragment that names a variant: `oci://host/repo@sha256:…#variant=int4`. */
const SELECTOR = /^(.*)#variant=([^#]*)$/s;
const VARIANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const VARIANT_ERROR_CODES = ['BAD_VARIANT', 'BAD_INDEX', 'VARIANT_NOT_FOUND', 'VARIANT_NOT_SELECTED'] as const;
export type VariantErrorCode = (typeof VARIANT_ERROR_CODES)[number];
export class VariantError extends ModelgateError<VariantErrorCode> {}

export interface Variant {
  readonly name: string;
  readonly digest: Digest;
  readonly platform: Platform | null;
  readonly accelerator: string | null;
  readonly annotations: Readonly<Record<string, string>>;
}

/** What a node offers, for `selectVariant`. */
export interface NodeTarget {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly accelerator: string | null;
}

export function checkVariantName(name: string, what: string): string {
  if (!VARIANT_NAME.test(name)) throw new VariantError('BAD_VARIANT', `${what} ${JSON.stringify(name)} is not a variant name ([A-Za-z0-9][A-Za-z0-9._-]{0,127})`);
  return name;
}

/** `LOCATION#variant=NAME` → the location without the fragment and the name; no fragment → name undefined. */
export function splitVariantSelector(location: string): { readonly location: string; readonly variant: string | undefined } {
  const match = SELECTOR.exec(location.trim());
  if (match === null) {
    if (location.includes('#')) throw new VariantError('BAD_VARIANT', `"${location}": the only fragment a location may carry is #variant=NAME`);
    return { location, variant: undefined };
  }
  return { location: match[1]!, variant: checkVariantName(match[2]!, `#variant=`) };
}

/** `platform` as `os/arch[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant !== undefined ? `/${platform.variant}` : ''}`;
}

export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new VariantError('BAD_VARIANT', `platform ${JSON.stringify(text)} must be OS/ARCH[/VARIANT] (e.g. linux/amd64)`);
  }
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] !== undefined ? { variant: parts[2] } : {}) };
}

/**
 * True when `index` is a model index: its artifactType is ModelPack's, or a child names a variant. Any
 * other index (a multi-platform container image, e.g. a KServe modelcar) is not, and is handled as before.
 */
export function isModelIndex(index: ImageIndex): boolean {
  return index.artifactType === ModelPackMediaType.ARTIFACT || index.manifests.some((d) => d.annotations?.[VARIANT_ANNOTATION] !== undefined);
}

/** The variants of a model index; BAD_INDEX when a child names no variant, names one twice, or is itself an index. */
export function variantsOfIndex(index: ImageIndex, where: string): Variant[] {
  const seen = new Set<string>();
  return index.manifests.map((child, i) => {
    const name = child.annotations?.[VARIANT_ANNOTATION];
    if (name === undefined) throw new VariantError('BAD_INDEX', `${where}: manifests[${i}] (${child.digest}) names no variant (${VARIANT_ANNOTATION})`);
    if (!VARIANT_NAME.test(name)) throw new VariantError('BAD_INDEX', `${where}: manifests[${i}] has the malformed variant name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new VariantError('BAD_INDEX', `${where}: variant "${name}" appears twice`);
    if (child.mediaType !== MediaType.OCI_MANIFEST) throw new VariantError('BAD_INDEX', `${where}: variant "${name}" is a ${child.mediaType}, not an image manifest`);
    seen.add(name);
    return { name, digest: child.digest, platform: child.platform ?? null, accelerator: child.annotations?.[VARIANT_ACCELERATOR_ANNOTATION] ?? null, annotations: child.annotations ?? {} };
  });
}

/** One line per variant, for error messages: `int4 (linux/amd64, nvidia)`. */
export function describeVariants(variants: readonly Variant[]): string {
  return variants.map((v) => `${v.name} (${[v.platform ? formatPlatform(v.platform) : 'any platform', v.accelerator ?? 'no accelerator'].join(', ')})`).join('; ');
}

/** The variant a node uses, by the rule in this module's header. */
export function selectVariant(variants: readonly Variant[], request: { readonly name?: string | undefined; readonly node: NodeTarget }, where: string): Variant {
  if (request.name !== undefined) {
    const named = variants.find((v) => v.name === request.name);
    if (named === undefined) throw new VariantError('VARIANT_NOT_FOUND', `${where} has no variant "${request.name}"; it has ${describeVariants(variants)}`);
    return named;
  }
  const { node } = request;
  const runnable = variants.filter(
    (v) =>
      (v.platform === null || (v.platform.os === node.os && v.platform.architecture === node.architecture && (v.platform.variant === undefined || v.platform.variant === node.variant))) &&
      (v.accelerator === null || v.accelerator === node.accelerator),
  );
  const specific = runnable.filter((v) => v.accelerator !== null);
  const best = specific.length > 0 ? specific : runnable;
  const nodeText = `${node.os}/${node.architecture}${node.variant !== undefined ? `/${node.variant}` : ''}, accelerator ${node.accelerator ?? 'none'}`;
  if (best.length === 1) return best[0]!;
  const why = best.length === 0 ? `no variant runs on this node (${nodeText})` : `${best.length} variants fit this node (${nodeText}) equally: ${best.map((v) => v.name).join(', ')}`;
  throw new VariantError('VARIANT_NOT_SELECTED', `${where}: ${why}; name one with #variant=NAME in the storage URI or MODELGATE_VARIANT. Variants: ${describeVariants(variants)}`);
}

const NODE_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** This process's platform in OCI terms (`linux/amd64`). */
export function nodePlatform(): Platform {
  return { os: process.platform === 'win32' ? 'windows' : process.platform, architecture: NODE_ARCH[process.arch] ?? process.arch };
}

/** The NVIDIA control device the device plugin gives a pod that was allocated a GPU. */
export const NVIDIA_DEVICE = '/dev/nvidiactl';

/** This node's accelerator when none is configured: `nvidia` when the NVIDIA device is present, else none. */
export function detectAccelerator(device = NVIDIA_DEVICE): string | null {
  return existsSync(device) ? 'nvidia' : null;
}

export interface VariantSpec {
  readonly name: string;
  /** The pushed ModelPack manifest of this variant. */
  readonly manifest: Descriptor;
  readonly platform?: Platform;
  readonly accelerator?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The index bytes (deterministic: variants in the order given). */
export function buildVariantIndex(variants: readonly VariantSpec[], annotations: Readonly<Record<string, string>> = {}): Buffer {
  if (variants.length === 0) throw new VariantError('BAD_VARIANT', 'a model index needs at least one variant');
  const names = new Set<string>();
  for (const v of variants) {
    checkVariantName(v.name, 'variant');
    if (names.has(v.name)) throw new VariantError('BAD_VARIANT', `variant "${v.name}" given twice`);
    names.add(v.name);
  }
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_INDEX,
    artifactType: ModelPackMediaType.ARTIFACT,
    manifests: variants.map((v) => ({
      mediaType: MediaType.OCI_MANIFEST,
      digest: v.manifest.digest,
      size: v.manifest.size,
      artifactType: ModelPackMediaType.ARTIFACT,
      ...(v.platform !== undefined ? { platform: v.platform } : {}),
      annotations: { ...(v.annotations ?? {}), [VARIANT_ANNOTATION]: v.name, ...(v.accelerator !== undefined ? { [VARIANT_ACCELERATOR_ANNOTATION]: v.accelerator } : {}) },
    })),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  return Buffer.from(JSON.stringify(index));
}

/** Push the index of already-pushed variant manifests (under `tag` when given); returns its descriptor. */
export async function pushVariantIndex(store: ArtifactStore, variants: readonly VariantSpec[], options: CallOptions & { readonly tag?: string; readonly annotations?: Readonly<Record<string, string>> } = {}): Promise<Descriptor> {
  const { tag, annotations, ...call } = options;
  return store.pushManifest(buildVariantIndex(variants, annotations), MediaType.OCI_INDEX, { ...call, ...(tag !== undefined ? { tag } : {}) });
}
