/**
 * Typed errors of the Kubernetes API client (`src/k8s/`).
 *
 * Owns: the `K8sErrorCode` vocabulary. Codes are stable; messages may improve. Messages name the
 * verb and resource, never the content of a Secret.
 */
import { ModelgateError } from '../errors.ts';

export const K8S_ERROR_CODES = [
  'K8S_CONFIG', // no usable kubeconfig / in-cluster service account
  'K8S_UNAUTHORIZED', // 401: the token was refused
  'K8S_FORBIDDEN', // 403: RBAC does not allow the call (see docs/webhook.md for the rules)
  'K8S_NOT_FOUND', // 404
  'K8S_CONFLICT', // 409: AlreadyExists / Conflict (optimistic concurrency)
  'K8S_INVALID', // 4xx other than the above (422 invalid patch, 400…), or an answer of the wrong shape
  'K8S_TIMEOUT', // the call did not finish within its timeout
  'K8S_UNAVAILABLE', // connection refused/reset, TLS failure, 5xx
] as const;
export type K8sErrorCode = (typeof K8S_ERROR_CODES)[number];

export class K8sError extends ModelgateError<K8sErrorCode> {
  /** HTTP status, when the API server answered. */
  readonly status: number | undefined;
  constructor(code: K8sErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options);
    this.status = options?.status;
  }
}
