/**
 * slsa-verifier's policy for GitHub-built SLSA provenance, over an already-verified statement.
 *
 * Owns: `verifySlsaProvenance(statement, signer, policy)`: the checks slsa-verifier (v2.x,
 * `verifiers/internal/gha`) makes after the Sigstore bundle is verified — the certificate identity
 * must be a trusted builder workflow (the slsa-github-generator reusable workflows, or the caller's
 * `--builder-id`) at a `refs/tags/vX.Y.Z` ref, issued by GitHub Actions; provenance `builder.id`
 * must equal it (for a BYOB delegator: must be the caller's `--builder-id`, a released workflow); the source repository must match **exactly** (never by prefix) in the trigger and
 * the materials; the subject must carry the artifact digest; then branch, tag, versioned tag and
 * `workflow_dispatch` inputs. For npm packages (kind `npm`) it makes `verify-npm-package`'s trust
 * decision: the Node.js builder through its BYOB delegator, or the npm CLI on a GitHub-hosted runner,
 * always named by `--builder-id` (the npm publish attestation and the tarball are not verified here).
 * GitHub-attestation provenance (`actions/attest-build-provenance`) is trusted only from the Bazel
 * Central Registry workflows slsa-verifier lists, named by `--builder-id`.
 * Signature/tlog/identity cryptography is not done here: callers pass
 * the statement only after `verifyBundle` succeeded, plus the signer certificate's identity.
 * `verify-artifact` and the registry `verify-image` both call this.
 */
import { AttestationError } from './errors.ts';
import { echo } from '../sigstore/errors.ts';
import * as semver from './go-semver.ts';
import { normalizeProvenance, splitGitUri, type NormalizedProvenance } from './provenance.ts';
import { isRecord } from '../evidence/json.ts';
import { requireSubject, type ArtifactDigest, type Statement } from './statement.ts';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
export const TRUSTED_BUILDER_REPOSITORY = 'slsa-framework/slsa-github-generator';

/**
 * Which default trusted builders apply: those that build files, those that build images, or npm
 * packages (slsa-verifier `verify-npm-package`: no default, `--builder-id` always required).
 */
export type ArtifactKind = 'artifact' | 'container' | 'npm';

/**
 * slsa-verifier's trusted reusable workflows (`slsaprovenance/common/builders.go` and
 * `gha/verify.go`): the generic generator, the Go builder and the container-based builder for
 * files (plus the docker-based builder, its earlier name, trusted by earlier slsa-verifier
 * releases), the container generator for images.
 */
const DEFAULT_TRUSTED_WORKFLOWS: Record<ArtifactKind, readonly string[]> = {
  artifact: [
    `${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/generator_generic_slsa3.yml`,
    `${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/builder_go_slsa3.yml`,
    `${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/builder_container-based_slsa3.yml`,
    `${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/builder_docker-based_slsa3.yml`,
  ],
  container: [`${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/generator_container_slsa3.yml`],
  npm: [],
};

/**
 * The Node.js builder: a BYOB trusted reusable workflow (the certificate names
 * `delegator_lowperms-generic_slsa3.yml`, the provenance this workflow at its release tag), so it is
 * trusted only when `--builder-id` names it.
 */
export const NODEJS_BUILDER = `https://github.com/${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/builder_nodejs_slsa3.yml`;

/**
 * The npm CLI's builder IDs (`npm publish --provenance` on GitHub Actions, slsa-verifier
 * `common/builders.go`): the GitHub-hosted runner and its legacy ID. The certificate names the
 * publisher's own workflow, not a trusted reusable workflow, so these are trusted for npm packages
 * only and only when `--builder-id` names one. Self-hosted runners are not supported.
 */
export const GITHUB_RUNNER_BUILDERS: readonly string[] = ['https://github.com/actions/runner/github-hosted', 'https://github.com/actions/runner'];
const GITHUB_SELF_HOSTED_RUNNER = 'https://github.com/actions/runner/self-hosted';

/**
 * The BYOB ("bring your own builder") delegators: the certificate names the delegator, the
 * provenance's builder.id names the trusted reusable workflow (TRW) that called it, which the caller
 * must name with `--builder-id` (slsa-verifier `isTrustedDelegatorBuilder`).
 */
export const BYOB_DELEGATORS: readonly string[] = [
  `${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/delegator_generic_slsa3.yml`,
  `${TRUSTED_BUILDER_REPOSITORY}/.github/workflows/delegator_lowperms-generic_slsa3.yml`,
];

/**
 * Provenance made by GitHub's own `actions/attest-build-provenance` (buildType
 * `https://actions.github.io/buildtypes/workflow/v1`): slsa-verifier trusts it only from the
 * reusable workflows it lists for the Bazel Central Registry (`common/builders.go`: the ruleset
 * releaser and the BCR publisher), whose certificate and `runDetails.builder.id` name the workflow
 * at its release tag. They are not default builders: `--builder-id` must name one.
 */
export const GITHUB_ACTIONS_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1';
export const GITHUB_ATTESTATION_BUILDERS: readonly string[] = [
  'https://github.com/bazel-contrib/.github/.github/workflows/release_ruleset.yaml',
  'https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml',
];

/** A GitHub-attestation provenance must come from one of the listed builders (slsa-verifier's pre-set list). */
function requireListedGithubAttestationBuilder(prov: NormalizedProvenance): void {
  if (prov.buildType !== GITHUB_ACTIONS_BUILD_TYPE) return;
  const { name } = parseBuilderId(prov.builderId);
  if (!GITHUB_ATTESTATION_BUILDERS.includes(name)) {
    throw new AttestationError('UNTRUSTED_BUILDER', `provenance of buildType ${GITHUB_ACTIONS_BUILD_TYPE} is trusted only from ${GITHUB_ATTESTATION_BUILDERS.join(', ')}; builder.id is ${echo(prov.builderId)}`);
  }
}

export function defaultTrustedWorkflows(kind: ArtifactKind): readonly string[] {
  return DEFAULT_TRUSTED_WORKFLOWS[kind];
}

/** The identity of the signing certificate (already verified against the trusted root). */
export interface SignerWorkflowIdentity {
  /** Certificate SAN (URI), e.g. `https://github.com/o/r/.github/workflows/x.yml@refs/tags/v1.2.3`. */
  readonly san: string;
  /** OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, or legacy .1.1). */
  readonly issuer: string;
  /** Fulcio `SourceRepositoryURI` extension (…1.12), e.g. `https://github.com/o/r`, when present. */
  readonly sourceRepositoryUri?: string | undefined;
}

export interface SlsaPolicy {
  /** Expected source repository: `github.com/o/r` (slsa-verifier style), or with a scheme. */
  readonly sourceUri: string;
  /** Expected builder: `https://github.com/…/x.yml`, `…@vX.Y.Z` or `…@refs/tags/vX.Y.Z`. */
  readonly builderId?: string | undefined;
  readonly sourceBranch?: string | undefined;
  readonly sourceTag?: string | undefined;
  readonly sourceVersionedTag?: string | undefined;
  readonly buildWorkflowInputs?: Readonly<Record<string, string>> | undefined;
  /** The artifact's digest(s): some statement subject must carry one of them. */
  readonly artifactDigests: readonly ArtifactDigest[];
  /** Default: 'artifact'. */
  readonly kind?: ArtifactKind | undefined;
}

export interface SlsaVerdict {
  /** The verified builder, `name@ref` as in the certificate (e.g. `https://github.com/…@refs/tags/v2.1.0`). */
  readonly builderId: string;
  readonly provenance: NormalizedProvenance;
}

/** A builder ID split at its single `@`; version is '' when absent. */
export interface BuilderId {
  readonly name: string;
  readonly version: string;
}

/** slsa-verifier `ParseBuilderID`: at most one `@`, and a non-empty part after it. */
export function parseBuilderId(id: string, needVersion = false): BuilderId {
  const parts = id.split('@');
  if (parts.length === 2) {
    if (parts[1] === '') throw new AttestationError('BUILDER_MISMATCH', `invalid builder ID "${id}": empty version after @`);
    return { name: parts[0] as string, version: parts[1] as string };
  }
  if (parts.length === 1 && !needVersion) return { name: id, version: '' };
  throw new AttestationError('BUILDER_MISMATCH', `invalid builder ID "${id}"`);
}

/**
 * slsa-verifier `MatchesLoose` / `MatchesFull` with allowRef: names must be equal; versions equal,
 * or `refs/tags/<expected version>` equals the actual version. Loose accepts an expected ID without
 * version.
 */
function builderMatches(actual: BuilderId, expectedId: string, mode: 'loose' | 'full'): string | undefined {
  const expected = parseBuilderId(expectedId);
  if (expected.name !== actual.name) return `expected builder name "${expected.name}", got "${actual.name}"`;
  if (mode === 'loose' && expected.version === '') return undefined;
  if (expected.version !== actual.version && `refs/tags/${expected.version}` !== actual.version) {
    return `expected builder version "${expected.version}", got "${actual.version}"`;
  }
  return undefined;
}

/** `github.com/o/r` → `git+https://github.com/o/r` (slsa-verifier `NormalizeGitURI`). */
export function normalizeGitUri(uri: string): string {
  if (uri.startsWith('git+')) return uri;
  return uri.includes('://') ? `git+${uri}` : `git+https://${uri}`;
}

/** The git ref's name if it is of `type` (`heads` / `tags`); INVALID_REF otherwise. */
export function refName(type: 'heads' | 'tags', ref: string): string {
  const parts = ref.split('/');
  const kind = parts.length >= 3 && parts[0] === 'refs' ? parts[1] : '';
  const name = parts.length >= 3 && parts[0] === 'refs' ? parts.slice(2).join('/') : ref;
  if (kind !== type) throw new AttestationError('INVALID_REF', `"${ref}" is not a refs/${type}/… ref`);
  if (name === '') throw new AttestationError('INVALID_REF', `"${ref}": empty ref name`);
  return name;
}

/** A release tag of the form vX.Y.Z, no pre-release or build (slsa-verifier `verifyTrustedBuilderRef`). */
function requireReleaseTag(ref: string): void {
  const pin = refName('tags', ref);
  if (!(semver.isValid(pin) && pin.split('.').length === 3 && semver.prerelease(pin) === '' && semver.build(pin) === '')) {
    throw new AttestationError('INVALID_REF', `builder ref ${ref}: ${pin} is not of the form vX.Y.Z`);
  }
}

/**
 * The trusted builder: its ID (`https://github.com/<path>@<ref>` for a reusable workflow or a
 * delegator, the runner's ID for the npm CLI) and how the certificate vouches for it.
 */
export interface CertificateBuilder {
  readonly id: string;
  /** `workflow`: the certificate names it; `delegator`: a BYOB delegator signed for the TRW in the provenance; `github-runner`: npm CLI on a GitHub-hosted runner. */
  readonly via: 'workflow' | 'delegator' | 'github-runner';
}

/**
 * slsa-verifier `verifyNpmEnvAndCert`: `--builder-id` is required; a BYOB delegator certificate (the
 * Node.js builder's) must be at a release tag and the TRW is checked against the provenance later;
 * any other certificate workflow is the publisher's own (npm CLI), and then `--builder-id` must name
 * a GitHub runner builder without a version (the certificate's ref is not checked, as upstream).
 */
function verifyNpmBuilderIdentity(path: string, ref: string, expectedBuilderId: string | undefined): CertificateBuilder {
  if (expectedBuilderId === undefined || expectedBuilderId === '') {
    throw new AttestationError('UNTRUSTED_BUILDER', `npm packages have no default builder: name it with --builder-id (${NODEJS_BUILDER} or ${GITHUB_RUNNER_BUILDERS[0]})`);
  }
  const expected = parseBuilderId(expectedBuilderId);
  if (BYOB_DELEGATORS.includes(path)) {
    requireReleaseTag(ref);
    return { id: `https://github.com/${path}@${ref}`, via: 'delegator' };
  }
  if (expected.name === GITHUB_SELF_HOSTED_RUNNER) throw new AttestationError('UNTRUSTED_BUILDER', `${GITHUB_SELF_HOSTED_RUNNER}: npm provenance from self-hosted runners is not supported`);
  if (!GITHUB_RUNNER_BUILDERS.includes(expected.name) || expected.version !== '') {
    throw new AttestationError('UNTRUSTED_BUILDER', `certificate workflow ${path} is not a BYOB delegator, so --builder-id must be one of ${GITHUB_RUNNER_BUILDERS.join(', ')} (without a version), got "${expectedBuilderId}"`);
  }
  return { id: expected.name, via: 'github-runner' };
}

/** Verify the certificate names a trusted builder (or a BYOB delegator, when `--builder-id` names the TRW). */
export function verifyBuilderIdentity(signer: SignerWorkflowIdentity, expectedBuilderId: string | undefined, kind: ArtifactKind): CertificateBuilder {
  if (signer.issuer !== GITHUB_ACTIONS_ISSUER) {
    throw new AttestationError('OIDC_ISSUER', `certificate OIDC issuer is "${signer.issuer}", expected ${GITHUB_ACTIONS_ISSUER}`);
  }
  const prefix = 'https://github.com/';
  if (!signer.san.startsWith(prefix)) throw new AttestationError('MALFORMED_URI', `certificate identity "${signer.san}" is not a github.com workflow`);
  const at = signer.san.indexOf('@');
  if (at < 0) throw new AttestationError('MALFORMED_URI', `certificate workflow "${signer.san}" has no @ref`);
  const path = signer.san.slice(prefix.length, at).replace(/^\/+|\/+$/g, '');
  const ref = signer.san.slice(at + 1).replace(/^\/+|\/+$/g, '');
  const certBuilder = { name: prefix + path, version: ref };
  if (kind === 'npm') return verifyNpmBuilderIdentity(path, ref, expectedBuilderId);
  if (BYOB_DELEGATORS.includes(path)) {
    // The delegator signs for the TRW recorded in the provenance: the caller must say which TRW it trusts.
    if (expectedBuilderId === undefined || expectedBuilderId === '') {
      throw new AttestationError('UNTRUSTED_BUILDER', `certificate workflow ${path} is a BYOB delegator: name the trusted builder workflow with --builder-id`);
    }
    parseBuilderId(expectedBuilderId);
    requireReleaseTag(ref);
    return { id: `${certBuilder.name}@${ref}`, via: 'delegator' };
  }
  if (expectedBuilderId === undefined || expectedBuilderId === '') {
    if (!DEFAULT_TRUSTED_WORKFLOWS[kind].includes(path)) {
      throw new AttestationError('UNTRUSTED_BUILDER', `certificate workflow ${path} is not a trusted builder (expected one of ${DEFAULT_TRUSTED_WORKFLOWS[kind].join(', ')})`);
    }
  } else {
    const mismatch = builderMatches(certBuilder, expectedBuilderId, 'loose');
    if (mismatch !== undefined) throw new AttestationError('UNTRUSTED_BUILDER', `certificate builder ${certBuilder.name}@${ref} is not the expected builder: ${mismatch}`);
  }
  requireReleaseTag(ref);
  return { id: `${certBuilder.name}@${ref}`, via: 'workflow' };
}

/**
 * The certificate's source repository (Fulcio extension) must be exactly the expected one; when the
 * certificate names the publisher's own workflow (npm CLI) it is the only binding to the
 * repository, so it must be present.
 */
function verifyCertificateSource(signer: SignerWorkflowIdentity, expectedSource: string, required: boolean): void {
  if (signer.sourceRepositoryUri === undefined) {
    if (required) throw new AttestationError('SOURCE_MISMATCH', 'the certificate names no source repository (Fulcio extension 1.3.6.1.4.1.57264.1.12)');
    return;
  }
  const expected = expectedSource.replace(/^git\+/, '');
  if (signer.sourceRepositoryUri !== expected) {
    throw new AttestationError('SOURCE_MISMATCH', `certificate source repository is "${signer.sourceRepositoryUri}", expected "${expected}"`);
  }
}

/** slsa-verifier `verifySourceURI`: trigger and materials must both name exactly the expected repository. */
function verifySource(prov: NormalizedProvenance, expectedSourceUri: string): string {
  const source = normalizeGitUri(expectedSourceUri);
  if (!source.startsWith('git+https://github.com/')) {
    throw new AttestationError('MALFORMED_URI', `expected source "${expectedSourceUri}" is not a github.com repository`);
  }
  const trigger = prov.triggerUri;
  if (trigger === undefined || !trigger.startsWith('git+')) throw new AttestationError('MALFORMED_URI', `provenance trigger URI ${echo(trigger)} is not a git URI`);
  const t = splitGitUri(trigger);
  if (t.repository !== source) throw new AttestationError('SOURCE_MISMATCH', `expected source "${source}", provenance trigger is "${trigger}"`);
  if (t.ref === undefined || t.ref === '') throw new AttestationError('MALFORMED_URI', `provenance trigger "${trigger}" has no ref`);
  const material = prov.source?.uri;
  if (material === undefined || !material.startsWith('git+')) throw new AttestationError('MALFORMED_URI', `provenance source URI ${echo(material)} is not a git URI`);
  const m = splitGitUri(material);
  if (m.repository !== source) throw new AttestationError('SOURCE_MISMATCH', `expected source "${source}", provenance source is "${material}"`);
  if (m.ref === undefined || m.ref === '') throw new AttestationError('MALFORMED_URI', `provenance source "${material}" has no ref`);
  if (trigger !== material) throw new AttestationError('PROVENANCE', `provenance trigger and source URIs differ: "${trigger}" != "${material}"`);
  return source;
}

/** The GitHub context the builder recorded: v0.2 lower-case `github_*` keys, v1 BYOB upper-case `GITHUB_*`. */
interface GitHubContext {
  get(name: string): unknown;
}

function githubContext(prov: NormalizedProvenance): GitHubContext | undefined {
  const env = prov.internalParameters;
  if ('github_ref_type' in env || 'github_event_name' in env) return { get: (name) => env[name] };
  if ('GITHUB_REF_TYPE' in env || 'GITHUB_EVENT_NAME' in env) return { get: (name) => env[name.toUpperCase()] };
  const gh = env.github;
  if (isRecord(gh)) return { get: (name) => gh[name.replace(/^github_/, '')] };
  return undefined;
}

function contextString(ctx: GitHubContext, name: string): string {
  const value = ctx.get(name);
  if (typeof value !== 'string') throw new AttestationError('PROVENANCE', `provenance GitHub context has no string ${name}`);
  return value;
}

function triggerRef(prov: NormalizedProvenance): string {
  const ref = prov.triggerUri === undefined ? undefined : splitGitUri(prov.triggerUri).ref;
  if (ref === undefined) throw new AttestationError('PROVENANCE', 'provenance records no git ref');
  return ref;
}

/** slsa-verifier `GetBranch`: the branch ref, or for tag builds the branch the tag was made from. */
function provenanceBranchRef(prov: NormalizedProvenance): string {
  const ctx = githubContext(prov);
  if (ctx === undefined || ctx.get('github_ref_type') === undefined) {
    const ref = triggerRef(prov);
    return ref.startsWith('refs/heads/') ? ref : '';
  }
  const refType = contextString(ctx, 'github_ref_type');
  if (refType === 'branch') return contextString(ctx, 'github_ref');
  if (refType !== 'tag') throw new AttestationError('PROVENANCE', `unknown github_ref_type "${refType}"`);
  const baseRef = contextString(ctx, 'github_base_ref');
  if (baseRef !== '') return baseRef;
  const event = contextString(ctx, 'github_event_name');
  const payload = ctx.get('github_event_payload');
  if (!isRecord(payload)) throw new AttestationError('PROVENANCE', 'provenance has no github_event_payload');
  if (event === 'push') return typeof payload.base_ref === 'string' ? payload.base_ref : '';
  if (event === 'release') {
    const release = payload.release;
    if (!isRecord(release) || typeof release.target_commitish !== 'string') {
      throw new AttestationError('PROVENANCE', 'release event payload has no release.target_commitish');
    }
    return `refs/heads/${release.target_commitish}`;
  }
  return '';
}

/** slsa-verifier `GetTag`: the tag ref for tag builds, '' for branch builds. */
function provenanceTagRef(prov: NormalizedProvenance): string {
  const ctx = githubContext(prov);
  if (ctx === undefined || ctx.get('github_ref_type') === undefined) {
    const ref = triggerRef(prov);
    return ref.startsWith('refs/tags/') ? ref : '';
  }
  const refType = contextString(ctx, 'github_ref_type');
  if (refType === 'branch') return '';
  if (refType !== 'tag') throw new AttestationError('PROVENANCE', `unknown github_ref_type "${refType}"`);
  return contextString(ctx, 'github_ref');
}

/** Go `strings.TrimSuffix`. */
function trimSuffix(value: string, suffix: string): string {
  return suffix !== '' && value.endsWith(suffix) ? value.slice(0, value.length - suffix.length) : value;
}

/** slsa-verifier `VerifyVersionedTag` (Go semver rules: `vX` / `vX.Y` / `vX.Y.Z` pin the given parts). */
export function verifyVersionedTag(provenanceTag: string, expectedTag: string): void {
  if (!semver.isValid(expectedTag)) throw new AttestationError('INVALID_SEMVER', `expected versioned tag "${expectedTag}" is not semver (vX, vX.Y or vX.Y.Z)`);
  const semTag = semver.canonical(provenanceTag);
  if (!semver.isValid(semTag)) throw new AttestationError('INVALID_SEMVER', `provenance tag "${provenanceTag}" is not semver`);
  const expectedMajor = semver.major(expectedTag);
  const actualMajor = semver.major(semTag);
  if (expectedMajor !== actualMajor) {
    throw new AttestationError('VERSIONED_TAG_MISMATCH', `major version expected "${expectedMajor}", got "${actualMajor}"`);
  }
  const expectedParts = expectedTag.split('.');
  const actualParts = semTag.split('.');
  if (expectedParts.length > 1) {
    const minor = actualParts[1];
    if (minor === undefined) throw new AttestationError('INVALID_SEMVER', `provenance tag "${semTag}" has no minor version`);
    if (minor !== expectedParts[1]) throw new AttestationError('VERSIONED_TAG_MISMATCH', `minor version expected "${expectedParts[1]}", got "${minor}"`);
  }
  if (expectedParts.length > 2) {
    const expectedPatch = trimSuffix(expectedParts[2] as string, semver.build(expectedTag));
    const rawPatch = actualParts[2];
    if (rawPatch === undefined) throw new AttestationError('INVALID_SEMVER', `provenance tag "${semTag}" has no patch version`);
    const patch = trimSuffix(rawPatch, semver.build(semTag));
    if (patch !== expectedPatch) throw new AttestationError('VERSIONED_TAG_MISMATCH', `patch version expected "${expectedPatch}", got "${patch}"`);
  }
}

/** slsa-verifier `GetWorkflowInputs` + `VerifyWorkflowInputs`. */
function verifyWorkflowInputs(prov: NormalizedProvenance, expected: Readonly<Record<string, string>>): void {
  const ctx = githubContext(prov);
  if (ctx === undefined) throw new AttestationError('WORKFLOW_INPUTS_MISMATCH', 'provenance records no GitHub event context');
  const event = ctx.get('github_event_name');
  if (event !== 'workflow_dispatch') {
    throw new AttestationError('WORKFLOW_INPUTS_MISMATCH', `expected a 'workflow_dispatch' trigger, got ${echo(event)}`);
  }
  const payload = ctx.get('github_event_payload');
  const inputs = isRecord(payload) ? payload.inputs : undefined;
  if (!isRecord(inputs)) throw new AttestationError('WORKFLOW_INPUTS_MISMATCH', 'provenance event payload has no inputs');
  for (const [key, value] of Object.entries(expected)) {
    const actual = inputs[key];
    if (typeof actual !== 'string') throw new AttestationError('WORKFLOW_INPUTS_MISMATCH', `cannot retrieve value of '${key}'`);
    if (actual !== value) throw new AttestationError('WORKFLOW_INPUTS_MISMATCH', `expected '${key}=${value}', got '${key}=${actual}'`);
  }
}

/**
 * Apply slsa-verifier's GitHub policy to a verified provenance statement. Throws AttestationError
 * with the slsa-verifier-equivalent code on the first failed check; returns the normalised
 * provenance and the trusted builder ID on success.
 */
export function verifySlsaProvenance(statement: Statement, signer: SignerWorkflowIdentity, policy: SlsaPolicy): SlsaVerdict {
  const kind = policy.kind ?? 'artifact';
  const certBuilder = verifyBuilderIdentity(signer, policy.builderId, kind);
  const expectedSource = normalizeGitUri(policy.sourceUri);
  verifyCertificateSource(signer, expectedSource, certBuilder.via === 'github-runner');
  const prov = normalizeProvenance(statement);
  requireListedGithubAttestationBuilder(prov);
  let builderId = certBuilder.id;
  if (certBuilder.via === 'delegator') {
    // BYOB: the provenance names the TRW the delegator built for; it must be the caller's --builder-id.
    const trw = parseBuilderId(prov.builderId, true);
    const mismatch = builderMatches(trw, policy.builderId as string, 'loose');
    if (mismatch !== undefined) throw new AttestationError('BUILDER_MISMATCH', `provenance builder.id "${prov.builderId}" is not the expected builder: ${mismatch}`);
    if (!trw.name.startsWith('https://github.com/')) throw new AttestationError('BUILDER_MISMATCH', `provenance builder.id "${prov.builderId}" is not a github.com workflow`);
    requireReleaseTag(trw.version.startsWith('refs/') ? trw.version : `refs/tags/${trw.version}`);
    builderId = prov.builderId;
  } else {
    // Provenance builder.id must be exactly the certificate's builder (allowing `vX` ↔ `refs/tags/vX`),
    // or for the npm CLI exactly the runner builder named by --builder-id.
    const mismatch = builderMatches(parseBuilderId(prov.builderId), certBuilder.id, 'full');
    if (mismatch !== undefined) throw new AttestationError('BUILDER_MISMATCH', `provenance builder.id "${prov.builderId}" does not match the certificate: ${mismatch}`);
  }
  verifySource(prov, policy.sourceUri);
  if (policy.artifactDigests.length === 0) throw new AttestationError('SUBJECT_MISMATCH', 'no artifact digest to match against the provenance subjects');
  requireSubject(statement, ...policy.artifactDigests);
  if (policy.sourceBranch !== undefined) {
    const ref = provenanceBranchRef(prov);
    const branch = refName('heads', ref);
    if (branch !== policy.sourceBranch) throw new AttestationError('BRANCH_MISMATCH', `expected branch '${policy.sourceBranch}', got '${branch}'`);
  }
  if (policy.sourceTag !== undefined) {
    const tag = refName('tags', provenanceTagRef(prov));
    if (tag !== policy.sourceTag) throw new AttestationError('TAG_MISMATCH', `expected tag '${policy.sourceTag}', got '${tag}'`);
  }
  if (policy.sourceVersionedTag !== undefined) {
    verifyVersionedTag(refName('tags', provenanceTagRef(prov)), policy.sourceVersionedTag);
  }
  if (policy.buildWorkflowInputs !== undefined && Object.keys(policy.buildWorkflowInputs).length > 0) {
    verifyWorkflowInputs(prov, policy.buildWorkflowInputs);
  }
  return { builderId, provenance: prov };
}
