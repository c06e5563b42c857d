/**
 * Errors raised while building, reading or checking dataset manifests.
 *
 * Owns: `DatasetError` and its stable codes.
 */
import { ModelgateError } from '../errors.ts';

export const DATASET_ERROR_CODES = [
  'UNSUPPORTED_ENTRY', // a symlink (without --follow-symlinks), FIFO, socket or device inside the dataset
  'SYMLINK_LOOP', // --follow-symlinks reached a directory that is already being walked
  'BAD_PATH', // a file name is not valid UTF-8, so it has no portable manifest path
  'CHANGED_DURING_SCAN', // a file's size changed between listing and hashing
  'DATASET_BAD_MANIFEST', // a manifest is not valid JSON of the v1 shape, or its root does not match its files
  'NOT_IN_MANIFEST', // an inclusion proof was asked for a path the manifest does not list
  'IN_MANIFEST', // an exclusion proof was asked for a path the manifest lists
  'DATASET_IO', // the dataset or the manifest could not be read or written
] as const;
export type DatasetErrorCode = (typeof DATASET_ERROR_CODES)[number];

export class DatasetError extends ModelgateError<DatasetErrorCode> {}
