/**
 * `RegistryStore`: one repository of an OCI distribution registry, as an `ArtifactStore`.
 *
 * Owns: the distribution API calls (manifests, blobs, uploads, tags, referrers) and the verification
 * the store contract promises — manifests are hashed from their raw bytes and checked against the
 * requested digest and `Docker-Content-Digest`; blobs are hashed as they stream, bounded by their
 * descriptor size. Downloads into a file (temporary or kept partial file, `Range` resume, rename once
 * verified) live in `blob-download.ts`, the plain-HTTP receive in `plain-blob.ts`. Transport, redirects
 * and error mapping live in `http.ts`; 401 handling in `auth.ts`; the referrers tag fallback in `referrers.ts`.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { Transform, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { OciError, UsageError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { RegistryAuthenticator, parseWwwAuthenticate } from './auth.ts';
import { announcedDigest, checkBlobDigestHeader, downloadBlobTo, rangeFrom, sleep, type BlobGetter } from './blob-download.ts';
import { ANONYMOUS, type CredentialSource } from './credentials.ts';
import { digestAlgorithm, digestOf, DigestVerifier, isDigest, type Digest } from './digest.ts';
import {
  CallScope,
  checkContentLength,
  defaultDispatcher,
  describeUrl,
  dispatcherFromEnvironment,
  discardBody,
  headerValue,
  headerValues,
  nextLink,
  readBody,
  registryBaseUrl,
  sendHttp,
  statusError,
  statusErrorFromBody,
  transportError,
  type HttpBody,
  type HttpMethod,
  type HttpResponse,
} from './http.ts';
import { MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES, MediaType, parseManifest, type Descriptor, type FetchedManifest, type ImageIndex } from './manifest.ts';
import { plainBlobEligible, plainBlobGet, PlainBlobPool, type PlainBlobAnswer } from './plain-blob.ts';
import { addToFallbackIndex, referrerDescriptor, validatedReferrers, fallbackReferrers, readFallbackIndex } from './referrers.ts';
import type {
  ArtifactStore,
  BlobReadOptions,
  BlobSource,
  CallOptions,
  DownloadOptions,
  PushManifestOptions,
  PushBlobOptions,
  ReferrersOptions,
} from './store.ts';

export interface RegistryLocation {
  /** `host[:port]` as in a parsed reference (`docker.io` for Docker Hub). */
  readonly registry: string;
  /** Repository path, e.g. `acme/models/llama`. */
  readonly repository: string;
}

export interface RegistryOptions {
  /** Where credentials come from (default: anonymous). */
  readonly credentials?: CredentialSource;
  /** Hosts (`host` or `host:port`) reached over plain HTTP; loopback hosts always are. */
  readonly plainHttpRegistries?: readonly string[];
  /** undici dispatcher (default: a process-wide keep-alive Agent honouring HTTP(S)_PROXY). */
  readonly dispatcher?: Dispatcher;
  /**
   * Extra CA certificates (PEM) to trust for this registry, on top of Node's roots: gives the store its
   * own dispatcher (ignored when `dispatcher` is set). NODE_EXTRA_CA_CERTS works process-wide too.
   */
  readonly caCertificates?: readonly (string | Buffer)[];
  /** Use HTTPS for loopback hosts too (default: loopback is plain HTTP). */
  readonly httpsForLoopback?: boolean;
  /**
   * `downloadBlob` receives on a socket of its own (`plain-blob.ts`, far less CPU per byte; kept alive
   * for the store's next blobs, at most 16 idle connections) when no
   * dispatcher is given and no proxy applies: over plain HTTP always, over HTTPS for blobs of at least
   * 1 MiB (smaller ones reuse undici's kept-alive TLS connections). `false` keeps every call on undici.
   */
  readonly plainBlobSocket?: boolean;
  /** Default per-call timeout in ms when the call gives none (default 30 000). */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** Files larger than this are uploaded in chunks with PATCH (default 64 MiB). */
  readonly chunkedUploadThreshold?: number;
  /** Chunk size of PATCH uploads (default 32 MiB). */
  readonly uploadChunkSize?: number;
  /** `never`: skip the referrers API and use the tag fallback only (default `auto`). */
  readonly referrersApi?: 'auto' | 'never';
  /** Ask for tags in pages of this size (`?n=`); default: let the registry choose. */
  readonly tagPageSize?: number;
  /**
   * Share tokens between stores of the same registry (e.g. one per repository): pass the
   * `authenticator` of another store, or one built with `new RegistryAuthenticator(...)`.
   */
  readonly authenticator?: RegistryAuthenticator;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Over HTTPS the own-socket download pays a TLS handshake (resumed after the first): smaller blobs stay on undici's pool. */
const TLS_FAST_PATH_MIN_BYTES = 1024 * 1024;
const DEFAULT_FETCH_BLOB_LIMIT = 16 * 1024 * 1024;
const MAX_TAG_PAGE_BYTES = 4 * 1024 * 1024;
const MAX_PAGES = 1000;
/** Extra attempts for small idempotent reads after a 5xx or a broken connection. */
const SMALL_READ_RETRIES = 2;
/** File blobs up to this size are read into memory, checked against their digest and sent in one PUT. */
const IN_MEMORY_UPLOAD_BYTES = 4 * 1024 * 1024;
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

type Access = 'pull' | 'pull,push';

interface Exchange {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly access: Access;
  readonly headers?: Record<string, string>;
  readonly body?: HttpBody;
  readonly followRedirects?: boolean;
  readonly highWaterMark?: number;
}

function checkSelector(selector: string): void {
  if (!isDigest(selector) && !TAG_PATTERN.test(selector)) {
    throw new OciError('BAD_REFERENCE', `"${selector.slice(0, 140)}" is neither a tag nor a digest`);
  }
}

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const value = contentType?.split(';')[0]?.trim();
  return value === '' ? undefined : value;
}

export class RegistryStore implements ArtifactStore {
  readonly name: string;
  readonly registry: string;
  readonly repository: string;
  readonly #base: URL;
  readonly #dispatcher: Dispatcher;
  #plainBlobSocket: boolean;
  /** The fast path's trusted CAs over HTTPS (undefined: Node's defaults) and its last TLS session. */
  readonly #fastPathCa: readonly (string | Buffer)[] | undefined;
  #tlsSession: Buffer | undefined;
  /** The fast path's idle connections (one pool per store: the store's TLS configuration is the same for all). */
  readonly #plainBlobPool = new PlainBlobPool();
  readonly #auth: RegistryAuthenticator;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #chunkThreshold: number;
  readonly #chunkSize: number;
  readonly #tagPageSize: number | undefined;
  #referrersApi: 'unknown' | 'supported' | 'unsupported';

  constructor(location: RegistryLocation, options: RegistryOptions = {}) {
    this.registry = location.registry.toLowerCase();
    this.repository = location.repository;
    this.name = `${this.registry}/${this.repository}`;
    this.#base = registryBaseUrl(this.registry, options.plainHttpRegistries, options.httpsForLoopback);
    this.#dispatcher =
      options.dispatcher ??
      (options.caCertificates?.length ? dispatcherFromEnvironment(process.env, { caCertificates: options.caCertificates }) : defaultDispatcher());
    // The proxy variables undici's EnvHttpProxyAgent would use for this scheme (https falls back to http_proxy).
    const env = process.env;
    const proxied = Boolean(env.http_proxy || env.HTTP_PROXY || (this.#base.protocol === 'https:' && (env.https_proxy || env.HTTPS_PROXY)));
    this.#plainBlobSocket = (options.plainBlobSocket ?? true) && options.dispatcher === undefined && !proxied;
    this.#fastPathCa = options.caCertificates?.length ? [...rootCertificates, ...options.caCertificates] : undefined;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#userAgent = options.userAgent ?? `modelgate/${VERSION}`;
    this.#chunkThreshold = options.chunkedUploadThreshold ?? 64 * 1024 * 1024;
    this.#chunkSize = Math.max(1, options.uploadChunkSize ?? 32 * 1024 * 1024);
    this.#referrersApi = options.referrersApi === 'never' ? 'unsupported' : 'unknown';
    this.#tagPageSize = options.tagPageSize;
    if (options.authenticator !== undefined && options.authenticator.registry !== this.registry) {
      throw new UsageError('USAGE', `an authenticator for ${options.authenticator.registry} cannot serve ${this.registry}`);
    }
    this.#auth = options.authenticator ?? new RegistryAuthenticator({
      registry: this.registry,
      credentials: options.credentials ?? ANONYMOUS,
      dispatcher: this.#dispatcher,
      plainHttpRegistries: options.plainHttpRegistries ?? [],
      userAgent: this.#userAgent,
    });
  }

  /** This store's authenticator (tokens, Basic state): pass it to other stores of the same registry. */
  get authenticator(): RegistryAuthenticator {
    return this.#auth;
  }

  #url(path: string): URL {
    return new URL(`/v2/${this.repository}/${path}`, this.#base);
  }

  /** A call with an overall deadline (small requests) or with stall detection only (streams, uploads). */
  #scope(options: CallOptions | undefined, streaming: boolean): CallScope {
    return new CallScope(options?.signal, options?.timeoutMs ?? this.#timeoutMs, !streaming);
  }

  #headers(extra: Readonly<Record<string, string>> | undefined, authorization: string | undefined): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...extra };
    if (authorization !== undefined) headers.authorization = authorization;
    return headers;
  }

  /**
   * Send a request with authentication: the known Authorization first; on a 401 with a challenge,
   * answer it once and resend. A second 401 is returned to the caller (→ UNAUTHORIZED), never looped.
   */
  async #exchange(req: Exchange, scope: CallScope): Promise<HttpResponse> {
    const authScope = `repository:${this.repository}:${req.access}`;
    const what = `${req.method} ${describeUrl(req.url)}`;
    scope.check(what);
    let authorization = await this.#auth.authorizationFor(authScope, scope, what);
    for (let attempt = 0; ; attempt++) {
      const headers = this.#headers(req.headers, authorization);
      const response = await sendHttp(
        this.#dispatcher,
        {
          method: req.method,
          url: req.url,
          headers,
          body: req.body,
          signal: scope.signal,
          headersTimeoutMs: scope.timeoutMs,
          bodyTimeoutMs: scope.timeoutMs,
          followRedirects: req.followRedirects,
          highWaterMark: req.highWaterMark,
        },
        scope,
      );
      if (response.status !== 401 || response.crossedOrigin || attempt > 0) return response;
      const challenges = parseWwwAuthenticate(headerValues(response, 'www-authenticate'));
      if (challenges.length === 0) return response;
      discardBody(response);
      authorization = await this.#auth.answerChallenge(challenges, authScope, scope, what, authorization);
    }
  }

  /**
   * Run an idempotent read, retrying transient failures (5xx, connection errors) up to
   * `SMALL_READ_RETRIES` times with a short backoff, within the call's deadline. Timeouts are not
   * retried: the deadline covers all attempts.
   */
  async #retrying<T>(scope: CallScope, attempt: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await attempt();
      } catch (err) {
        const retryable = err instanceof OciError && err.transient && err.code !== 'TIMEOUT';
        if (!retryable || retry >= SMALL_READ_RETRIES || scope.signal?.aborted) throw err;
        await sleep(100 * 3 ** retry, scope.signal);
        if (scope.signal?.aborted) throw err;
      }
    }
  }

  async #expect(response: HttpResponse, statuses: readonly number[], what: string): Promise<void> {
    if (!statuses.includes(response.status)) throw await statusError(response, what);
  }

  // ---------------------------------------------------------------------------------------------
  // Manifests

  async resolve(selector: string, options?: CallOptions): Promise<Descriptor> {
    checkSelector(selector);
    const scope = this.#scope(options, false);
    return this.#retrying(scope, () => this.#resolveOnce(selector, scope));
  }

  async #resolveOnce(selector: string, scope: CallScope): Promise<Descriptor> {
    const url = this.#url(`manifests/${selector}`);
    const what = `resolve ${this.name}:${selector}`;
    let response: HttpResponse;
    try {
      response = await this.#exchange({ method: 'HEAD', url, access: 'pull', headers: { accept: MANIFEST_ACCEPT } }, scope);
    } catch (err) {
      throw transportError(err, what, scope);
    }
    discardBody(response);
    if (response.status === 200) {
      const announced = announcedDigest(response, what);
      const mediaType = mediaTypeOf(headerValue(response, 'content-type'));
      const size = Number(headerValue(response, 'content-length'));
      if (isDigest(selector) && announced !== undefined && digestAlgorithm(announced) === digestAlgorithm(selector) && announced !== selector) {
        throw new OciError('DIGEST_MISMATCH', `${what}: registry announced ${announced}`);
      }
      const digest = isDigest(selector) ? selector : announced;
      if (digest !== undefined && mediaType !== undefined && MANIFEST_MEDIA_TYPES.includes(mediaType) && Number.isSafeInteger(size) && size > 0) {
        if (size > MAX_MANIFEST_BYTES) throw new OciError('TOO_LARGE', `${what}: manifest is ${size} bytes, limit ${MAX_MANIFEST_BYTES}`);
        return { mediaType, digest, size };
      }
    } else if (response.status !== 405 && response.status !== 400) {
      // Some registries refuse HEAD (405) or answer it oddly; everything else is an answer.
      throw await statusError(response, what);
    }
    // HEAD gave no usable digest, size or type: fetch the manifest and hash it ourselves.
    return (await this.#fetchManifestOnce(selector, scope)).descriptor;
  }

  async fetchManifest(selector: string, options?: CallOptions): Promise<FetchedManifest> {
    checkSelector(selector);
    const scope = this.#scope(options, false);
    return this.#retrying(scope, () => this.#fetchManifestOnce(selector, scope));
  }

  async #fetchManifestOnce(selector: string, scope: CallScope): Promise<FetchedManifest> {
    const url = this.#url(`manifests/${selector}`);
    const what = `manifest ${this.name}${isDigest(selector) ? '@' : ':'}${selector}`;
    try {
      const response = await this.#exchange({ method: 'GET', url, access: 'pull', headers: { accept: MANIFEST_ACCEPT } }, scope);
      await this.#expect(response, [200], what);
      const announced = announcedDigest(response, what);
      const bytes = await readBody(response, MAX_MANIFEST_BYTES, what, scope);
      const requested = isDigest(selector) ? selector : undefined;
      const algorithm = requested ? digestAlgorithm(requested) : announced ? digestAlgorithm(announced) : 'sha256';
      const actual = digestOf(bytes, algorithm);
      if (requested !== undefined && actual !== requested) {
        throw new OciError('DIGEST_MISMATCH', `${what}: content hashes to ${actual}`);
      }
      if (announced !== undefined && digestOf(bytes, digestAlgorithm(announced)) !== announced) {
        throw new OciError('DIGEST_MISMATCH', `${what}: content does not hash to the announced Docker-Content-Digest ${announced}`);
      }
      const manifest = parseManifest(bytes, headerValue(response, 'content-type'));
      return { descriptor: { mediaType: manifest.mediaType, digest: actual, size: bytes.byteLength }, bytes, manifest };
    } catch (err) {
      throw transportError(err, what, scope);
    }
  }

  async pushManifest(bytes: Uint8Array, mediaType: string, options: PushManifestOptions = {}): Promise<Descriptor> {
    if (bytes.byteLength > MAX_MANIFEST_BYTES) throw new OciError('TOO_LARGE', `manifest is ${bytes.byteLength} bytes, limit ${MAX_MANIFEST_BYTES}`);
    if (options.tag !== undefined && !TAG_PATTERN.test(options.tag)) throw new OciError('BAD_REFERENCE', `invalid tag "${options.tag.slice(0, 140)}"`);
    const manifest = parseManifest(bytes, mediaType);
    const digest = digestOf(bytes);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.byteLength };
    const scope = this.#scope(options, false);
    const subjectProcessed = await this.#putManifest(Buffer.from(bytes), mediaType, digest, scope);
    if (options.tag !== undefined) await this.#putManifest(Buffer.from(bytes), mediaType, options.tag, scope);
    if (manifest.subject !== undefined && !subjectProcessed) {
      const referrer = referrerDescriptor({ descriptor, bytes: Buffer.from(bytes), manifest });
      await addToFallbackIndex(
        this,
        async (index, tag) => {
          await this.#putManifest(index, MediaType.OCI_INDEX, tag, scope);
        },
        manifest.subject.digest,
        referrer,
        options,
      );
    }
    return descriptor;
  }

  /** PUT one manifest; returns true when the registry says it processed the subject (`OCI-Subject`). */
  async #putManifest(bytes: Buffer, mediaType: string, reference: string, scope: CallScope): Promise<boolean> {
    const url = this.#url(`manifests/${reference}`);
    const what = `push manifest ${this.name}${isDigest(reference) ? '@' : ':'}${reference}`;
    try {
      const response = await this.#exchange(
        { method: 'PUT', url, access: 'pull,push', headers: { 'content-type': mediaType, 'content-length': String(bytes.byteLength) }, body: bytes },
        scope,
      );
      await this.#expect(response, [200, 201], what);
      discardBody(response);
      const announced = announcedDigest(response, what);
      const digest = digestOf(bytes, announced ? digestAlgorithm(announced) : 'sha256');
      if (announced !== undefined && announced !== digest) throw new OciError('DIGEST_MISMATCH', `${what}: registry stored ${announced}, we sent ${digest}`);
      return headerValue(response, 'oci-subject') !== undefined;
    } catch (err) {
      throw transportError(err, what, scope);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Blobs: reads

  /** GET a blob (optionally from `offset`), following redirects to object storage. */
  async #getBlob(digest: Digest, scope: CallScope, offset = 0): Promise<HttpResponse> {
    return this.#exchange(
      {
        method: 'GET',
        url: this.#url(`blobs/${digest}`),
        access: 'pull',
        headers: rangeFrom(offset),
        highWaterMark: 1024 * 1024,
      },
      scope,
    );
  }

  /**
   * The download fast path: the same GET with the known Authorization on a plain-HTTP or TLS socket of its
   * own. `undefined` when it does not apply or fell back (a 401 challenge, a redirect…): the caller
   * then asks through undici. A registry that redirected blobs once is asked through undici from then on.
   */
  async #plainBlobGet(digest: Digest, scope: CallScope, offset: number, bytesLeft: number): Promise<Exclude<PlainBlobAnswer, { kind: 'fallback' }> | undefined> {
    if (!this.#plainBlobSocket) return undefined;
    const url = this.#url(`blobs/${digest}`);
    const tls = url.protocol === 'https:';
    if (tls && bytesLeft < TLS_FAST_PATH_MIN_BYTES) return undefined;
    scope.check(`GET ${describeUrl(url)}`);
    const headers = this.#headers(rangeFrom(offset), await this.#auth.authorizationFor(`repository:${this.repository}:pull`));
    if (!plainBlobEligible(url, headers)) return undefined;
    const answer = await plainBlobGet({
      url,
      headers,
      signal: scope.signal,
      headersTimeoutMs: scope.timeoutMs,
      bodyTimeoutMs: scope.timeoutMs,
      pool: this.#plainBlobPool,
      ...(tls ? { ca: this.#fastPathCa, tlsSession: this.#tlsSession, onTlsSession: (session: Buffer) => (this.#tlsSession = session) } : {}),
    });
    if (answer.kind !== 'fallback') return answer;
    if (answer.reason === 'redirect') this.#plainBlobSocket = false;
    return undefined;
  }

  async downloadBlob(descriptor: Descriptor, path: string, options: DownloadOptions = {}): Promise<void> {
    const getter: BlobGetter = {
      name: this.name,
      fast: (digest, scope, offset) => this.#plainBlobGet(digest, scope, offset, descriptor.size - offset),
      get: (digest, scope, offset) => this.#getBlob(digest, scope, offset),
    };
    return downloadBlobTo(getter, descriptor, path, options, this.#scope(options, true));
  }

  async hasBlob(digest: Digest, options?: CallOptions): Promise<boolean> {
    const scope = this.#scope(options, false);
    return this.#retrying(scope, () => this.#hasBlobOnce(digest, scope));
  }

  async #hasBlobOnce(digest: Digest, scope: CallScope): Promise<boolean> {
    const what = `blob ${this.name}@${digest}`;
    try {
      const response = await this.#exchange({ method: 'HEAD', url: this.#url(`blobs/${digest}`), access: 'pull' }, scope);
      discardBody(response);
      if (response.status === 200) return true;
      if (response.status === 404) return false;
      throw await statusError(response, what);
    } catch (err) {
      throw transportError(err, what, scope);
    }
  }

  async fetchBlob(descriptor: Descriptor, options: BlobReadOptions = {}): Promise<Buffer> {
    const limit = options.maxBytes ?? DEFAULT_FETCH_BLOB_LIMIT;
    const what = `blob ${this.name}@${descriptor.digest}`;
    if (descriptor.size > limit) throw new OciError('TOO_LARGE', `${what}: descriptor size ${descriptor.size} exceeds the limit of ${limit} bytes`);
    const scope = this.#scope(options, false);
    return this.#retrying(scope, () => this.#fetchBlobOnce(descriptor, limit, scope));
  }

  async #fetchBlobOnce(descriptor: Descriptor, limit: number, scope: CallScope): Promise<Buffer> {
    const what = `blob ${this.name}@${descriptor.digest}`;
    try {
      const response = await this.#getBlob(descriptor.digest, scope);
      await this.#expect(response, [200], what);
      checkBlobDigestHeader(response, descriptor.digest, what);
      const announced = checkContentLength(response, limit, what);
      if (announced !== undefined && announced !== descriptor.size) {
        discardBody(response);
        throw new OciError('SIZE_MISMATCH', `${what}: registry announces ${announced} bytes, descriptor says ${descriptor.size}`);
      }
      const verifier = new DigestVerifier(descriptor.digest, descriptor.size);
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          verifier.update(chunk);
          chunks.push(chunk);
        }
      } catch (err) {
        response.body.destroy();
        throw err;
      }
      verifier.finish();
      return Buffer.concat(chunks, verifier.received);
    } catch (err) {
      throw transportError(err, what, scope);
    }
  }

  async openBlob(descriptor: Descriptor, options?: CallOptions): Promise<Readable> {
    const what = `blob ${this.name}@${descriptor.digest}`;
    const scope = this.#scope(options, true);
    let response: HttpResponse;
    try {
      response = await this.#getBlob(descriptor.digest, scope);
      await this.#expect(response, [200], what);
      checkBlobDigestHeader(response, descriptor.digest, what);
      const announced = checkContentLength(response, Number.MAX_SAFE_INTEGER, what);
      if (announced !== undefined && announced !== descriptor.size) {
        discardBody(response);
        throw new OciError('SIZE_MISMATCH', `${what}: registry announces ${announced} bytes, descriptor says ${descriptor.size}`);
      }
    } catch (err) {
      throw transportError(err, what, scope);
    }
    const body = response.body;
    const verifier = new DigestVerifier(descriptor.digest, descriptor.size);
    const verified = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        try {
          verifier.update(chunk);
        } catch (err) {
          callback(err as Error);
          return;
        }
        callback(null, chunk);
      },
      flush(callback) {
        try {
          verifier.finish();
        } catch (err) {
          callback(err as Error);
          return;
        }
        callback();
      },
    });
    body.on('error', (err) => verified.destroy(transportError(err, what, scope)));
    verified.on('close', () => {
      if (!body.destroyed) body.destroy();
    });
    body.pipe(verified);
    return verified;
  }

  // ---------------------------------------------------------------------------------------------
  // Blobs: writes

  /**
   * Upload a blob unless the registry has it (HEAD first). Blobs up to `chunkedUploadThreshold` go up
   * monolithically — POST to open the session, one PUT `?digest=` with the content; distribution 2.8
   * answers the one-request `POST ?digest=` form with an upload session, so it is not tried. Files up
   * to IN_MEMORY_UPLOAD_BYTES are read once and checked against their digest here (a file changed since
   * it was hashed is refused with DIGEST_MISMATCH before anything is sent); larger ones stream from disk
   * and the registry checks the digest on PUT. Larger still: PATCH chunks, progress after each.
   */
  async pushBlob(source: BlobSource, options?: PushBlobOptions): Promise<Descriptor> {
    const descriptor: Descriptor =
      source.kind === 'bytes'
        ? { mediaType: source.mediaType, digest: digestOf(source.bytes), size: source.bytes.byteLength }
        : { mediaType: source.mediaType, digest: source.digest, size: source.size };
    const what = `push blob ${this.name}@${descriptor.digest}`;
    if (await this.hasBlob(descriptor.digest, options)) return descriptor;
    const streaming = source.kind === 'file' && source.size > IN_MEMORY_UPLOAD_BYTES;
    const scope = this.#scope(options, streaming);
    try {
      const inMemory = source.kind === 'bytes' ? source.bytes : streaming ? undefined : await readVerified(source.path, descriptor);
      const started = await this.#exchange({ method: 'POST', url: this.#url('blobs/uploads/'), access: 'pull,push', headers: { 'content-length': '0' } }, scope);
      await this.#expect(started, [202], what);
      discardBody(started);
      let location = this.#uploadLocation(started, what);
      let finalBody: HttpBody | undefined = inMemory ?? (() => createReadStream((source as { path: string }).path, { highWaterMark: 1024 * 1024 }));
      if (source.kind === 'file' && source.size > this.#chunkThreshold) {
        for (let start = 0; start < source.size; start += this.#chunkSize) {
          const end = Math.min(source.size, start + this.#chunkSize) - 1;
          const patched = await this.#exchange(
            {
              method: 'PATCH',
              url: location,
              access: 'pull,push',
              headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start + 1), 'content-range': `${start}-${end}` },
              body: () => createReadStream(source.path, { start, end, highWaterMark: 1024 * 1024 }),
              followRedirects: false,
            },
            scope,
          );
          await this.#expect(patched, [202], what);
          discardBody(patched);
          location = this.#uploadLocation(patched, what);
          options?.onProgress?.(end + 1, source.size);
        }
        finalBody = undefined;
      }
      const finish = new URL(location);
      finish.searchParams.set('digest', descriptor.digest);
      const length = finalBody === undefined ? 0 : descriptor.size;
      const done = await this.#exchange(
        {
          method: 'PUT',
          url: finish,
          access: 'pull,push',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
          ...(finalBody !== undefined ? { body: finalBody } : {}),
          followRedirects: false,
        },
        scope,
      );
      await this.#expect(done, [201, 204], what);
      discardBody(done);
      checkBlobDigestHeader(done, descriptor.digest, what);
      options?.onProgress?.(descriptor.size, descriptor.size);
      return descriptor;
    } catch (err) {
      if (typeof (err as { path?: unknown } | null)?.path === 'string') throw err; // the local file, not the registry
      throw transportError(err, what, scope);
    }
  }

  #uploadLocation(response: HttpResponse, what: string): URL {
    const location = headerValue(response, 'location');
    if (location === undefined || location === '') throw new OciError('PROTOCOL', `${what}: upload response has no Location`);
    let url: URL;
    try {
      url = new URL(location, this.#base);
    } catch {
      throw new OciError('PROTOCOL', `${what}: upload Location is not a URL`);
    }
    if (url.origin !== this.#base.origin) throw new OciError('PROTOCOL', `${what}: upload Location points to another origin (${url.origin})`);
    return url;
  }

  // ---------------------------------------------------------------------------------------------
  // Tags and referrers

  async listTags(options?: CallOptions): Promise<string[]> {
    const scope = this.#scope(options, false);
    return this.#retrying(scope, () => this.#listTagsOnce(scope));
  }

  async #listTagsOnce(scope: CallScope): Promise<string[]> {
    const what = `tags of ${this.name}`;
    const tags: string[] = [];
    let url: URL | undefined = this.#url('tags/list');
    if (this.#tagPageSize !== undefined) url.searchParams.set('n', String(this.#tagPageSize));
    try {
      for (let page = 0; url !== undefined; page++) {
        if (page >= MAX_PAGES) throw new OciError('PROTOCOL', `${what}: more than ${MAX_PAGES} pages`);
        const response = await this.#exchange({ method: 'GET', url, access: 'pull', headers: { accept: 'application/json' } }, scope);
        await this.#expect(response, [200], what);
        const next = nextLink(response, url);
        const bytes = await readBody(response, MAX_TAG_PAGE_BYTES, what, scope);
        let doc: { tags?: unknown };
        try {
          doc = JSON.parse(bytes.toString('utf8')) as { tags?: unknown };
        } catch {
          throw new OciError('PROTOCOL', `${what}: answer is not JSON`);
        }
        if (doc.tags !== null && doc.tags !== undefined) {
          if (!Array.isArray(doc.tags) || !doc.tags.every((t) => typeof t === 'string')) throw new OciError('PROTOCOL', `${what}: "tags" must be an array of strings`);
          tags.push(...(doc.tags as string[]));
        }
        if (next !== undefined && next.origin !== this.#base.origin) throw new OciError('PROTOCOL', `${what}: pagination link to another origin`);
        url = next;
      }
    } catch (err) {
      throw transportError(err, what, scope);
    }
    return tags;
  }

  /**
   * The referrers API when the registry offers it, else the tag-schema fallback. While it is not yet
   * known whether it does (the first listing in this repository), the fallback index is read at the
   * same time as the API is asked, so finding out costs no round trip of its own; the fallback's
   * answer (or failure) is used only if the API turns out to be missing.
   */
  async listReferrers(subject: Digest, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    const reader = options.manifestReader ?? this;
    if (this.#referrersApi === 'unsupported') return fallbackReferrers(reader, subject, options);
    let fallback: Promise<ImageIndex | undefined> | undefined;
    if (this.#referrersApi === 'unknown') {
      fallback = readFallbackIndex(reader, subject, options);
      fallback.catch(() => undefined); // awaited only if the API is missing
    }
    const candidates = await this.#referrersFromApi(subject, options);
    if (candidates !== undefined) return validatedReferrers(reader, subject, candidates, options);
    if (fallback === undefined) return fallbackReferrers(reader, subject, options);
    const index = await fallback;
    return index === undefined ? [] : validatedReferrers(reader, subject, index.manifests, options);
  }

  /** The referrers API's listing (all pages), or undefined when the registry does not offer the API. */
  async #referrersFromApi(subject: Digest, options: ReferrersOptions): Promise<Descriptor[] | undefined> {
    const scope = this.#scope(options, false);
    return this.#retrying(scope, () => this.#referrersFromApiOnce(subject, options, scope));
  }

  async #referrersFromApiOnce(subject: Digest, options: ReferrersOptions, scope: CallScope): Promise<Descriptor[] | undefined> {
    const what = `referrers of ${this.name}@${subject}`;
    let url: URL | undefined = this.#url(`referrers/${subject}`);
    if (options.artifactType !== undefined) url.searchParams.set('artifactType', options.artifactType);
    const found: Descriptor[] = [];
    try {
      for (let page = 0; url !== undefined; page++) {
        if (page >= MAX_PAGES) throw new OciError('PROTOCOL', `${what}: more than ${MAX_PAGES} pages`);
        const response: HttpResponse = await this.#exchange({ method: 'GET', url, access: 'pull', headers: { accept: MediaType.OCI_INDEX } }, scope);
        const unsupported =
          response.status === 404 ||
          response.status === 406 ||
          response.status === 400 ||
          response.status === 405 ||
          (response.status === 401 && headerValues(response, 'www-authenticate').length === 0);
        if (page === 0 && unsupported) {
          discardBody(response);
          this.#referrersApi = 'unsupported';
          return undefined;
        }
        await this.#expect(response, [200], what);
        const next = nextLink(response, url);
        const bytes = await readBody(response, MAX_MANIFEST_BYTES, what, scope);
        const index = parseManifest(bytes, MediaType.OCI_INDEX);
        if (index.kind !== 'index') throw new OciError('PROTOCOL', `${what}: the referrers API answered a manifest, not an index`);
        found.push(...index.manifests);
        if (next !== undefined && next.origin !== this.#base.origin) throw new OciError('PROTOCOL', `${what}: pagination link to another origin`);
        url = next;
      }
    } catch (err) {
      throw transportError(err, what, scope);
    }
    this.#referrersApi = 'supported';
    return found;
  }
}

/** The content of a small file source, refused (DIGEST_MISMATCH / SIZE_MISMATCH) unless it is what `descriptor` says. */
async function readVerified(path: string, descriptor: Descriptor): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OciError('NOT_FOUND', `blob source file ${path} not found`);
    throw err;
  }
  try {
    const verifier = new DigestVerifier(descriptor.digest, descriptor.size);
    verifier.update(bytes);
    verifier.finish();
  } catch (err) {
    throw new OciError((err as OciError).code, `blob source file ${path} is not the content it was hashed as (changed since?): ${(err as Error).message}`, { cause: err });
  }
  return bytes;
}
