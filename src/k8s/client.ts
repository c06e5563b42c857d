/**
 * The Kubernetes API calls modelgate makes, through `@kubernetes/client-node`.
 *
 * Owns: `KubeClient` — loading the connection (a kubeconfig file, else the in-cluster service account:
 * token and CA under /var/run/secrets/kubernetes.io/serviceaccount), a timeout on every call (an
 * AbortSignal set by a request middleware), and turning failures into coded `K8sError`s
 * (K8S_FORBIDDEN, K8S_TIMEOUT, K8S_UNAVAILABLE…) whose messages name the verb and resource only —
 * never a response body, which for Secrets could hold credentials. The calls are exactly those listed
 * under "RBAC" in docs/webhook.md: Secrets get/create/update, namespaces get, serviceaccounts get,
 * (validating|mutating)webhookconfigurations get/patch (JSON Patch).
 */
import { existsSync } from 'node:fs';
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  KubeConfig,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1MutatingWebhookConfiguration,
  type V1Namespace,
  type V1Secret,
  type V1ServiceAccount,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { K8sError, type K8sErrorCode } from './errors.ts';

/** Default timeout of one API call. */
export const DEFAULT_K8S_TIMEOUT_MS = 5_000;

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type WebhookConfigurationKind = 'validating' | 'mutating';
export type WebhookConfiguration = V1ValidatingWebhookConfiguration | V1MutatingWebhookConfiguration;

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  readonly op: 'add' | 'replace' | 'test' | 'remove';
  readonly path: string;
  readonly value?: unknown;
}

export interface KubeClientOptions {
  /** A kubeconfig file; without it the in-cluster service account is used. */
  readonly kubeconfig?: string;
  /** Timeout of each call in milliseconds (default 5 s). */
  readonly timeoutMs?: number;
}

function codeOfStatus(status: number): K8sErrorCode {
  if (status === 401) return 'K8S_UNAUTHORIZED';
  if (status === 403) return 'K8S_FORBIDDEN';
  if (status === 404) return 'K8S_NOT_FOUND';
  if (status === 409) return 'K8S_CONFLICT';
  if (status >= 500 || status === 429) return 'K8S_UNAVAILABLE';
  return 'K8S_INVALID';
}

/** The `reason` of a Kubernetes Status body, when the body is one (nothing else of it is quoted). */
function statusReason(body: unknown): string | undefined {
  let doc = body;
  if (typeof body === 'string') {
    try {
      doc = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'Status') {
    const reason = (doc as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason.slice(0, 64) : undefined;
  }
  return undefined;
}

export class KubeClient {
  readonly #core: CoreV1Api;
  readonly #admission: AdmissionregistrationV1Api;
  readonly #timeoutMs: number;
  /** The API server URL (for messages). */
  readonly server: string;

  private constructor(config: KubeConfig, timeoutMs: number) {
    this.#core = config.makeApiClient(CoreV1Api);
    this.#admission = config.makeApiClient(AdmissionregistrationV1Api);
    this.#timeoutMs = timeoutMs;
    this.server = config.getCurrentCluster()?.server ?? '(unknown)';
  }

  static load(options: KubeClientOptions = {}): KubeClient {
    const config = new KubeConfig();
    try {
      if (options.kubeconfig !== undefined) {
        config.loadFromFile(options.kubeconfig);
      } else {
        if (process.env['KUBERNETES_SERVICE_HOST'] === undefined || !existsSync(`${SERVICE_ACCOUNT_DIR}/token`)) {
          throw new Error(`not running in a cluster (no KUBERNETES_SERVICE_HOST or ${SERVICE_ACCOUNT_DIR}/token); pass --kubeconfig`);
        }
        config.loadFromCluster();
      }
    } catch (err) {
      throw new K8sError('K8S_CONFIG', `cannot load the Kubernetes client configuration: ${(err as Error).message}`, { cause: err });
    }
    if (config.getCurrentCluster() === null) throw new K8sError('K8S_CONFIG', 'the kubeconfig has no current cluster');
    return new KubeClient(config, options.timeoutMs ?? DEFAULT_K8S_TIMEOUT_MS);
  }

  /** The Secret, or undefined when it does not exist. */
  async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.#optional(`get secret ${namespace}/${name}`, (options) => this.#core.readNamespacedSecret({ namespace, name }, options));
  }

  async createSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    return this.#call(`create secret ${namespace}/${secret.metadata?.name ?? ''}`, (options) => this.#core.createNamespacedSecret({ namespace, body: secret }, options));
  }

  /** Replace with optimistic concurrency: `secret.metadata.resourceVersion` must be the current one (else K8S_CONFLICT). */
  async replaceSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    const name = secret.metadata?.name ?? '';
    return this.#call(`update secret ${namespace}/${name}`, (options) => this.#core.replaceNamespacedSecret({ namespace, name, body: secret }, options));
  }

  async readNamespace(name: string): Promise<V1Namespace | undefined> {
    return this.#optional(`get namespace ${name}`, (options) => this.#core.readNamespace({ name }, options));
  }

  async readServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    return this.#optional(`get serviceaccount ${namespace}/${name}`, (options) => this.#core.readNamespacedServiceAccount({ namespace, name }, options));
  }

  async readWebhookConfiguration(kind: WebhookConfigurationKind, name: string): Promise<WebhookConfiguration> {
    return this.#call(`get ${kind}webhookconfiguration ${name}`, (options) =>
      kind === 'validating' ? this.#admission.readValidatingWebhookConfiguration({ name }, options) : this.#admission.readMutatingWebhookConfiguration({ name }, options),
    );
  }

  /** JSON Patch (`application/json-patch+json`, the client's default for these resources). */
  async patchWebhookConfiguration(kind: WebhookConfigurationKind, name: string, patch: readonly JsonPatchOperation[]): Promise<WebhookConfiguration> {
    return this.#call(`patch ${kind}webhookconfiguration ${name}`, (options) =>
      kind === 'validating'
        ? this.#admission.patchValidatingWebhookConfiguration({ name, body: patch }, options)
        : this.#admission.patchMutatingWebhookConfiguration({ name, body: patch }, options),
    );
  }

  async #optional<T>(what: string, run: (options: CallOptions) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.#call(what, run);
    } catch (err) {
      if (err instanceof K8sError && err.code === 'K8S_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** One call with its own timeout; every failure becomes a K8sError naming `what`. */
  async #call<T>(what: string, run: (options: CallOptions) => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const options: CallOptions = {
      middleware: [
        {
          pre: (context: RequestContext) => {
            context.setSignal(signal);
            return resolved(context);
          },
          post: (response: ResponseContext) => resolved(response),
        },
      ],
      middlewareMergeStrategy: 'append',
    };
    try {
      return await run(options);
    } catch (err) {
      if (err instanceof ApiException) {
        const status = (err as ApiException<unknown>).code;
        const reason = statusReason((err as ApiException<unknown>).body);
        throw new K8sError(codeOfStatus(status), `Kubernetes API ${what}: ${status}${reason ? ` ${reason}` : ''}`, { status });
      }
      if (signal.aborted) throw new K8sError('K8S_TIMEOUT', `Kubernetes API ${what}: no answer from ${this.server} within ${this.#timeoutMs} ms`);
      const cause = err as Error & { cause?: { code?: string; message?: string } };
      const detail = cause.cause?.code ?? cause.cause?.message ?? cause.message;
      throw new K8sError('K8S_UNAVAILABLE', `Kubernetes API ${what}: ${this.server} unreachable (${detail})`);
    }
  }
}

type CallOptions = ConfigurationOptions<ObservableMiddleware>;

/**
 * The object-parameter API runs middleware as the generated code's own minimal observables (it
 * only calls `toPromise()`), which the package does not export: this is one, already resolved.
 */
function resolved<T>(value: T): ReturnType<ObservableMiddleware['pre']> & ReturnType<ObservableMiddleware['post']> {
  const observable = { promise: Promise.resolve(value), toPromise: () => Promise.resolve(value), pipe: () => observable };
  return observable as unknown as ReturnType<ObservableMiddleware['pre']> & ReturnType<ObservableMiddleware['post']>;
}
