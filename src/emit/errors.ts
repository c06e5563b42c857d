/**
 * Errors of the training-side emitter (`modelgate attest run` and `attest evaluate`).
 *
 * Owns: `EmitError` and its stable codes.
 */
import { ModelgateError } from '../errors.ts';

export const EMIT_ERROR_CODES = [
  'COMMAND', // the training command could not be started
  'OUTPUTS', // the outputs directory is missing, empty or unreadable
  'SOURCE', // the source tree's git metadata is unreadable or malformed
  'EMIT_IO', // a provenance file could not be written
  'METRICS', // `attest evaluate`: the metrics file is unreadable, not a flat name → finite number object
  'TOLERANCE', // `attest evaluate`: a --tolerance is malformed, repeated or names no metric
  'REFERENCE', // `attest evaluate`: the reference evaluation is unreadable, of another kind, or its signature does not verify
  'LOCKFILE', // `attest sbom`: a lockfile cannot be parsed
  'SBOM', // `attest sbom`: the generated SBOM does not validate against the CycloneDX schema
] as const;
export type EmitErrorCode = (typeof EMIT_ERROR_CODES)[number];

export class EmitError extends ModelgateError<EmitErrorCode> {}
