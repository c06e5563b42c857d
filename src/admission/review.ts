/**
 * One AdmissionReview in, one AdmissionReview out.
 *
 * Owns: `AdmissionReviewer` — validating the request (admission.k8s.io/v1, JSON Schema), finding the
 * model locations of the object (`locations.ts`), deciding each one through the one pipeline
 * (`decideArtifact`, the same code as `modelgate verify`) under one deadline per review, through the
 * decision cache (single-flight), and turning the verdicts into a response according to the mode of
 * the namespace:
 *  - `enforce`: any location not allowed → `allowed: false`, a 403 whose message names each field,
 *    location, code and what to do;
 *  - `warn`: allowed, the problems as `warnings`;
 *  - `audit`: allowed, problems only in `auditAnnotations` and the log.
 * Every response carries `auditAnnotations` with the digests decided on and the reasons with codes.
 * Fail closed: registry errors, the deadline, a malformed field or an unsupported kind are problems
 * like a deny. On UPDATE every location is decided (the decision covers the whole object); those that
 * did not change are marked `changed: false` and are normally answered from the cache. `dryRun`
 * reviews are decided the same way and have no side effects (nothing is written anywhere).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { decideArtifact, type ArtifactDecision, type PipelineDeps, type StoreProvider } from '../pipeline/decide.ts';
import type { VerificationSigners } from '../evidence/signers.ts';
import type { Reason } from '../policy/engine.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { ModelgateError } from '../errors.ts';
import { AdmissionError } from './errors.ts';
import { verificationScope } from '../pipeline/evidence-cache.ts';
import { decisionKey, nextTimeBoundary, type CacheResult, type DecisionCache } from './decision-cache.ts';
import { extractLocations, isAdmittedKind, type ModelLocation } from './locations.ts';
import { pinLocations } from './pin.ts';
import { systemClock, type Clock } from '../time/clock.ts';

export const ADMISSION_MODES = ['enforce', 'warn', 'audit'] as const;
export type AdmissionMode = (typeof ADMISSION_MODES)[number];

export interface ModeConfig {
  readonly default: AdmissionMode;
  /** Per-namespace overrides (namespace → mode). */
  readonly namespaces?: Readonly<Record<string, AdmissionMode>>;
}

/** Default review budget: inside the API server's default 10 s webhook timeout. */
export const DEFAULT_DEADLINE_MS = 8_000;

export interface ReviewerConfig {
  readonly deps: PipelineDeps;
  readonly modes: ModeConfig;
  readonly cache: DecisionCache;
  /** One budget for the whole review (default 8 s). */
  readonly deadlineMs?: number;
  /**
   * The clock the review reads: the time the policy sees (exception expiries), the deadline's start
   * and what is left of it (default the wall clock; tests inject a `ManualClock`). The deadline itself
   * fires on a timer set to what is left.
   */
  readonly clock?: Clock;
  /** Which registry credentials are used (part of the cache key). */
  readonly credentialsScope?: string;
  /** Called once per location lookup (metrics). */
  readonly onCacheLookup?: (result: CacheResult) => void;
  /**
   * Mode from the namespace's label (`src/k8s/namespace-modes.ts`), asked when the static
   * `modes.namespaces` map has no entry; `undefined` → `modes.default`.
   */
  readonly namespaceModes?: { modeOf(namespace: string): Promise<AdmissionMode | undefined> };
  /**
   * Registry credentials of one review (`src/k8s/pull-secrets.ts`): its store provider and scope
   * (which replaces `credentialsScope` in the cache keys). A failure denies the review's locations
   * with the error's code (fail closed).
   */
  readonly reviewCredentials?: { forReview(namespace: string, object: unknown): Promise<{ readonly scope: string; readonly stores: StoreProvider }> };
}

interface ReviewRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly namespace?: string;
  readonly name?: string;
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly userInfo: { readonly username?: string; readonly uid?: string; readonly groups?: readonly string[] };
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
}

const MAX_NAME = 253;
const REVIEW_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation', 'userInfo'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: 128 },
        kind: {
          type: 'object',
          required: ['group', 'version', 'kind'],
          properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string', minLength: 1 } },
        },
        namespace: { type: 'string', maxLength: MAX_NAME },
        name: { type: 'string', maxLength: MAX_NAME },
        operation: { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        userInfo: {
          type: 'object',
          properties: { username: { type: 'string' }, uid: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } } },
        },
        object: { type: ['object', 'null'] },
        oldObject: { type: ['object', 'null'] },
        dryRun: { type: 'boolean' },
      },
    },
  },
} as const;

let validator: ValidateFunction | undefined;
function validate(body: unknown): asserts body is { request: ReviewRequest } {
  validator ??= new Ajv2020({ allErrors: false, strict: false }).compile(REVIEW_SCHEMA);
  if (validator(body)) return;
  const error = validator.errors?.[0];
  throw new AdmissionError('REVIEW_INVALID', `not an admission.k8s.io/v1 AdmissionReview request: ${error ? `${error.instancePath || '/'} ${error.message}` : 'invalid'}`);
}

export type VerdictOutcome = ArtifactDecision['outcome'] | 'malformed' | 'unsupported';

/** The decision on one location (or one problem with the object itself). */
export interface LocationVerdict {
  readonly fieldPath: string;
  readonly location: string | null;
  readonly digest: string | null;
  readonly outcome: VerdictOutcome;
  /** Deny reasons, or the failure, with codes (empty when allowed). */
  readonly reasons: readonly Reason[];
  readonly warnings: readonly Reason[];
  /** False on UPDATE when the same location was already at this field. */
  readonly changed: boolean;
  readonly cache: CacheResult | null;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  /** Mutation only: base64 of an RFC 6902 JSON Patch. */
  readonly patchType?: 'JSONPatch';
  readonly patch?: string;
  readonly status?: { readonly code: number; readonly reason: string; readonly message: string };
  readonly warnings?: readonly string[];
  readonly auditAnnotations: Readonly<Record<string, string>>;
}

export interface ReviewResult {
  readonly review: { readonly apiVersion: 'admission.k8s.io/v1'; readonly kind: 'AdmissionReview'; readonly response: AdmissionResponse };
  /** For the structured log line. */
  readonly summary: {
    readonly uid: string;
    readonly resource: string;
    readonly operation: string;
    readonly dryRun: boolean;
    readonly mode: AdmissionMode;
    readonly decision: 'allow' | 'deny' | 'warn' | 'audit';
    readonly verdicts: readonly LocationVerdict[];
  };
}

/** What the user can do about a code (shown in deny messages). */
const REMEDIES: Readonly<Record<string, string>> = {
  TAG_NOT_PINNED: 'pin the location by digest (…@sha256:…)',
  UNSIGNED: 'sign the model with a trusted key or identity (modelgate sign / cosign) and push the signature',
  UNTRUSTED_SIGNATURE: 'have the model signed by a signer the cluster policy trusts (signers in its policy data; `modelgate key id KEY.pub` prints the id a key is listed under)',
  INSUFFICIENT_SIGNATURES: 'collect the signatures the policy requires',
  MISSING_PROVENANCE: 'attach signed SLSA provenance from the training pipeline',
  DATASET_UNSIGNED: 'have the training dataset attested by a trusted signer (modelgate dataset attest, attached with modelgate dataset push) or retrain on a signed dataset',
  DATASET_UNREACHABLE: 'push the training dataset with modelgate dataset push and name it in the provenance as attest run --dataset oci://…@sha256:…, or check the registry',
  REVOKED_DIGEST: 'this model version is revoked: deploy a newer signed version',
  REVOKED_KEY: 'the signing key is revoked: re-sign with a current key',
  UNVERIFIABLE_LOCATION: 'publish the model to an OCI registry and reference it as oci://…@sha256:…, or ask for the location to be allowlisted',
  LAYOUT_NOT_ALLOWED: 'publish the model to an OCI registry and reference it as oci://…@sha256:… (image layouts on the webhook\'s disk are read only under its --layout-root)',
  DEADLINE_EXCEEDED: 'the registry did not answer in time: retry, or check the registry',
  TIMEOUT: 'the registry did not answer in time: retry',
  NETWORK: 'the registry could not be reached: retry, or check the registry',
  REGISTRY_ERROR: 'the registry failed: retry',
  NOT_FOUND: 'the artifact does not exist: check the location',
  UNAUTHORIZED: 'the webhook has no credentials for this registry',
  MALFORMED_LOCATION: 'set the field to a storage URI string',
  UNSUPPORTED_KIND: 'the webhook is configured for a resource it cannot review: fix the webhook rules',
  K8S_FORBIDDEN: 'the webhook may not read the pull secrets or service account of this namespace: grant it the RBAC in docs/webhook.md',
  K8S_TIMEOUT: 'the Kubernetes API did not answer in time (reading pull secrets): retry',
  K8S_UNAVAILABLE: 'the Kubernetes API could not be reached (reading pull secrets): retry',
};

function remedy(code: string): string {
  return REMEDIES[code] ?? 'ask the platform team (policy exception) if this is expected';
}

function modeOf(modes: ModeConfig, namespace: string): AdmissionMode {
  return modes.namespaces?.[namespace] ?? modes.default;
}

function failureVerdict(fieldPath: string, location: string | null, outcome: VerdictOutcome, reason: Reason): LocationVerdict {
  return { fieldPath, location, digest: null, outcome, reasons: [reason], warnings: [], changed: true, cache: null };
}

function verdictOf(fieldPath: string, decision: ArtifactDecision, changed: boolean, cache: CacheResult): LocationVerdict {
  const base = { fieldPath, location: decision.location, digest: decision.digest, outcome: decision.outcome, changed, cache };
  switch (decision.outcome) {
    case 'allow':
      return { ...base, reasons: [], warnings: decision.decision.warnings };
    case 'deny':
      return { ...base, reasons: decision.decision.reasons, warnings: decision.decision.warnings };
    case 'unavailable':
    case 'invalid':
      return { ...base, reasons: [decision.failure], warnings: [] };
  }
}

function oldLocations(request: ReviewRequest): Set<string> {
  if (request.operation !== 'UPDATE' || request.oldObject === undefined || request.oldObject === null || !isAdmittedKind(request.kind.kind)) return new Set();
  return new Set(extractLocations(request.kind.kind, request.oldObject).flatMap((l) => (l.kind === 'uri' ? [`${l.fieldPath}\u0000${l.uri}`] : [])));
}

const MAX_WARNING = 256;
const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export class AdmissionReviewer {
  #deps: PipelineDeps;
  readonly #config: ReviewerConfig;
  readonly #clock: Clock;
  /**
   * Decisions running per location (whatever the usage site): a decision of the same location for
   * another resource or user waits for it, then finds the verified evidence in the pipeline's
   * evidence cache — one discovery and verification for N concurrent first sightings of an artifact.
   */
  readonly #warming = new Map<string, Promise<ArtifactDecision>>();
  #scope: { readonly deps: PipelineDeps; readonly scope: string } | undefined;

  constructor(config: ReviewerConfig) {
    this.#config = config;
    this.#deps = config.deps;
    this.#clock = config.clock ?? systemClock;
  }

  /** Swap the policy (a reload): later decisions miss the cache by key (bundle and data digests). */
  setEngine(engine: PolicyEngine): void {
    this.#deps = { ...this.#deps, engine };
  }

  /**
   * A reviewer like this one with another engine and/or signers (a configuration reload; install it
   * with `WebhookServer.setReviewer`, reviews in flight finish on this one). It shares the decision
   * cache and the pipeline's evidence cache: their keys carry the bundle and data digests and the
   * signers, so nothing decided under the old configuration is reused.
   */
  reconfigured(changes: { readonly engine?: PolicyEngine; readonly signers?: VerificationSigners }): AdmissionReviewer {
    return new AdmissionReviewer({ ...this.#config, deps: { ...this.#deps, ...changes } });
  }

  get engine(): PolicyEngine {
    return this.#deps.engine;
  }

  /** Review one AdmissionReview body. Throws REVIEW_INVALID when it is not one. */
  async review(body: unknown): Promise<ReviewResult> {
    validate(body);
    const request = body.request;
    const started = this.#clock.now();
    const deadlineMs = this.#config.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const namespace = request.namespace ?? '';
    const mode = this.#config.namespaceModes === undefined || this.#config.modes.namespaces?.[namespace] !== undefined
      ? modeOf(this.#config.modes, namespace)
      : ((await this.#config.namespaceModes.modeOf(namespace)) ?? this.#config.modes.default);
    const resource = `${request.kind.kind} ${namespace ? `${namespace}/` : ''}${request.name ?? ''}`.trim();

    let verdicts: LocationVerdict[];
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') {
      verdicts = []; // DELETE / CONNECT load no model
    } else if (!isAdmittedKind(request.kind.kind)) {
      verdicts = [failureVerdict('kind', null, 'unsupported', { code: 'UNSUPPORTED_KIND', message: `${request.kind.kind} is not a resource modelgate reviews` })];
    } else {
      const previous = oldLocations(request);
      const locations = extractLocations(request.kind.kind, request.object);
      // The deadline's timer is armed only when a location has to be decided (not on cache hits).
      const deadlineAt = started + deadlineMs;
      let deadlineSignal: AbortSignal | undefined;
      const signal = (): AbortSignal => (deadlineSignal ??= AbortSignal.timeout(Math.max(1, deadlineAt - this.#clock.now())));
      let credentials: { readonly scope: string; readonly stores: StoreProvider } | ModelgateError | undefined;
      if (this.#config.reviewCredentials !== undefined && locations.some((l) => l.kind === 'uri')) {
        credentials = await this.#config.reviewCredentials.forReview(namespace, request.object).catch((err: unknown) =>
          err instanceof ModelgateError ? err : new ModelgateError('INTERNAL', err instanceof Error ? err.message : String(err)),
        );
      }
      verdicts = await Promise.all(
        locations.map((location) =>
          credentials instanceof ModelgateError && location.kind === 'uri'
            ? failureVerdict(location.fieldPath, location.uri, 'unavailable', { code: credentials.code, message: `registry credentials (pull secrets) of namespace ${namespace} could not be read: ${credentials.message}` })
            : this.#decide(location, request, previous, deadlineAt, signal, credentials instanceof ModelgateError ? undefined : credentials),
        ),
      );
    }

    const problems = verdicts.filter((v) => v.outcome !== 'allow');
    const denied = problems.length > 0;
    const allowed = !denied || mode !== 'enforce';
    const decision = !denied ? 'allow' : mode === 'enforce' ? 'deny' : mode;
    const problemLines = problems.flatMap((v) => v.reasons.map((r) => `${v.fieldPath}: ${r.code}: ${r.message}`));
    const policyWarnings = verdicts.flatMap((v) => v.warnings.map((w) => `${v.fieldPath}: ${w.code}: ${w.message}`));

    const auditAnnotations: Record<string, string> = {
      decision,
      mode,
      digests: JSON.stringify(Object.fromEntries(verdicts.filter((v) => v.digest !== null).map((v) => [v.fieldPath, v.digest]))),
      reasons: JSON.stringify(verdicts.flatMap((v) => [...v.reasons, ...v.warnings].map((r) => ({ field: v.fieldPath, code: r.code, message: r.message })))),
    };
    const warnings = [...policyWarnings, ...(mode === 'warn' ? problemLines : [])].map((w) => clip(w, MAX_WARNING));
    const response: AdmissionResponse = {
      uid: request.uid,
      allowed,
      ...(allowed
        ? {}
        : {
            status: {
              code: 403,
              reason: 'Forbidden',
              message: `modelgate denied ${resource}: ${problems
                .map((v) => `${v.fieldPath} (${v.location ?? '-'}): ${v.reasons.map((r) => `${r.code}: ${r.message} — to fix: ${remedy(r.code)}`).join('; ')}`)
                .join(' | ')}`,
            },
          }),
      ...(warnings.length > 0 ? { warnings } : {}),
      auditAnnotations,
    };
    return {
      review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response },
      summary: { uid: request.uid, resource, operation: request.operation, dryRun: request.dryRun === true, mode, decision, verdicts },
    };
  }

  /**
   * The mutating review: pin every tag-only OCI location to the digest it resolves to now (JSON
   * Patch). Always allowed — the validating review decides — with unresolvable tags as warnings.
   */
  async mutate(body: unknown): Promise<ReviewResult> {
    validate(body);
    const request = body.request;
    const deadlineMs = this.#config.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const namespace = request.namespace ?? '';
    const mode = modeOf(this.#config.modes, namespace);
    const resource = `${request.kind.kind} ${namespace ? `${namespace}/` : ''}${request.name ?? ''}`.trim();
    const summary = { uid: request.uid, resource, operation: request.operation, dryRun: request.dryRun === true, mode, decision: 'allow' as const, verdicts: [] };
    if ((request.operation !== 'CREATE' && request.operation !== 'UPDATE') || !isAdmittedKind(request.kind.kind)) {
      return { review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, allowed: true, auditAnnotations: {} } }, summary };
    }
    const outcome = await pinLocations(request.kind.kind, request.object, this.#deps.stores, { timeoutMs: deadlineMs, signal: AbortSignal.timeout(deadlineMs) });
    const warnings = outcome.problems.map((p) => clip(`${p.fieldPath}: ${p.code}: ${p.message}`, MAX_WARNING));
    const response: AdmissionResponse = {
      uid: request.uid,
      allowed: true,
      ...(outcome.patch.length > 0 ? { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(outcome.patch)).toString('base64') } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
      auditAnnotations: { pinned: JSON.stringify(Object.fromEntries(outcome.pinned.map((p) => [p.fieldPath, p.to]))) },
    };
    return { review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }, summary };
  }

  async #decide(
    location: ModelLocation,
    request: ReviewRequest,
    previous: ReadonlySet<string>,
    deadlineAt: number,
    deadlineSignal: () => AbortSignal,
    credentials?: { readonly scope: string; readonly stores: StoreProvider },
  ): Promise<LocationVerdict> {
    if (location.kind === 'malformed') {
      return failureVerdict(location.fieldPath, null, 'malformed', { code: 'MALFORMED_LOCATION', message: `${location.fieldPath} is not a storage URI string` });
    }
    if (location.kind === 'indirect') {
      return failureVerdict(location.fieldPath, null, 'malformed', {
        code: 'INDIRECT_LOCATION',
        message: `${location.fieldPath} names the model through a storage Secret that admission cannot read; set storageUri to a digest-pinned oci:// reference instead`,
      });
    }
    const deps = credentials === undefined ? this.#deps : { ...this.#deps, stores: credentials.stores };
    const credentialsScope = credentials?.scope ?? this.#config.credentialsScope ?? 'default';
    const namespace = request.namespace ?? '';
    const user = request.userInfo;
    // The verification settings are this reviewer's whatever the review's credentials (only `stores` differs).
    const verification = this.#verificationScope();
    const key = decisionKey({
      location: location.uri,
      namespace,
      resourceKind: request.kind.kind,
      resourceName: request.name ?? '',
      fieldPath: location.fieldPath,
      operation: request.operation,
      username: user.username ?? '',
      userUid: user.uid ?? null,
      groups: user.groups ?? [],
      bundleDigest: deps.engine.bundleDigest,
      dataDigest: deps.engine.dataDigest,
      verification,
      credentialsScope,
    });
    const changed = !previous.has(`${location.fieldPath}\u0000${location.uri}`);
    const { decision, result } = await this.#config.cache.get(key, async () => {
      const evidenceKey = JSON.stringify([location.uri, verification, credentialsScope]);
      const signal = deadlineSignal();
      const time = new Date(this.#clock.now());
      const decision = await this.#afterWarming(evidenceKey, () =>
        decideWithin(location.uri, deadlineAt - this.#clock.now(), signal, () =>
          decideArtifact(
            location.uri,
            {
              mode: 'admission',
              time,
              operation: request.operation,
              user: { username: user.username ?? '', ...(user.uid !== undefined ? { uid: user.uid } : {}), ...(user.groups !== undefined ? { groups: user.groups } : {}) },
              usage: { ...(request.namespace !== undefined ? { namespace: request.namespace } : {}), resourceKind: request.kind.kind, ...(request.name !== undefined ? { resourceName: request.name } : {}), fieldPath: location.fieldPath },
              signal,
            },
            // The review deadline bounds the pipeline through `signal` (→ DEADLINE_EXCEEDED). The
            // per-call registry timeout stays the registry's own: capping it at the time left made
            // two timers race for the same instant, and a registry TIMEOUT could win (timers start
            // from the event loop's cached time) and be reported instead of the deadline.
            deps,
          ),
        ),
      );
      // The policy saw `time`: the decision holds until the next exception expiry after it.
      return { decision, changesAt: nextTimeBoundary(deps.engine.data, time.getTime()) };
    });
    this.#config.onCacheLookup?.(result);
    return verdictOf(location.fieldPath, decision, changed, result);
  }

  /** `verificationScope` of this reviewer's deps, serialised once per deps (a reload makes new deps). */
  #verificationScope(): string {
    if (this.#scope?.deps !== this.#deps) this.#scope = { deps: this.#deps, scope: verificationScope(this.#deps) };
    return this.#scope.scope;
  }

  /** Run `decide` once the decision already running for the same location (if any) has finished. */
  async #afterWarming(evidenceKey: string, decide: () => Promise<ArtifactDecision>): Promise<ArtifactDecision> {
    const warming = this.#warming.get(evidenceKey);
    if (warming !== undefined) await warming; // never rejects (decideWithin catches); bounded by its own deadline
    const running = decide();
    if (warming === undefined) {
      this.#warming.set(evidenceKey, running);
      void running.finally(() => {
        if (this.#warming.get(evidenceKey) === running) this.#warming.delete(evidenceKey);
      });
    }
    return running;
  }
}

/**
 * Run one decision inside the review's deadline. Past it the answer is `unavailable`
 * (DEADLINE_EXCEEDED, fail closed) even if the pipeline is still waiting on a registry; the pipeline
 * is aborted through `signal`. Engine faults become `invalid` (never an allow).
 */
async function decideWithin(location: string, remainingMs: number, signal: AbortSignal, run: () => Promise<ArtifactDecision>): Promise<ArtifactDecision> {
  const exceeded: ArtifactDecision = {
    outcome: 'unavailable',
    location,
    digest: null,
    transient: true,
    failure: { code: 'DEADLINE_EXCEEDED', message: `evidence for ${location} could not be fetched and verified within the review deadline` },
    evidence: null,
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ArtifactDecision>((resolve) => {
    timer = setTimeout(() => resolve(exceeded), Math.max(0, remainingMs));
  });
  try {
    return await Promise.race([
      run().catch((err: unknown): ArtifactDecision => {
        if (signal.aborted) return exceeded;
        const failure = err instanceof ModelgateError ? { code: err.code, message: err.message } : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
        return { outcome: 'invalid', location, digest: null, failure };
      }),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
