/**
 * Typed errors of the admission webhook.
 *
 * Owns: the `AdmissionErrorCode` vocabulary. Codes are stable; messages may improve.
 */
import { ModelgateError } from '../errors.ts';

export const ADMISSION_ERROR_CODES = [
  'REVIEW_INVALID', // the request body is not an admission.k8s.io/v1 AdmissionReview request
  'NOT_READY', // policy or trust material not loaded yet
  'TLS_CONFIG', // the serving certificate or key cannot be read
  'LAYOUT_NOT_ALLOWED', // an oci-layout:// location outside the webhook's --layout-root directories
] as const;
export type AdmissionErrorCode = (typeof ADMISSION_ERROR_CODES)[number];

export class AdmissionError extends ModelgateError<AdmissionErrorCode> {}
