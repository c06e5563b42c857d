/**
 * Blob downloads into a file: `downloadBlob` of `RegistryStore`.
 *
 * Owns: the download loop — a temporary file beside the target (or a kept partial file the caller
 * names, continued across runs after re-hashing its prefix), the fast-path answer when the store has
 * one (`plain-blob.ts`) or the undici response otherwise, the status/Content-Range/Content-Length
 * checks, hashing every byte as it is received, bounded by the descriptor size, `Range` resume after a
 * dropped connection, a restart when the server ignores `Range`, and the rename into place once
 * verified. What a GET is (URL, auth, redirects) is the store's (`registry.ts`).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { hasCode, OciError } from '../errors.ts';
import { digestAlgorithm, DigestVerifier, parseDigest, type Digest } from './digest.ts';
import { checkContentLength, discardBody, headerValue, statusError, statusErrorFromBody, transportError, type CallScope, type HttpResponse } from './http.ts';
import type { Descriptor } from './manifest.ts';
import type { PlainBlobAnswer, PlainBlobBody, Received } from './plain-blob.ts';
import type { DownloadOptions } from './store.ts';

/** Downloads pause the response body while more than this many received bytes wait for the disk. */
const DOWNLOAD_QUEUE_BYTES = 4 * 1024 * 1024;
/** Buffers per `writev` call (Linux's IOV_MAX). */
const MAX_WRITEV_BUFFERS = 1024;

/** How a download asks for the blob (from `offset`): the store's fast path and its undici GET. */
export interface BlobGetter {
  /** The store's name, for messages. */
  readonly name: string;
  /** The fast path's answer, or undefined when it does not apply or fell back (then `get` is used). */
  fast(digest: Digest, scope: CallScope, offset: number): Promise<Exclude<PlainBlobAnswer, { kind: 'fallback' }> | undefined>;
  /** The GET through undici, following redirects, answering 401 challenges. */
  get(digest: Digest, scope: CallScope, offset: number): Promise<HttpResponse>;
}

/** The `Docker-Content-Digest` header, parsed; a malformed one is a protocol error. */
export function announcedDigest(response: Pick<HttpResponse, 'headers'>, what: string): Digest | undefined {
  const value = headerValue(response, 'docker-content-digest');
  if (value === undefined || value === '') return undefined;
  try {
    return parseDigest(value.trim());
  } catch {
    throw new OciError('PROTOCOL', `${what}: malformed Docker-Content-Digest "${value.slice(0, 140)}"`);
  }
}

/** For blobs: the registry's own header (not a redirect target's) must name the descriptor's digest. */
export function checkBlobDigestHeader(response: Pick<HttpResponse, 'headers' | 'crossedOrigin'>, expected: Digest, what: string): void {
  if (response.crossedOrigin) return;
  const announced = announcedDigest(response, what);
  if (announced !== undefined && digestAlgorithm(announced) === digestAlgorithm(expected) && announced !== expected) {
    throw new OciError('DIGEST_MISMATCH', `${what}: registry announced ${announced}, expected ${expected}`);
  }
}

/** The `Range` header asking for the rest of a blob from `offset` (none from 0). */
export function rangeFrom(offset: number): Record<string, string> {
  return offset > 0 ? { range: `bytes=${offset}-` } : {};
}

/** Wait `ms`, or less when `signal` fires. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Download `descriptor` into `path` through `source`: see the module header. `scope` is the call's
 * (stall detection; the caller's signal).
 */
export async function downloadBlobTo(
source: BlobGetter,
descriptor: Descriptor,
path: string,
options: DownloadOptions,
scope: CallScope,
): Promise<void> {
  const what = `blob ${source.name}@${descriptor.digest}`;
  const maxResumes = options.maxResumes ?? 3;
  const keep = options.partialPath !== undefined;
  const temporary = options.partialPath ?? join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`);
  const file = keep ? await openKept(temporary) : await open(temporary, 'wx', 0o644);
  let closed = false;
  try {
    let verifier = new DigestVerifier(descriptor.digest, descriptor.size);
    // A kept partial download continues where it stopped. Its prefix is hashed again first: a SHA-256
    // state cannot be saved from node:crypto, and reading the prefix back from the local disk is far
    // cheaper than fetching it again.
    let kept = keep ? await hashKeptPrefix(file, verifier, descriptor.size) : 0;
    let offset = kept;
    if (kept > 0) options.onProgress?.(kept, descriptor.size);
    let retries = 0;
    const retry = async (err: OciError): Promise<void> => {
      if (!err.transient || retries >= maxResumes || scope.callerSignal?.aborted) throw err;
      retries++;
      await sleep(Math.min(2000, 100 * 2 ** (retries - 1)), scope.callerSignal);
      scope.check(what);
    };
    for (;;) {
      let plain: PlainBlobBody | undefined;
      let plainError: Buffer | undefined; // the error body of a plain answer
      let response: Pick<HttpResponse, 'status' | 'headers' | 'crossedOrigin'>;
      try {
        const answer = await source.fast(descriptor.digest, scope, offset);
        if (answer?.kind === 'body') plain = answer;
        else if (answer?.kind === 'error') plainError = answer.body;
        response = answer ? { status: answer.status, headers: answer.headers, crossedOrigin: false } : await source.get(descriptor.digest, scope, offset);
      } catch (err) {
        await retry(transportError(err, what, scope));
        continue;
      }
      const discard = (): void => {
        if (plain) plain.discard();
        else if (plainError === undefined) discardBody(response as HttpResponse);
      };
      if (response.status === 206 && offset > 0) {
        const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerValue(response, 'content-range') ?? '');
        if (!range || Number(range[1]) !== offset) {
          discard();
          throw new OciError('PROTOCOL', `${what}: asked for bytes from ${offset}, got Content-Range "${headerValue(response, 'content-range') ?? ''}"`);
        }
      } else if (response.status === 200) {
        try {
          checkBlobDigestHeader(response, descriptor.digest, what);
          if (offset > 0) {
            // The server ignored Range: start over with a fresh hash and an empty file.
            offset = 0;
            verifier = new DigestVerifier(descriptor.digest, descriptor.size);
            await file.truncate(0);
          }
          const announced = checkContentLength(response, Number.MAX_SAFE_INTEGER, what);
          if (announced !== undefined && announced > descriptor.size) {
            throw new OciError('SIZE_MISMATCH', `${what}: registry announces ${announced} bytes, descriptor says ${descriptor.size}`);
          }
        } catch (err) {
          discard();
          throw err;
        }
      } else if (response.status === 416 && offset > 0) {
        discard();
        const refused = new OciError('REGISTRY_ERROR', `${what}: registry refused the range from byte ${offset}`);
        offset = 0;
        verifier = new DigestVerifier(descriptor.digest, descriptor.size);
        await file.truncate(0);
        await retry(refused);
        continue;
      } else {
        let err: OciError;
        if (plain === undefined && plainError === undefined) err = await statusError(response as HttpResponse, what);
        else {
          discard();
          err = statusErrorFromBody(response.status, plainError ?? Buffer.alloc(0), what);
        }
        await retry(err);
        continue;
      }
      const received = plain
        ? await plain.receive(file, offset, verifier, descriptor.size, options.onProgress)
        : await receiveInto((response as HttpResponse).body, file, offset, verifier, descriptor.size, options.onProgress);
      offset = received.offset;
      if (received.fatal !== undefined) throw received.fatal;
      if (received.dropped !== undefined) {
        await retry(transportError(received.dropped, what, scope));
        continue;
      }
      if (offset < descriptor.size) {
        // A well-framed but short answer: ask for the rest.
        await retry(new OciError('NETWORK', `${what}: response ended after ${offset} of ${descriptor.size} bytes`));
        continue;
      }
      try {
        verifier.finish();
      } catch (err) {
        if (kept === 0 || !hasCode(err, OciError, 'DIGEST_MISMATCH')) throw err;
        // The kept prefix was not what the registry serves (e.g. lost in a machine crash): start over once.
        kept = 0;
        offset = 0;
        verifier = new DigestVerifier(descriptor.digest, descriptor.size);
        await file.truncate(0);
        continue;
      }
      break;
    }
    closed = true;
    await file.close();
    await rename(temporary, path);
  } catch (err) {
    if (!closed) await file.close().catch(() => {});
    // A kept download survives what a retry may cure (timeouts, aborts, a dropped connection), not bad content.
    const local = localFileError(err);
    // A full disk keeps nothing: the partial file would only hold the space that is missing.
    if (!keep || hasCode(err, OciError, 'DIGEST_MISMATCH', 'SIZE_MISMATCH', 'PROTOCOL') || local === 'full') await rm(temporary, { force: true }).catch(() => {});
    // Local file-system failures (ENOSPC, EACCES…) are rethrown as they are, naming the file (a
    // write through a descriptor names none).
    if (local !== undefined && typeof (err as NodeJS.ErrnoException).path !== 'string') (err as NodeJS.ErrnoException).path = temporary;
    throw local !== undefined || typeof (err as { path?: unknown } | null)?.path === 'string' ? err : transportError(err, what, scope);
  }
}

/**
 * Copy a response body into `file` from `startOffset`, hashing every chunk as it arrives and writing
 * the chunks themselves (no copy into staging buffers) with positioned `writev`, one write in flight
 * while the next chunks queue. The body is paused while more than DOWNLOAD_QUEUE_BYTES wait for the
 * disk. Every hashed chunk is written before the promise settles (unless the content or the disk
 * failed), so the returned offset is exactly the hashed prefix and a resume continues the same hash.
 */
function receiveInto(
  body: Readable,
  file: FileHandle,
  startOffset: number,
  verifier: DigestVerifier,
  expectedSize: number,
  onProgress: ((bytesDone: number, bytesTotal: number) => void) | undefined,
): Promise<Received> {
  return new Promise((resolve) => {
    const queue: Buffer[] = [];
    let queuedBytes = 0;
    let position = startOffset; // file offset up to which everything is written
    let writing = false;
    let paused = false;
    let bodyDone = false;
    let dropped: unknown;
    let fatal: unknown;
    let settled = false;

    const settle = (): void => {
      if (settled || !bodyDone || writing) return;
      if (fatal === undefined && queue.length > 0) return;
      settled = true;
      body.off('data', onData);
      resolve({ offset: position, ...(dropped !== undefined ? { dropped } : {}), ...(fatal !== undefined ? { fatal } : {}) });
    };
    const fail = (err: unknown): void => {
      fatal ??= err;
      bodyDone = true;
      body.destroy();
      settle();
    };
    const writeQueued = (): void => {
      if (writing || queue.length === 0 || fatal !== undefined) return;
      const batch = queue.splice(0, MAX_WRITEV_BUFFERS);
      writing = true;
      writevFully(file, batch, position).then(
        (length) => {
          writing = false;
          position += length;
          queuedBytes -= length;
          onProgress?.(position, expectedSize);
          if (paused && !bodyDone && queuedBytes < DOWNLOAD_QUEUE_BYTES) {
            paused = false;
            body.resume();
          }
          writeQueued();
          settle();
        },
        (err: unknown) => {
          writing = false;
          fail(err);
        },
      );
    };
    const onData = (chunk: Buffer): void => {
      if (fatal !== undefined) return;
      if (position + queuedBytes + chunk.byteLength > expectedSize) {
        fail(new OciError('SIZE_MISMATCH', `content for ${verifier.expected} is longer than its descriptor size ${expectedSize}`));
        return;
      }
      try {
        verifier.update(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      queue.push(chunk);
      queuedBytes += chunk.byteLength;
      if (queuedBytes >= DOWNLOAD_QUEUE_BYTES && !paused) {
        paused = true;
        body.pause();
      }
      writeQueued();
    };
    const finishBody = (): void => {
      if (bodyDone) return;
      bodyDone = true;
      settle();
    };
    body.on('data', onData);
    body.once('end', finishBody);
    body.once('error', (err) => {
      dropped ??= err;
      finishBody();
    });
    body.once('close', () => {
      if (!bodyDone) {
        dropped ??= new OciError('NETWORK', 'the response body closed before its end');
        finishBody();
      }
    });
  });
}

/** `full` (ENOSPC, EDQUOT, EFBIG) or `other` for an error of the local file system, undefined for anything else. */
function localFileError(err: unknown): 'full' | 'other' | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') return 'full';
  if (code === 'EROFS' || code === 'EIO' || code === 'EACCES' || code === 'EPERM') return 'other';
  return undefined;
}

/** Open (or create) a kept partial download for positioned writes (not O_APPEND: pwrite must honour offsets). */
async function openKept(path: string): Promise<FileHandle> {
  // O_CREAT without O_EXCL or O_TRUNC: an existing file is continued, a missing one created (the caller holds the path exclusively).
  return open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
}

/** Feed the kept prefix of a partial download to `verifier`; returns its length (0 after truncating an oversized file). */
async function hashKeptPrefix(file: FileHandle, verifier: DigestVerifier, size: number): Promise<number> {
  const length = (await file.stat()).size;
  if (length > size) {
    await file.truncate(0);
    return 0;
  }
  const buffer = Buffer.allocUnsafe(Math.min(length, 4 * 1024 * 1024));
  let position = 0;
  while (position < length) {
    const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, length - position), position);
    if (bytesRead === 0) break;
    verifier.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return position;
}

/** Write `buffers` back to back at `position`, continuing after short writes; resolves to the byte count. */
async function writevFully(file: FileHandle, buffers: Buffer[], position: number): Promise<number> {
  let total = 0;
  for (const buffer of buffers) total += buffer.byteLength;
  let rest = buffers;
  let written = 0;
  while (written < total) {
    const { bytesWritten } = await file.writev(rest, position + written);
    if (bytesWritten === 0) throw new OciError('NETWORK', 'disk write made no progress');
    written += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const buffer of rest) {
      if (skip >= buffer.byteLength) {
        skip -= buffer.byteLength;
        continue;
      }
      next.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
    rest = next;
  }
  return total;
}
