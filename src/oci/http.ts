/**
 * HTTP transport for registry calls, over undici.
 *
 * Owns: one keep-alive dispatcher shared by every registry client (unless a caller brings its own),
 * honouring HTTP(S)_PROXY / NO_PROXY, the choice of `http`/`https` per registry host, deadlines and stall timeouts, manual
 * redirects (at most 5, never carrying `Authorization` or cookies to another origin), bounded body
 * reads, and the mapping of transport failures and HTTP statuses to `OciError` codes. Nothing here
 * knows about authentication or the distribution API beyond its error JSON.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import type { Agent as UndiciAgent, Dispatcher, EnvHttpProxyAgent as UndiciEnvHttpProxyAgent } from 'undici';
import { OciError, type OciErrorCode } from '../errors.ts';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** A request body: bytes (replayable), or a factory for a fresh stream (replayable after a 401/redirect). */
export type HttpBody = Uint8Array | (() => Readable);

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: HttpBody;
  readonly signal?: AbortSignal | undefined;
  /** Give up when the response headers take longer than this. */
  readonly headersTimeoutMs: number;
  /** Give up when the body stays silent for longer than this (stall). */
  readonly bodyTimeoutMs: number;
  /** Follow redirects (default: yes for GET and HEAD, and for 307/308 with a replayable body). */
  readonly followRedirects?: boolean;
  /** Buffering of the response body stream (default 64 KiB). */
  readonly highWaterMark?: number;
}

export interface HttpResponse {
  /** The method of the request that produced this response (after redirects). */
  readonly method: HttpMethod;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Dispatcher.ResponseData['body'];
  /** Where the response came from, after redirects. */
  readonly url: URL;
  /** True when redirects led to another origin than the request's (no credentials were sent there). */
  readonly crossedOrigin: boolean;
}

export const MAX_REDIRECTS = 5;
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

// The three parts of undici the registry client uses, required from their own files: undici's index
// loads all of it (fetch, WebSocket, mock agents, cache stores, interceptors: ≈ 110 modules, 40–100 ms
// of every CLI start, before `init` can send its first request). undici has no `exports` map, so these
// paths are requirable; the version is pinned by package-lock.json, and the registry tests go through
// them. They are the same module instances the index re-exports (`instanceof` holds across both).
const requireUndici = createRequire(import.meta.url);
const Agent = requireUndici('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
const EnvHttpProxyAgent = requireUndici('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof UndiciEnvHttpProxyAgent;
/** undici's `Dispatcher.prototype.request` (what its top-level `request(url, opts)` calls with the URL split into origin and path). */
const dispatchRequest = requireUndici('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

let sharedDispatcher: Dispatcher | undefined;

const AGENT_OPTIONS = { keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connect: { timeout: 10_000 } } as const;

/**
 * A keep-alive dispatcher (pools per origin) that honours `HTTP(S)_PROXY` / `NO_PROXY` (either case)
 * from `env` when set, as `docker`, `crane` and KServe's Python initializer do.
 */
export function dispatcherFromEnvironment(env: NodeJS.ProcessEnv = process.env, tls: { caCertificates?: readonly (string | Buffer)[] } = {}): Dispatcher {
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY;
  const httpsProxy = env.https_proxy ?? env.HTTPS_PROXY;
  // Extra trusted CAs are added to Node's bundled roots, not substituted for them.
  const connect = tls.caCertificates?.length ? { ...AGENT_OPTIONS.connect, ca: [...rootCertificates, ...tls.caCertificates] } : AGENT_OPTIONS.connect;
  if (!httpProxy && !httpsProxy) return new Agent({ ...AGENT_OPTIONS, connect });
  return new EnvHttpProxyAgent({
    ...AGENT_OPTIONS,
    connect,
    // Explicit values (empty string = none) so undici does not read process.env behind our back.
    httpProxy: httpProxy ?? '',
    httpsProxy: httpsProxy ?? httpProxy ?? '',
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
  });
}

/** The process-wide dispatcher, built from the environment on first use. */
export function defaultDispatcher(): Dispatcher {
  sharedDispatcher ??= dispatcherFromEnvironment();
  return sharedDispatcher;
}

const SEND_HEADERS_CHANNEL = 'undici:client:sendHeaders';

/**
 * Resolves once undici has written the request line and headers of `count` requests whose path
 * `matches` (undici's public `undici:client:sendHeaders` diagnostics channel), or after `capMs`,
 * whichever comes first. Subscribe before sending. For a caller that sends requests and then runs a
 * long stretch of synchronous work (module loading blocks the event loop): waiting for the write puts
 * the requests on the wire before that work instead of after it, so the registry answers while it runs.
 */
export function requestsWritten(matches: (path: string) => boolean, count: number, capMs: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onSend = (message: unknown): void => {
      const path = (message as { request?: { path?: unknown } } | null)?.request?.path;
      if (typeof path === 'string' && matches(path) && ++seen >= count) finish();
    };
    const finish = (): void => {
      clearTimeout(timer);
      unsubscribe(SEND_HEADERS_CHANNEL, onSend);
      resolve();
    };
    const timer = setTimeout(finish, capMs);
    subscribe(SEND_HEADERS_CHANNEL, onSend);
    if (count <= 0) finish();
  });
}

/** First value of a response header (undici gives arrays for repeated headers). */
export function headerValue(response: Pick<HttpResponse, 'headers'>, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value of a response header. */
export function headerValues(response: Pick<HttpResponse, 'headers'>, name: string): string[] {
  const value = response.headers[name.toLowerCase()];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** `origin + path` without the query (presigned URLs carry signatures there): safe for messages. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** Host without port: `a.b:5000` → `a.b`, `[::1]:5000` → `[::1]`. */
export function hostnameOf(registryHost: string): string {
  if (registryHost.startsWith('[')) return registryHost.slice(0, registryHost.indexOf(']') + 1);
  const colon = registryHost.lastIndexOf(':');
  return colon < 0 ? registryHost : registryHost.slice(0, colon);
}

/** True when `plainHttpRegistries` names this host (`host:port` or bare host, scheme optional). */
function listedAsPlainHttp(host: string, plainHttpRegistries: readonly string[]): boolean {
  const bare = hostnameOf(host);
  return plainHttpRegistries.some((entry) => {
    const normalized = entry.toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    return normalized === host || normalized === bare;
  });
}

/**
 * Plain HTTP is used for loopback hosts and for hosts listed in `plainHttpRegistries` (matched as
 * `host:port` or bare host); HTTPS everywhere else.
 */
export function usesPlainHttp(registryHost: string, plainHttpRegistries: readonly string[] = []): boolean {
  const host = registryHost.toLowerCase();
  return isLoopbackHost(hostnameOf(host)) || listedAsPlainHttp(host, plainHttpRegistries);
}

/**
 * Base URL of a registry's API (`docker.io` is served from `registry-1.docker.io`). `httpsForLoopback`
 * makes unlisted loopback hosts use HTTPS too (a TLS registry behind `kubectl port-forward`).
 */
export function registryBaseUrl(registryHost: string, plainHttpRegistries: readonly string[] = [], httpsForLoopback = false): URL {
  const apiHost = (registryHost === 'docker.io' ? 'registry-1.docker.io' : registryHost).toLowerCase();
  const plain = listedAsPlainHttp(apiHost, plainHttpRegistries) || (!httpsForLoopback && isLoopbackHost(hostnameOf(apiHost)));
  return new URL(`${plain ? 'http' : 'https'}://${apiHost}/`);
}

/**
 * The signals of one call: the caller's (abort → ABORTED) and an optional overall deadline
 * (→ TIMEOUT). `signal` combines both for undici.
 */
export class CallScope {
  readonly callerSignal: AbortSignal | undefined;
  readonly deadlineSignal: AbortSignal | undefined;
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number;

  constructor(callerSignal: AbortSignal | undefined, timeoutMs: number, overallDeadline: boolean) {
    this.callerSignal = callerSignal;
    this.timeoutMs = timeoutMs;
    this.deadlineSignal = overallDeadline ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [callerSignal, this.deadlineSignal].filter((s): s is AbortSignal => s !== undefined);
    this.signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  }

  /** Throw ABORTED / TIMEOUT if the call is already over. */
  check(what: string): void {
    if (this.callerSignal?.aborted) throw new OciError('ABORTED', `${what}: aborted by the caller`);
    if (this.deadlineSignal?.aborted) throw new OciError('TIMEOUT', `${what}: no answer within ${this.timeoutMs} ms`);
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** Map anything thrown by undici or a stream to an OciError, preferring what the signals say happened. */
export function transportError(err: unknown, what: string, scope: CallScope | undefined): OciError {
  if (err instanceof OciError) return err;
  if (scope?.callerSignal?.aborted) return new OciError('ABORTED', `${what}: aborted by the caller`, { cause: err });
  if (scope?.deadlineSignal?.aborted) return new OciError('TIMEOUT', `${what}: no answer within ${scope.timeoutMs} ms`, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    const limit = scope ? ` (${scope.timeoutMs} ms)` : '';
    return new OciError('TIMEOUT', `${what}: the registry stalled${limit}: ${message}`, { cause: err });
  }
  if ((err as Error | null)?.name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') {
    return new OciError('ABORTED', `${what}: aborted`, { cause: err });
  }
  return new OciError('NETWORK', `${what}: ${typeof code === 'string' ? `${code}: ` : ''}${message}`, { cause: err });
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

const ORIGIN_BOUND_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * Send one request, following redirects by hand. `Authorization`, `Cookie` and `Proxy-Authorization`
 * are dropped as soon as a redirect leaves the request's origin (and stay dropped).
 */
export async function sendHttp(dispatcher: Dispatcher, req: HttpRequest, scope?: CallScope): Promise<HttpResponse> {
  let url = req.url;
  let method: HttpMethod = req.method;
  let body: HttpBody | undefined = req.body;
  let headers: Record<string, string> = { ...req.headers };
  let crossedOrigin = false;
  const what = `${req.method} ${describeUrl(req.url)}`;
  for (let hop = 0; ; hop++) {
    let response: Dispatcher.ResponseData;
    try {
      response = await dispatchRequest.call(dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        body: body === undefined ? undefined : body instanceof Uint8Array ? body : body(),
        signal: req.signal,
        headersTimeout: req.headersTimeoutMs,
        bodyTimeout: req.bodyTimeoutMs,
        highWaterMark: req.highWaterMark,
        // undici closes the connection after every HEAD unless told otherwise (a guard against
        // servers that send a body anyway); registries answer HEAD properly, so keep it alive.
        ...(method === 'HEAD' ? { reset: false } : {}),
      });
    } catch (err) {
      throw transportError(err, what, scope);
    }
    const status = response.statusCode;
    const location = response.headers.location;
    const replayable = body === undefined || body instanceof Uint8Array;
    const follow = req.followRedirects ?? (method === 'GET' || method === 'HEAD' || ((status === 307 || status === 308) && replayable));
    if (!isRedirect(status) || typeof location !== 'string' || !follow) {
      return { method, status, headers: response.headers, body: response.body, url, crossedOrigin };
    }
    response.body.resume();
    response.body.on('error', () => {});
    if (hop >= MAX_REDIRECTS) throw new OciError('PROTOCOL', `${what}: more than ${MAX_REDIRECTS} redirects`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new OciError('PROTOCOL', `${what}: redirect to an invalid Location`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new OciError('PROTOCOL', `${what}: redirect to unsupported scheme ${next.protocol}`);
    if (url.protocol === 'https:' && next.protocol === 'http:' && !isLoopbackHost(next.hostname)) {
      throw new OciError('PROTOCOL', `${what}: refusing a redirect from https to plain http (${describeUrl(next)})`);
    }
    if (next.origin !== req.url.origin && !crossedOrigin) {
      crossedOrigin = true;
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !ORIGIN_BOUND_HEADERS.has(name.toLowerCase())));
    }
    if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
      method = method === 'HEAD' ? 'HEAD' : 'GET';
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !/^content-/i.test(name)));
    }
    url = next;
  }
}

/** Throw TOO_LARGE when the announced Content-Length exceeds `maxBytes`. */
export function checkContentLength(response: Pick<HttpResponse, 'headers'>, maxBytes: number, what: string): number | undefined {
  const header = headerValue(response, 'content-length');
  if (header === undefined) return undefined;
  const length = Number(header);
  if (!Number.isSafeInteger(length) || length < 0) throw new OciError('PROTOCOL', `${what}: invalid Content-Length "${header.slice(0, 40)}"`);
  if (length > maxBytes) throw new OciError('TOO_LARGE', `${what}: ${length} bytes announced, limit ${maxBytes}`);
  return length;
}

/** Read a whole body, refusing (TOO_LARGE) beyond `maxBytes`. */
export async function readBody(response: HttpResponse, maxBytes: number, what: string, scope?: CallScope): Promise<Buffer> {
  try {
    checkContentLength(response, maxBytes, what);
  } catch (err) {
    discardBody(response);
    throw err;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        response.body.destroy();
        throw new OciError('TOO_LARGE', `${what}: body exceeds the limit of ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw transportError(err, what, scope);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/**
 * Throw the body away. Small or absent bodies are drained so the connection stays in the keep-alive
 * pool; a large or unbounded one closes the connection rather than being downloaded for nothing.
 */
export function discardBody(response: HttpResponse): void {
  response.body.on('error', () => {});
  const length = Number(headerValue(response, 'content-length') ?? 'NaN');
  const noBody = response.method === 'HEAD' || response.status === 204 || response.status === 304;
  if (noBody || (Number.isFinite(length) && length <= MAX_ERROR_BODY_BYTES)) response.body.resume();
  else response.body.destroy();
}

/** Distribution-spec error JSON `{"errors":[{"code","message"}]}`, summarised (bounded, best effort). */
async function registryErrorSummary(response: HttpResponse): Promise<{ codes: string[]; text: string }> {
  let bytes: Buffer;
  try {
    bytes = await readBody(response, MAX_ERROR_BODY_BYTES, 'error body');
  } catch {
    return { codes: [], text: '' };
  }
  return summariseErrorBody(bytes);
}

function summariseErrorBody(bytes: Buffer): { codes: string[]; text: string } {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    if (Array.isArray(doc.errors)) {
      const codes = doc.errors.map((e) => (typeof e?.code === 'string' ? e.code : '')).filter(Boolean);
      const text = doc.errors
        .map((e) => [e?.code, e?.message].filter((p): p is string => typeof p === 'string').join(': '))
        .filter(Boolean)
        .join('; ');
      return { codes, text: text.slice(0, 300) };
    }
  } catch {
    // not JSON: fall through
  }
  return { codes: [], text: bytes.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200) };
}

export function statusCode(status: number, registryCodes: readonly string[] = []): OciErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'TOO_LARGE';
  if (status === 416) return 'PROTOCOL';
  if (status === 400 && registryCodes.includes('DIGEST_INVALID')) return 'DIGEST_MISMATCH';
  if (status === 400 && registryCodes.includes('SIZE_INVALID')) return 'SIZE_MISMATCH';
  return 'REGISTRY_ERROR';
}

/** Consume the (error) body of an unexpected response and turn it into an OciError. */
export async function statusError(response: HttpResponse, what: string): Promise<OciError> {
  const summary = response.body.readableEnded ? { codes: [], text: '' } : await registryErrorSummary(response);
  return errorFromSummary(response.status, summary, what);
}

/** The OciError of an unexpected status whose (bounded) error body was read already. */
export function statusErrorFromBody(status: number, body: Buffer, what: string): OciError {
  return errorFromSummary(status, body.byteLength > 0 ? summariseErrorBody(body) : { codes: [], text: '' }, what);
}

function errorFromSummary(status: number, summary: { codes: string[]; text: string }, what: string): OciError {
  const detail = summary.text ? ` (${summary.text})` : '';
  return new OciError(statusCode(status, summary.codes), `${what}: HTTP ${status}${detail}`);
}

/** Parse `Link: <url>; rel="next"` (RFC 8288) into an absolute URL, if present. */
export function nextLink(response: HttpResponse, base: URL): URL | undefined {
  for (const value of headerValues(response, 'link')) {
    for (const part of value.split(/,(?=\s*<)/)) {
      const match = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
      if (!match) continue;
      if (/(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)/i.test(match[2]!)) {
        try {
          return new URL(match[1]!, base);
        } catch {
          return undefined;
        }
      }
    }
  }
  return undefined;
}
