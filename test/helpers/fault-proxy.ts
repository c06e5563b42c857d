/**
 * Fault-injecting HTTP proxy for tests of the OCI registry client.
 *
 * Owns: `startFaultProxy`, a node:http reverse proxy on 127.0.0.1 placed in front of a real registry.
 * Requests pass through unchanged (the `Host` header too, so upload `Location`s the registry builds
 * point back at the proxy) unless a rule matches (method + path regex + which occurrence), in which
 * case the rule's fault is applied to that one exchange: a flipped body byte, a truncated or stalled
 * body, a 5xx, an endless Bearer challenge, an ignored `Range`, a wrong `Docker-Content-Digest`, or a
 * redirect to a second listener (an "object store" on another host name that records the headers it
 * receives and serves the content from the registry with its own credentials).
 * Every request is recorded (method, path, selected headers, which rule fired) so tests can count them.
 * Written by hand: no library injects faults at this granularity into a live HTTP exchange.
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { lookup } from 'node:dns/promises';

export type Fault =
  /** Flip every bit of the body byte at `offset` (default: the middle byte). */
  | { readonly kind: 'corrupt-byte'; readonly offset?: number }
  /**
   * Forward only the first `afterBytes` body bytes. `framing: 'close'` (default) keeps the upstream
   * `Content-Length` and closes the socket mid-body (a dropped connection); `'short-length'` rewrites
   * `Content-Length` to `afterBytes` and ends cleanly (a well-framed but short answer).
   */
  | { readonly kind: 'truncate'; readonly afterBytes: number; readonly framing?: 'close' | 'short-length' }
  /** Send the headers and `afterBytes` body bytes (0: headers only), then nothing until the client gives up. */
  | { readonly kind: 'stall'; readonly afterBytes: number }
  /** Stall before sending anything at all (not even a status line). */
  | { readonly kind: 'stall-before-headers' }
  /** Answer this status (e.g. 500, 502, 503) with a distribution-style JSON error, without asking the registry. */
  | { readonly kind: 'status'; readonly status: number }
  /**
   * Answer 401 with a Bearer challenge whose realm is this proxy's own token endpoint, which hands out
   * a token that the proxy then refuses again: a client that does not bound its auth retries loops forever.
   */
  | { readonly kind: 'unauthorized-loop' }
  /** Strip the request's `Range` header, so the registry answers 200 with the whole body. */
  | { readonly kind: 'ignore-range' }
  /** Replace the `Docker-Content-Digest` response header. */
  | { readonly kind: 'wrong-digest-header'; readonly digest: string }
  /** Answer `status` (default 307) pointing to the object-store listener (a different host name). */
  | { readonly kind: 'redirect'; readonly status?: 301 | 302 | 303 | 307 | 308 };

export interface FaultRule {
  /** HTTP method to match (any when omitted). */
  readonly method?: string;
  /** Matched against the request path including the query string. */
  readonly path: RegExp;
  /**
   * Which matching requests are hit, 1-based, counted per rule: `1` hits only the first, `[2, 3]` the
   * second and third. Every matching request is hit when omitted.
   */
  readonly nth?: number | readonly number[];
  readonly fault: Fault;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-cased request headers as received. */
  readonly headers: IncomingHttpHeaders;
  /** Kind of the fault applied to this request, if a rule fired. */
  readonly fault: Fault['kind'] | undefined;
  /** When the request arrived (ms since the proxy started). */
  readonly at: number;
  /** When the answer was finished or the exchange closed (ms since the proxy started; undefined while open). */
  readonly finishedAt: number | undefined;
}

export interface FaultProxyOptions {
  /** Base URL of the real registry, e.g. `http://127.0.0.1:5000`. */
  readonly upstream: string;
  readonly rules?: readonly FaultRule[];
  /**
   * `Authorization` header value the object-store listener uses when it fetches redirected content
   * from the registry (a presigned URL needs no client credentials; this is how we emulate it).
   */
  readonly objectStoreAuthorization?: string;
}

export interface FaultProxy {
  /** `127.0.0.1:<port>`: use as the registry host of the client under test. */
  readonly host: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Every request received by the proxy, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Requests received by the object-store listener (the redirect target), with their headers. */
  readonly objectStoreRequests: readonly RecordedRequest[];
  /** `http://localhost:<port>` of the object-store listener. */
  readonly objectStoreUrl: string;
  /** Replace the rules (per-rule occurrence counters restart). */
  setRules(rules: readonly FaultRule[]): void;
  /** Number of recorded requests matching method and path (all when omitted). */
  count(method?: string, path?: RegExp): number;
  /** Forget recorded requests (rules and their counters are kept). */
  clearRecords(): void;
  /** Exchanges held open by a `stall` fault right now (before their cap). */
  stalledOpen(): number;
  stop(): Promise<void>;
}

const TOKEN_PATH = '/__fault/token';
const STALL_CAP_MS = 60_000;

interface ActiveRule {
  readonly rule: FaultRule;
  seen: number;
}

function hits(rule: FaultRule, occurrence: number): boolean {
  if (rule.nth === undefined) return true;
  return typeof rule.nth === 'number' ? rule.nth === occurrence : rule.nth.includes(occurrence);
}

function listen(server: Server, hostname: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function forwardableHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const sockets = new Set<Socket>();
  const stallTimers = new Set<NodeJS.Timeout>();
  const requests: RecordedRequest[] = [];
  const objectStoreRequests: RecordedRequest[] = [];
  const started = performance.now();
  let active: ActiveRule[] = (options.rules ?? []).map((rule) => ({ rule, seen: 0 }));
  let selfUrl = '';
  let objectStoreUrl = '';

  /** Keep a stalled exchange open (without ever finishing it) until stop() or a cap. */
  function holdOpen(res: ServerResponse): void {
    const timer = setTimeout(() => res.destroy(), STALL_CAP_MS);
    stallTimers.add(timer);
    res.on('close', () => {
      clearTimeout(timer);
      stallTimers.delete(timer);
    });
  }

  function pickFault(method: string, path: string): Fault | undefined {
    let chosen: Fault | undefined;
    for (const entry of active) {
      if (entry.rule.method !== undefined && entry.rule.method.toUpperCase() !== method) continue;
      if (!entry.rule.path.test(path)) continue;
      entry.seen += 1;
      if (chosen === undefined && hits(entry.rule, entry.seen)) chosen = entry.rule.fault;
    }
    return chosen;
  }

  function sendError(res: ServerResponse, status: number, extra: OutgoingHttpHeaders = {}): void {
    const body = JSON.stringify({ errors: [{ code: status === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE', message: `injected ${status}` }] });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  }

  /** Forward to the registry and apply a body/header fault to its answer. */
  function forward(req: IncomingMessage, res: ServerResponse, fault: Fault | undefined, asObjectStore = false): void {
    const headers = forwardableHeaders(req.headers);
    if (fault?.kind === 'ignore-range') delete headers['range'];
    if (asObjectStore) {
      delete headers['authorization'];
      if (options.objectStoreAuthorization !== undefined) headers['authorization'] = options.objectStoreAuthorization;
      headers['host'] = upstream.host;
    }
    const upstreamReq = httpRequest(
      { agent, hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (upstreamRes) => relay(upstreamRes, res, fault),
    );
    upstreamReq.on('error', () => res.destroy());
    req.on('aborted', () => upstreamReq.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    req.pipe(upstreamReq);
  }

  function relay(upstreamRes: IncomingMessage, res: ServerResponse, fault: Fault | undefined): void {
    const status = upstreamRes.statusCode ?? 502;
    const headers = forwardableHeaders(upstreamRes.headers);
    const length = Number(upstreamRes.headers['content-length'] ?? NaN);
    if (fault?.kind === 'wrong-digest-header') headers['docker-content-digest'] = fault.digest;
    if (fault?.kind === 'truncate' && fault.framing === 'short-length') headers['content-length'] = String(fault.afterBytes);
    res.writeHead(status, headers);
    res.flushHeaders();

    let sent = 0;
    const limit =
      fault?.kind === 'truncate' || fault?.kind === 'stall' ? fault.afterBytes : Number.POSITIVE_INFINITY;
    const corruptAt =
      fault?.kind === 'corrupt-byte' ? (fault.offset ?? (Number.isFinite(length) ? Math.floor(length / 2) : 0)) : -1;

    upstreamRes.on('data', (chunk: Buffer) => {
      if (sent >= limit) return;
      let piece = sent + chunk.length > limit ? chunk.subarray(0, limit - sent) : chunk;
      if (corruptAt >= sent && corruptAt < sent + piece.length) {
        piece = Buffer.from(piece);
        piece[corruptAt - sent] = (piece[corruptAt - sent] ?? 0) ^ 0xff;
      }
      sent += piece.length;
      const flushed = res.write(piece);
      if (sent >= limit) {
        reachedLimit();
      } else if (!flushed) {
        upstreamRes.pause();
        res.once('drain', () => upstreamRes.resume());
      }
    });
    upstreamRes.on('end', () => {
      if (sent < limit) res.end();
    });
    upstreamRes.on('error', () => res.destroy());
    if (limit === 0) reachedLimit();

    function reachedLimit(): void {
      upstreamRes.destroy();
      if (fault?.kind === 'stall') {
        holdOpen(res);
      } else if (fault?.kind === 'truncate' && fault.framing === 'short-length') {
        res.end();
      } else {
        // Let the bytes already written leave before the connection is cut.
        res.socket?.end();
        res.socket?.destroySoon();
      }
    }
  }

  function record(into: RecordedRequest[], req: IncomingMessage, fault: Fault | undefined, res: ServerResponse): void {
    const entry: { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] } = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: { ...req.headers },
      fault: fault?.kind,
      at: performance.now() - started,
      finishedAt: undefined,
    };
    into.push(entry);
    res.once('close', () => {
      entry.finishedAt = performance.now() - started;
    });
  }

  const proxy = createServer((req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    if (path.startsWith(TOKEN_PATH)) {
      record(requests, req, undefined, res);
      const body = JSON.stringify({ token: 'fault-proxy-token', access_token: 'fault-proxy-token', expires_in: 300 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const fault = pickFault(method, path);
    record(requests, req, fault, res);
    switch (fault?.kind) {
      case 'status':
        req.resume();
        sendError(res, fault.status);
        return;
      case 'unauthorized-loop': {
        req.resume();
        const repository = /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//.exec(path)?.[1] ?? 'unknown';
        sendError(res, 401, {
          'www-authenticate': `Bearer realm="${selfUrl}${TOKEN_PATH}",service="fault-proxy",scope="repository:${repository}:pull"`,
        });
        return;
      }
      case 'stall-before-headers':
        req.resume();
        holdOpen(res);
        return;
      case 'redirect':
        req.resume();
        res.writeHead(fault.status ?? 307, { location: `${objectStoreUrl}${path}`, 'content-length': 0 });
        res.end();
        return;
      default:
        forward(req, res, fault);
    }
  });

  // The redirect target: same machine, different host name (`localhost` vs `127.0.0.1`), so a client
  // that forwards `Authorization` across hosts is caught in `objectStoreRequests`.
  // One listener per address `localhost` resolves to (127.0.0.1, and ::1 where it exists), same port.
  const objectStoreHandler = (req: IncomingMessage, res: ServerResponse): void => {
    record(objectStoreRequests, req, undefined, res);
    forward(req, res, undefined, true);
  };
  const localhostAddresses = [...new Set((await lookup('localhost', { all: true })).map((a) => a.address))];
  const objectStores = localhostAddresses.map(() => createServer(objectStoreHandler));
  const servers = [proxy, ...objectStores];
  for (const server of servers) {
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  }

  const proxyPort = await listen(proxy, '127.0.0.1');
  let objectStorePort = 0;
  for (const [i, server] of objectStores.entries()) {
    objectStorePort = await listen(server, localhostAddresses[i] ?? '127.0.0.1', objectStorePort);
  }
  selfUrl = `http://127.0.0.1:${proxyPort}`;
  objectStoreUrl = `http://localhost:${objectStorePort}`;

  return {
    host: `127.0.0.1:${proxyPort}`,
    url: selfUrl,
    requests,
    objectStoreRequests,
    objectStoreUrl,
    setRules(rules) {
      active = rules.map((rule) => ({ rule, seen: 0 }));
    },
    count(method, path) {
      return requests.filter((r) => (method === undefined || r.method === method.toUpperCase()) && (path === undefined || path.test(r.path))).length;
    },
    clearRecords() {
      requests.length = 0;
      objectStoreRequests.length = 0;
    },
    stalledOpen() {
      return stallTimers.size;
    },
    async stop() {
      for (const timer of stallTimers) clearTimeout(timer);
      stallTimers.clear();
      const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}
