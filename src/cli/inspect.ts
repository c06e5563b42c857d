/**
 * `modelgate inspect REF`: what a manifest contains and which evidence sits next to it.
 *
 * Owns: gathering the summary (manifest fields, layers with their file paths, OCI referrers, cosign's
 * `sha256-<hex>.sig|.att|.sbom` tags) into one `InspectReport`, and printing it as a table or JSON.
 * Everything shown was read through the store, so it is verified against its digest.
 */
import type { Command } from 'commander';
import { hasCode, OciError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor, FetchedManifest } from '../oci/manifest.ts';
import { formatReference, manifestSelector, withDigest, type ArtifactReference } from '../oci/reference.ts';
import type { ArtifactStore } from '../oci/store.ts';
import { COSIGN_TAG_KINDS, cosignTag, type CosignTagKind } from '../oci/tag-schema.ts';
import { addOutputOption, type OutputFormat } from './output-format.ts';
import { addStoreOptions, openReference, type StoreCliOptions } from './store-options.ts';
import { humanSize } from '../explain/outline.ts';

const FILEPATH_ANNOTATIONS = ['org.cncf.model.filepath', 'org.opencontainers.image.title'];

export interface LayerSummary extends Descriptor {
  /** File path from `org.cncf.model.filepath`, else `org.opencontainers.image.title`. */
  readonly path?: string;
}

export interface CosignTagSummary {
  readonly tag: string;
  /** Digest of the manifest under the tag, or null when the tag does not exist. */
  readonly digest: Digest | null;
}

export interface InspectReport {
  readonly reference: string;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  readonly artifactType: string | null;
  readonly config: Descriptor | null;
  readonly layers: readonly LayerSummary[];
  /** Children of an image index (empty for an image manifest). */
  readonly manifests: readonly Descriptor[];
  readonly subject: Descriptor | null;
  readonly annotations: Readonly<Record<string, string>>;
  readonly referrers: readonly Descriptor[];
  readonly cosignTags: Readonly<Record<CosignTagKind, CosignTagSummary>>;
}

function layerSummary(layer: Descriptor): LayerSummary {
  const path = FILEPATH_ANNOTATIONS.map((a) => layer.annotations?.[a]).find((p) => p !== undefined);
  return path === undefined ? layer : { ...layer, path };
}

/** Build the report for `ref` (its tag or digest) from `store`. */
export async function inspectReference(store: ArtifactStore, ref: ArtifactReference): Promise<InspectReport> {
  const fetched: FetchedManifest = await store.fetchManifest(manifestSelector(ref));
  const { manifest, descriptor } = fetched;
  const referrers = await store.listReferrers(descriptor.digest);
  const cosignTags = {} as Record<CosignTagKind, CosignTagSummary>;
  for (const kind of COSIGN_TAG_KINDS) {
    const tag = cosignTag(descriptor.digest, kind);
    let digest: Digest | null = null;
    try {
      digest = (await store.resolve(tag)).digest;
    } catch (err) {
      if (!hasCode(err, OciError, 'NOT_FOUND')) throw err;
    }
    cosignTags[kind] = { tag, digest };
  }
  return {
    reference: formatReference(withDigest(ref, descriptor.digest)),
    digest: descriptor.digest,
    mediaType: manifest.mediaType,
    size: descriptor.size,
    artifactType: manifest.artifactType ?? null,
    config: manifest.kind === 'manifest' ? manifest.config : null,
    layers: manifest.kind === 'manifest' ? manifest.layers.map(layerSummary) : [],
    manifests: manifest.kind === 'index' ? manifest.manifests : [],
    subject: manifest.subject ?? null,
    annotations: manifest.annotations ?? {},
    referrers,
    cosignTags,
  };
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => '  ' + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

function annotationText(annotations: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(annotations ?? {});
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v.length > 60 ? v.slice(0, 57) + '...' : v}`).join(', ');
}

/** The human-readable rendering of a report. */
export function formatInspectTable(report: InspectReport): string {
  const lines: string[] = [];
  const field = (name: string, value: string) => lines.push(`${name.padEnd(14)}${value}`);
  field('Reference', report.reference);
  field('Digest', report.digest);
  field('Media type', report.mediaType);
  field('Artifact type', report.artifactType ?? '-');
  field('Size', `${report.size} B`);
  field('Config', report.config ? `${report.config.digest}  ${humanSize(report.config.size)}  ${report.config.mediaType}` : '-');
  field('Subject', report.subject ? `${report.subject.digest}  ${report.subject.mediaType}` : '-');
  const annotations = Object.entries(report.annotations);
  field('Annotations', annotations.length === 0 ? '-' : annotations.map(([k, v]) => `${k}=${v}`).join('\n' + ' '.repeat(14)));
  if (report.manifests.length > 0 || report.layers.length === 0) {
    lines.push('', `Manifests (${report.manifests.length})`);
    if (report.manifests.length > 0) {
      const platform = (d: Descriptor) => (d.platform ? `${d.platform.os}/${d.platform.architecture}${d.platform.variant ? '/' + d.platform.variant : ''}` : '-');
      lines.push(...table([['DIGEST', 'SIZE', 'PLATFORM', 'MEDIA TYPE'], ...report.manifests.map((d) => [d.digest, humanSize(d.size), platform(d), d.mediaType])]));
    }
  }
  if (report.layers.length > 0 || report.manifests.length === 0) {
    const total = report.layers.reduce((sum, l) => sum + l.size, 0);
    lines.push('', `Layers (${report.layers.length}, ${humanSize(total)})`);
    if (report.layers.length > 0) {
      lines.push(...table([['DIGEST', 'SIZE', 'MEDIA TYPE', 'PATH'], ...report.layers.map((l) => [l.digest, humanSize(l.size), l.mediaType, l.path ?? '-'])]));
    }
  }
  lines.push('', `Referrers (${report.referrers.length})`);
  if (report.referrers.length > 0) {
    lines.push(...table([['DIGEST', 'ARTIFACT TYPE', 'ANNOTATIONS'], ...report.referrers.map((r) => [r.digest, r.artifactType ?? '-', annotationText(r.annotations)])]));
  }
  lines.push('', 'Cosign tags');
  lines.push(...table(COSIGN_TAG_KINDS.map((kind) => [report.cosignTags[kind].tag, report.cosignTags[kind].digest ?? 'absent'])));
  return lines.join('\n') + '\n';
}

interface InspectCliOptions extends StoreCliOptions {
  readonly output: OutputFormat;
}

export function register(program: Command): void {
  const command = program
    .command('inspect')
    .description('show a manifest (media type, config, layers with file paths, subject, annotations), its referrers and cosign tags')
    .argument('<reference>', 'e.g. oci://registry.example.com/models/llama:v1 or oci-layout://./layout:v1');
  addStoreOptions(addOutputOption(command)).action(async (reference: string, options: InspectCliOptions) => {
    const { ref, store } = await openReference(reference, options);
    const report = await inspectReference(store, ref);
    process.stdout.write(options.output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatInspectTable(report));
  });
}
