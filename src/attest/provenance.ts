/**
 * SLSA provenance v0.2 and v1, normalised into one shape.
 *
 * Owns: `NormalizedProvenance` and `normalizeProvenance(statement)`. Field mapping (SLSA "Migrating
 * from 0.2"): v0.2 `builder.id` / `buildType` / `invocation.parameters` / `invocation.environment` /
 * `materials` / `metadata.buildInvocationId` (also Go's `buildInvocationID`) → v1
 * `runDetails.builder.id` / `buildDefinition.buildType` / `externalParameters` / `internalParameters`
 * / `resolvedDependencies` / `runDetails.metadata.invocationId`. The source (repository URI, ref,
 * commit) is derived per builder family: GitHub generators (v0.2 `invocation.configSource`), GitHub
 * workflow build types (v1 `externalParameters.workflow`), BYOB / container-based (v1
 * `externalParameters.source`), otherwise the first resolved dependency with a git URI.
 */
import { AttestationError } from './errors.ts';
import { echo } from '../sigstore/errors.ts';
import { isRecord } from '../evidence/json.ts';
import { SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1 } from '../evidence/vocabulary.ts';
import type { Statement } from './statement.ts';


export type SlsaVersion = 'v0.2' | 'v1';

export interface ResolvedDependency {
  readonly uri: string | undefined;
  readonly name: string | undefined;
  readonly digest: Readonly<Record<string, string>>;
  /** The ResourceDescriptor's annotations, when it has any (e.g. `modelgate.dev/kind: dataset`). */
  readonly annotations?: Readonly<Record<string, unknown>>;
}

/** Where the build's source came from, when the provenance says so. */
export interface ProvenanceSource {
  /** As recorded, e.g. `git+https://github.com/o/r@refs/heads/main`. */
  readonly uri: string;
  /** `uri` without the `@ref` part, e.g. `git+https://github.com/o/r`. */
  readonly repository: string;
  /** `refs/heads/main`, `refs/tags/v1.2.3`, or undefined when the URI carries none. */
  readonly ref: string | undefined;
  /** Commit digest (gitCommit or sha1) when recorded. */
  readonly commit: string | undefined;
}

export interface NormalizedProvenance {
  readonly slsaVersion: SlsaVersion;
  readonly predicateType: string;
  readonly builderId: string;
  readonly buildType: string;
  readonly invocationId: string | undefined;
  readonly startedOn: string | undefined;
  readonly finishedOn: string | undefined;
  readonly source: ProvenanceSource | undefined;
  /** The URI that triggered the build (v0.2 configSource.uri, v1 workflow repository@ref), when known. */
  readonly triggerUri: string | undefined;
  readonly resolvedDependencies: readonly ResolvedDependency[];
  /** v1 externalParameters; v0.2 invocation.parameters. */
  readonly externalParameters: Readonly<Record<string, unknown>>;
  /** v1 internalParameters; v0.2 invocation.environment. */
  readonly internalParameters: Readonly<Record<string, unknown>>;
}

function bad(message: string): never {
  throw new AttestationError('PROVENANCE', message);
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') bad(`${what} must be a string`);
  return value;
}

function requiredString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) bad(`${what} must be a non-empty string`);
  return value;
}

function optionalRecord(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) bad(`${what} must be an object`);
  return value;
}

function digestSet(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) bad(`${what} must be an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') bad(`${what}.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

function dependencies(value: unknown, what: string): ResolvedDependency[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) bad(`${what} must be an array`);
  return value.map((entry, i) => {
    if (!isRecord(entry)) bad(`${what}[${i}] must be an object`);
    const annotations = optionalRecord(entry.annotations, `${what}[${i}].annotations`);
    return {
      uri: optionalString(entry.uri, `${what}[${i}].uri`),
      name: optionalString(entry.name, `${what}[${i}].name`),
      digest: digestSet(entry.digest, `${what}[${i}].digest`),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    };
  });
}

/** Split `git+https://github.com/o/r@refs/heads/main` into repository and ref (first `@`). */
export function splitGitUri(uri: string): { repository: string; ref: string | undefined } {
  const at = uri.indexOf('@');
  return at < 0 ? { repository: uri, ref: undefined } : { repository: uri.slice(0, at), ref: uri.slice(at + 1) };
}

function sourceFrom(uri: string | undefined, digest: Readonly<Record<string, string>>): ProvenanceSource | undefined {
  if (uri === undefined || uri.length === 0) return undefined;
  const { repository, ref } = splitGitUri(uri);
  return { uri, repository, ref, commit: digest.gitCommit ?? digest.sha1 };
}

function normalizeV02(predicate: Readonly<Record<string, unknown>>, predicateType: string): NormalizedProvenance {
  const builder = optionalRecord(predicate.builder, 'predicate.builder');
  const invocation = optionalRecord(predicate.invocation, 'predicate.invocation');
  const configSource = optionalRecord(invocation.configSource, 'predicate.invocation.configSource');
  const metadata = optionalRecord(predicate.metadata, 'predicate.metadata');
  const materials = dependencies(predicate.materials, 'predicate.materials');
  const configUri = optionalString(configSource.uri, 'predicate.invocation.configSource.uri');
  const configDigest = digestSet(configSource.digest, 'predicate.invocation.configSource.digest');
  // slsa-verifier takes the source from materials[0] and the trigger from configSource.uri.
  const first = materials[0];
  const source = sourceFrom(first?.uri, first?.digest ?? {}) ?? sourceFrom(configUri, configDigest);
  return {
    slsaVersion: 'v0.2',
    predicateType,
    builderId: requiredString(builder.id, 'predicate.builder.id'),
    buildType: requiredString(predicate.buildType, 'predicate.buildType'),
    // The spec spells buildInvocationId; Go producers (in-toto-golang) emit buildInvocationID.
    invocationId: optionalString(metadata.buildInvocationId ?? metadata.buildInvocationID, 'predicate.metadata.buildInvocationId'),
    startedOn: optionalString(metadata.buildStartedOn, 'predicate.metadata.buildStartedOn'),
    finishedOn: optionalString(metadata.buildFinishedOn, 'predicate.metadata.buildFinishedOn'),
    source,
    triggerUri: configUri,
    resolvedDependencies: materials,
    externalParameters: optionalRecord(invocation.parameters, 'predicate.invocation.parameters'),
    internalParameters: optionalRecord(invocation.environment, 'predicate.invocation.environment'),
  };
}

function normalizeV1(predicate: Readonly<Record<string, unknown>>, predicateType: string): NormalizedProvenance {
  const definition = optionalRecord(predicate.buildDefinition, 'predicate.buildDefinition');
  const run = optionalRecord(predicate.runDetails, 'predicate.runDetails');
  const builder = optionalRecord(run.builder, 'predicate.runDetails.builder');
  const metadata = optionalRecord(run.metadata, 'predicate.runDetails.metadata');
  const external = optionalRecord(definition.externalParameters, 'predicate.buildDefinition.externalParameters');
  const internal = optionalRecord(definition.internalParameters, 'predicate.buildDefinition.internalParameters');
  const resolved = dependencies(definition.resolvedDependencies, 'predicate.buildDefinition.resolvedDependencies');

  let triggerUri: string | undefined;
  let source: ProvenanceSource | undefined;
  const workflow = external.workflow;
  if (isRecord(workflow) && typeof workflow.repository === 'string' && typeof workflow.ref === 'string') {
    // GitHub workflow build types: externalParameters.workflow = { ref, repository, path }.
    const repository = workflow.repository.startsWith('git+') ? workflow.repository : `git+${workflow.repository}`;
    triggerUri = `${repository}@${workflow.ref}`;
  } else if (typeof internal.GITHUB_WORKFLOW_REF === 'string') {
    // BYOB / container-based builders: GITHUB_WORKFLOW_REF = o/r/.github/workflows/x.yml@ref.
    const { repository: repoAndPath, ref } = splitGitUri(internal.GITHUB_WORKFLOW_REF);
    const parts = repoAndPath.split('/');
    if (parts.length >= 2 && ref !== undefined) triggerUri = `git+https://github.com/${parts[0]}/${parts[1]}@${ref}`;
  }
  const externalSource = external.source;
  if (isRecord(externalSource) && typeof externalSource.uri === 'string') {
    source = sourceFrom(externalSource.uri, digestSet(externalSource.digest, 'predicate.buildDefinition.externalParameters.source.digest'));
  }
  if (source === undefined) {
    const git = resolved.find((d) => d.uri?.startsWith('git+') === true);
    source = sourceFrom(git?.uri, git?.digest ?? {});
  }
  return {
    slsaVersion: 'v1',
    predicateType,
    builderId: requiredString(builder.id, 'predicate.runDetails.builder.id'),
    buildType: requiredString(definition.buildType, 'predicate.buildDefinition.buildType'),
    invocationId: optionalString(metadata.invocationId ?? metadata.invocationID, 'predicate.runDetails.metadata.invocationId'),
    startedOn: optionalString(metadata.startedOn, 'predicate.runDetails.metadata.startedOn'),
    finishedOn: optionalString(metadata.finishedOn, 'predicate.runDetails.metadata.finishedOn'),
    source,
    triggerUri,
    resolvedDependencies: resolved,
    externalParameters: external,
    internalParameters: internal,
  };
}

export function isProvenancePredicateType(predicateType: string): boolean {
  return predicateType === SLSA_PROVENANCE_V02 || predicateType === SLSA_PROVENANCE_V1;
}

/**
 * Normalise the SLSA predicate of a (verified) statement. The statement's signed predicateType
 * decides the version; anything else is PREDICATE_TYPE. Malformed predicates are PROVENANCE.
 */
export function normalizeProvenance(statement: Statement): NormalizedProvenance {
  return normalizeProvenancePredicate(statement.predicateType, statement.predicate);
}

/**
 * The same for a predicate and its (signed) predicateType, without the statement around it: the one
 * SLSA normaliser, which the policy input (`src/policy/input.ts`) projects into its own shape.
 */
export function normalizeProvenancePredicate(predicateType: string, predicate: Readonly<Record<string, unknown>>): NormalizedProvenance {
  switch (predicateType) {
    case SLSA_PROVENANCE_V02:
      return normalizeV02(predicate, predicateType);
    case SLSA_PROVENANCE_V1:
      return normalizeV1(predicate, predicateType);
    default:
      throw new AttestationError('PREDICATE_TYPE', `statement predicateType ${echo(predicateType)} is not SLSA provenance (${SLSA_PROVENANCE_V02} or ${SLSA_PROVENANCE_V1})`);
  }
}
