/**
 * Typed errors of the policy layer (toolchain, bundles, engine, inputs).
 *
 * Owns: the `PolicyErrorCode` vocabulary. Codes are stable; messages may improve.
 */
import { ModelgateError } from '../errors.ts';

export const POLICY_ERROR_CODES = [
  'OPA_NOT_FOUND', // the opa binary is missing or not executable
  'OPA_CHECKSUM', // the opa binary does not hash to the pinned sha256 (refused before use)
  'OPA_FAILED', // opa check / test / build / eval exited non-zero or timed out
  'BUNDLE_INVALID', // a policy bundle is missing files, has a malformed manifest or unsupported version
  'BUNDLE_DIGEST_MISMATCH', // a bundle file does not hash to the digest its manifest records
  'POLICY_LOAD', // the wasm module could not be instantiated or lacks the entrypoint
  'POLICY_EVAL', // evaluation threw or returned a result of the wrong shape
  'SELF_TEST_FAILED', // a (re)loaded policy did not give the expected decisions on its self-test inputs
  'INPUT_INVALID', // a policy input does not match the input JSON Schema
  'DATA_INVALID', // policy data (allowlists) does not match the data JSON Schema
] as const;
export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[number];

export class PolicyError extends ModelgateError<PolicyErrorCode> {}
