/**
 * Errors of the training-side emitter (`modelgate attest run`).
 *
 * Owns: `EmitError` and its stable codes.
 */
import { ModelgateError } from '../errors.ts';

export type EmitErrorCode =
  | 'COMMAND' // the training command could not be started
  | 'OUTPUTS' // the outputs directory is missing, empty or unreadable
  | 'SOURCE' // the source tree's git metadata is unreadable or malformed
  | 'IO'; // a provenance file could not be written

export class EmitError extends ModelgateError<EmitErrorCode> {}
