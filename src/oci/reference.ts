/**
 * Artifact references: the one place that turns user strings into structured locations.
 *
 * Owns parsing and formatting of
 *   - KServe storageUri form   `oci://host[:port]/repo[:tag][@sha256:…]` (also KServe's `oci+native://`,
 *     `oci+fetch://` and modelgate's init-container scheme `modelgate+oci://`, which name the same thing)
 *   - plain Docker form        `[host[:port]/]repo[:tag][@digest]` with Docker Hub normalisation
 *   - OCI image layouts        `oci-layout:///abs/dir[:tag|@sha256:…]` (and `oci-layout://rel/dir`)
 * Grammar follows distribution/reference and the OCI distribution spec; a malformed reference is a
 * BAD_REFERENCE error that quotes the offending part.
 */
import { resolve as resolvePath } from 'node:path';
import { OciError } from '../errors.ts';
import { parseDigest, type Digest } from './digest.ts';

export const DOCKER_HUB = 'docker.io';

/** URI schemes that name a registry (`oci`) or an image layout (`oci-layout`), by their lower-cased spelling. */
const SCHEME_ALIASES: Readonly<Record<string, 'oci' | 'oci-layout'>> = {
  oci: 'oci',
  'oci+native': 'oci', // KServe: modelcar served natively
  'oci+fetch': 'oci', // KServe: storage-initializer fetch
  'modelgate+oci': 'oci', // modelgate's ClusterStorageContainer (deploy/cluster-storage-container.yaml)
  'oci-layout': 'oci-layout',
  'modelgate+oci-layout': 'oci-layout',
};

interface Pin {
  /** Tag, when the reference names one. */
  readonly tag: string | undefined;
  /** Digest, when the reference is pinned. A reference may carry both (the digest wins). */
  readonly digest: Digest | undefined;
}

export interface RegistryReference extends Pin {
  readonly kind: 'registry';
  /** `host[:port]`, lower-cased; `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path, e.g. `library/ubuntu`, `acme/models/llama`. */
  readonly repository: string;
}

export interface LayoutReference extends Pin {
  readonly kind: 'layout';
  /** Absolute path of the OCI image layout directory. */
  readonly path: string;
}

export type ArtifactReference = RegistryReference | LayoutReference;

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const MAX_REPOSITORY_LENGTH = 255;

function bad(input: string, part: string, why: string): OciError {
  return new OciError('BAD_REFERENCE', `invalid reference "${input}": ${why} ("${part}")`);
}

/** Split `name[:tag][@digest]` into its pieces; `name` may itself contain `host:port`. */
function splitPin(input: string, rest: string): { name: string; tag: string | undefined; digest: Digest | undefined } {
  let name = rest;
  let digest: Digest | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    const digestPart = name.slice(at + 1);
    try {
      digest = parseDigest(digestPart);
    } catch {
      throw bad(input, digestPart, 'digest must be sha256:<64 hex> or sha512:<128 hex>');
    }
    name = name.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, tag, 'tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}');
  }
  return { name, tag, digest };
}

function checkRepository(input: string, repository: string): void {
  if (repository.length === 0) throw bad(input, repository, 'repository is empty');
  if (repository.length > MAX_REPOSITORY_LENGTH) throw bad(input, repository.slice(0, 40) + '…', 'repository is longer than 255 characters');
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw bad(input, component, 'repository components must be lowercase alphanumerics separated by ".", "_", "__" or "-"');
    }
  }
}

function parseRegistryName(input: string, name: string, requireHost: boolean): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  const looksLikeHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  let registry: string;
  let repository: string;
  if (looksLikeHost || (requireHost && slash >= 0)) {
    registry = first.toLowerCase();
    repository = name.slice(slash + 1);
    if (!HOST.test(registry)) throw bad(input, first, 'registry host is not a valid host[:port]');
  } else if (requireHost) {
    throw bad(input, name, 'oci:// references need a registry host and a repository (oci://host/repo)');
  } else {
    registry = DOCKER_HUB;
    repository = slash < 0 ? `library/${name}` : name;
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  checkRepository(input, repository);
  return { registry, repository };
}

/**
 * Parse any supported reference form. Throws OciError BAD_REFERENCE naming the bad part.
 * @param options.baseDir resolves relative `oci-layout://` paths (default: the working directory)
 */
export function parseReference(input: string, options: { baseDir?: string } = {}): ArtifactReference {
  const text = input.trim();
  if (text.length === 0) throw new OciError('BAD_REFERENCE', 'invalid reference "": empty');
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  const scheme = schemeMatch ? SCHEME_ALIASES[schemeMatch[1]!.toLowerCase()] : undefined;
  if (schemeMatch && scheme === undefined) {
    throw bad(input, `${schemeMatch[1]}://`, 'unsupported scheme (expected oci://, oci-layout:// or modelgate+oci://)');
  }
  if (scheme === 'oci-layout') {
    const rest = text.slice(schemeMatch![0].length);
    if (rest.length === 0) throw bad(input, text, 'oci-layout:// needs a directory path');
    const { name, tag, digest } = splitPin(input, rest);
    if (name.length === 0) throw bad(input, rest, 'oci-layout:// needs a directory path');
    return { kind: 'layout', path: resolvePath(options.baseDir ?? process.cwd(), name), tag, digest };
  }
  const rest = schemeMatch ? text.slice(schemeMatch[0].length) : text;
  if (/\s/.test(rest)) throw bad(input, rest, 'references cannot contain white space');
  const { name, tag, digest } = splitPin(input, rest);
  const { registry, repository } = parseRegistryName(input, name, schemeMatch !== null);
  return { kind: 'registry', registry, repository, tag, digest };
}

/** Like parseReference, but only registry references are accepted. */
export function parseRegistryReference(input: string): RegistryReference {
  const ref = parseReference(input);
  if (ref.kind !== 'registry') throw bad(input, input, 'expected a registry reference, not an OCI image layout');
  return ref;
}

/** The same location pinned to `digest` (tag kept for display). */
export function withDigest<R extends ArtifactReference>(ref: R, digest: Digest): R {
  return { ...ref, digest };
}

/** `host/repo` or `oci-layout://path` without tag or digest. */
export function repositoryName(ref: ArtifactReference): string {
  return ref.kind === 'registry' ? `${ref.registry}/${ref.repository}` : `oci-layout://${ref.path}`;
}

/** Canonical string: `host/repo[:tag][@digest]` (registry) or `oci-layout://path[:tag][@digest]`. */
export function formatReference(ref: ArtifactReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${repositoryName(ref)}${tag}${digest}`;
}

/** KServe storageUri form `oci://host/repo[:tag][@digest]`. */
export function formatOciUri(ref: RegistryReference): string {
  return `oci://${formatReference(ref)}`;
}

/** The tag or digest to ask a store for: the digest when pinned, else the tag, else `latest`. */
export function manifestSelector(ref: ArtifactReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}
