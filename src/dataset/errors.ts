/**
 * Errors raised while building, reading or checking dataset manifests.
 *
 * Owns: `DatasetError` and its stable codes.
 */
import { ModelgateError } from '../errors.ts';

export type DatasetErrorCode =
  | 'UNSUPPORTED_ENTRY' // a symlink (without --follow-symlinks), FIFO, socket or device inside the dataset
  | 'SYMLINK_LOOP' // --follow-symlinks reached a directory that is already being walked
  | 'BAD_PATH' // a file name is not valid UTF-8, so it has no portable manifest path
  | 'CHANGED_DURING_SCAN' // a file's size changed between listing and hashing
  | 'BAD_MANIFEST' // a manifest is not valid JSON of the v1 shape, or its root does not match its files
  | 'NOT_IN_MANIFEST' // an inclusion proof was asked for a path the manifest does not list
  | 'IN_MANIFEST' // an exclusion proof was asked for a path the manifest lists
  | 'IO'; // the dataset or the manifest could not be read or written

export class DatasetError extends ModelgateError<DatasetErrorCode> {}
