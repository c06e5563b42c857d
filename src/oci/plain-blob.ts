/**
 * Blob download fast path on a socket of its own (plain HTTP or TLS, no proxy), kept alive for the next
 * blob of the same origin when the caller gives a `PlainBlobPool`.
 *
 * Owns: sending the blob GET on a raw `net` socket or a `tls` socket (HTTP/1.1, certificate checked
 * against Node's roots or the store's CAs, the last TLS session resumed), reading the response head (status line and
 * headers, bounded), and receiving the body with the socket reading straight into a reusable 1 MiB
 * buffer (`onread`), hashing each read in place and, once that buffer is nearly full, writing it to
 * the file with a positioned write on libuv's pool while the socket reads into another of up to 4
 * (with none free, the write is done in place: the disk paces the socket). Error statuses come back with their bounded error body. What it
 * does not handle (redirects, 401 challenges, a 200/206 without Content-Length or with a transfer or
 * content coding, an oversized or malformed head, a failed connect) is answered `fallback` before a
 * byte is written, and the caller sends the request the ordinary undici way.
 *
 * Hand-written because of CPU per byte (measured in one process against the loopback registry,
 * bench/README.md "Registry pull"): receiving through undici costs ≈ 1.7–2.2 CPU-s/GiB (a fresh 64 KiB
 * buffer per socket read, a copy into llhttp's WASM memory, a JS event per chunk), a socket reading
 * into one reused buffer ≈ 0.4 (bench/README.md has the A/B). Over TLS the same holds: `onread` works on a
 * `tls` socket too (each decrypted record, ≤ 16 KiB, is copied into the slab; no Buffer or event per
 * record), which roughly halves the CPU per byte of undici's receive (bench/README.md "HTTPS pulls"). Neither undici's `stream()`/`dispatch` API nor `node:http` avoids
 * that receive cost, and the verified pull is CPU-bound on small machines.
 *
 * Keep-alive (`PlainBlobPool`): a connection goes back to its pool only after a 200/206 body was read
 * exactly to its Content-Length with nothing after it, no error, timeout or abort, an HTTP/1.1 answer
 * without `connection: close`; every other outcome (error statuses, fallbacks, a short or long body,
 * `discard`) closes it. Redirects are never followed here (they fall back), so a pooled socket has only
 * ever spoken to its origin. A reused connection closed by the peer before any byte of the answer is
 * retried once on a fresh one (the keep-alive race; the request is an idempotent GET).
 */
import { write as writeAt, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { connect, isIP, type NetConnectOpts, type Socket } from 'node:net';
import { connect as connectTls, TLSSocket, type ConnectionOptions } from 'node:tls';
import { OciError } from '../errors.ts';
import { MAX_ERROR_BODY_BYTES } from './http.ts';
import type { DigestVerifier } from './digest.ts';

/** What the body receive ended with (the same contract as the undici receive in `registry.ts`). */
export interface Received {
  /** Bytes now on disk (and hashed). */
  readonly offset: number;
  /** The connection broke (resumable). */
  readonly dropped?: unknown;
  /** The content or the disk failed (not resumable). */
  readonly fatal?: unknown;
}

/** A 200/206 answer with a Content-Length, its body not read yet. */
export interface PlainBlobBody {
  readonly kind: 'body';
  readonly status: 200 | 206;
  /** Lower-case names; each header appears once (a repeated one sends the call the undici way). */
  readonly headers: Readonly<Record<string, string>>;
  /** Receive the body into `file` from `startOffset` (hashing into `verifier`); settles once. */
  receive(file: FileHandle, startOffset: number, verifier: DigestVerifier, expectedSize: number, onProgress?: (done: number, total: number) => void): Promise<Received>;
  /** Close the connection without reading the body. */
  discard(): void;
}

/** Another status (not 401, not a redirect) with its error body (≤ 64 KiB, empty when unbounded). */
export interface PlainBlobError {
  readonly kind: 'error';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * Nothing usable was received: a redirect, a 401 challenge, an answer this path does not parse, or a
 * failed connection. The caller sends the request through undici instead.
 */
export interface PlainBlobFallback {
  readonly kind: 'fallback';
  readonly reason: 'redirect' | 'challenge' | 'unsupported' | 'connection';
}

export type PlainBlobAnswer = PlainBlobBody | PlainBlobError | PlainBlobFallback;

export interface PlainBlobRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal | undefined;
  /** Connect + response head. */
  readonly headersTimeoutMs: number;
  /** Silence while receiving the body. */
  readonly bodyTimeoutMs: number;
  /** https: the CAs to trust instead of Node's default roots (which include NODE_EXTRA_CA_CERTS). */
  readonly ca?: readonly (string | Buffer)[] | undefined;
  /** https: a TLS session of an earlier connection to the same origin, to resume. */
  readonly tlsSession?: Buffer | undefined;
  /** https: called with each session ticket the server issues (for `tlsSession` next time). */
  readonly onTlsSession?: ((session: Buffer) => void) | undefined;
  /** Idle connections to reuse and to return this one to (none: one connection per request, `connection: close`). */
  readonly pool?: PlainBlobPool | undefined;
}

/** What the socket's reads go to: the request on the connection, or the pool while idle. */
interface Reader {
  buffer(): Buffer;
  callback(nread: number, buf: Buffer): boolean;
}

/** A fast-path connection: its socket and whoever reads from it now. */
interface Connection {
  readonly socket: Socket;
  readonly key: string;
  reader: Reader | undefined;
}

/** Below Node's and common servers' keep-alive timeouts (Node 5 s); a `keep-alive: timeout=` hint lowers it. */
const DEFAULT_IDLE_MS = 4000;

/**
 * Idle fast-path connections per origin (`scheme://host:port`), most recently used first. One pool
 * per TLS configuration (the store owns one): connections are keyed by origin only.
 */
export class PlainBlobPool {
  readonly #idle = new Map<string, Connection[]>();
  readonly #maxIdle: number;
  readonly #idleMs: number;

  /** At most `maxIdlePerOrigin` idle connections per origin, each closed after `idleMs` unused. */
  constructor(options: { maxIdlePerOrigin?: number; idleMs?: number } = {}) {
    this.#maxIdle = options.maxIdlePerOrigin ?? 16;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** Idle connections to `key` now (for tests and diagnostics). */
  idleCount(key: string): number {
    return this.#idle.get(key)?.length ?? 0;
  }

  /** An idle connection to `key`, taken out of the pool. */
  take(key: string): Connection | undefined {
    const list = this.#idle.get(key);
    for (let conn = list?.pop(); conn !== undefined; conn = list?.pop()) {
      const idle = idleState.get(conn);
      idleState.delete(conn);
      if (idle !== undefined) {
        clearTimeout(idle.timer);
        conn.socket.off('close', idle.gone);
        conn.socket.off('error', idle.gone);
      }
      if (!conn.socket.destroyed && conn.socket.readable && conn.socket.writable) {
        conn.socket.ref();
        return conn;
      }
      conn.socket.destroy();
    }
    return undefined;
  }

  /** Keep `conn` idle (reading, so a close by the peer is seen) for at most `hintMs`; closed when the pool is full. */
  put(conn: Connection, hintMs: number | undefined): void {
    const idleMs = Math.min(this.#idleMs, hintMs ?? Infinity);
    const list = this.#idle.get(conn.key) ?? [];
    if (idleMs <= 0 || list.length >= this.#maxIdle) {
      conn.socket.destroy();
      return;
    }
    const gone = (): void => {
      idleState.delete(conn);
      clearTimeout(timer);
      const at = list.indexOf(conn);
      if (at >= 0) list.splice(at, 1);
      conn.socket.destroy();
    };
    const timer = setTimeout(gone, idleMs);
    timer.unref();
    idleState.set(conn, { timer, gone });
    // Any byte while idle is a protocol surprise: the connection is dropped.
    conn.reader = { buffer: () => landing, callback: () => (gone(), false) };
    conn.socket.on('close', gone);
    conn.socket.on('error', gone);
    conn.socket.setTimeout(0);
    conn.socket.unref(); // an idle connection does not keep the process alive
    list.push(conn);
    this.#idle.set(conn.key, list);
    conn.socket.resume();
  }

  /** Close every idle connection. */
  close(): void {
    for (const list of this.#idle.values()) for (const conn of list.splice(0)) conn.socket.destroy();
  }
}

const idleState = new WeakMap<Connection, { timer: NodeJS.Timeout; gone: () => void }>();

const SLAB_BYTES = 1024 * 1024;
/** Slabs per download: one receiving while the others are written on libuv's pool. */
const SLABS = 4;
/** Write the slab out once less than this is left free (a socket read is at most 64 KiB–256 KiB). */
const FLUSH_BELOW = 256 * 1024;
/**
 * A body quiet for this long has its received bytes written out (a stalled download's prefix is then on
 * disk for a resume, should the process be killed during the stall); the stall limit itself is counted
 * in these steps, on the socket's own inactivity timer (re-armed only while quiet: nothing per read).
 */
const QUIET_FLUSH_MS = 1000;
const MAX_HEAD_BYTES = 64 * 1024;
/**
 * Slabs of finished downloads, kept for the next ones (at most this many): a model of thousands of
 * small files would otherwise allocate 1 MiB per blob, and the garbage collector chases that
 * external memory (measured: most of the CPU of a cold init of 1,000 small files).
 */
const MAX_FREE_SLABS = 8;
const freeSlabs: Buffer[] = [];

function takeSlab(owned: Buffer[]): Buffer {
  const slab = freeSlabs.pop() ?? Buffer.allocUnsafe(SLAB_BYTES);
  owned.push(slab);
  return slab;
}
const HEAD_END = Buffer.from('\r\n\r\n');
/**
 * Where a socket's reads land outside the head and the body (an answer on hold, an error body, an idle
 * connection): never a slab, so a slab handed back to `freeSlabs` is never a socket's read buffer. One
 * for all sockets: every read callback copies what it got out before returning, and reads are
 * delivered one at a time on the main thread.
 */
const landing = Buffer.allocUnsafe(MAX_HEAD_BYTES);

/** True when the fast path may carry this request (http or https, header values without CR/LF). */
export function plainBlobEligible(url: URL, headers: Readonly<Record<string, string>>): boolean {
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) return false;
  return Object.entries(headers).every(([name, value]) => /^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(name) && !/[\r\n\0]/.test(value));
}

function abortError(): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

interface Head {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Content-Length, when present and the body is neither transfer- nor content-coded. */
  readonly length: number | undefined;
  /** HTTP/1.1 without `connection: close`: the connection may carry another request after this answer. */
  readonly keepAlive: boolean;
  /** How long to keep the connection idle after the server's `keep-alive: timeout=N` (N − 1 s, at least N / 2), if it sent one. */
  readonly idleHintMs: number | undefined;
}

/** Parse a response head; undefined when malformed or a header is repeated. */
function parseHead(head: string): Head | undefined {
  const lines = head.split('\r\n');
  const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!statusLine) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name in headers) return undefined;
    headers[name] = line.slice(colon + 1).trim();
  }
  const coded =
    headers['transfer-encoding'] !== undefined || (headers['content-encoding'] !== undefined && headers['content-encoding'].toLowerCase() !== 'identity');
  const lengthHeader = headers['content-length'];
  const length = !coded && lengthHeader !== undefined && /^\d{1,15}$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const keepAlive = statusLine[1] === '1' && !/(?:^|,)\s*close\s*(?:,|$)/i.test(headers.connection ?? '');
  const hint = /(?:^|,)\s*timeout=(\d{1,6})\s*(?:,|$)/i.exec(headers['keep-alive'] ?? '');
  return { status: Number(statusLine[2]), headers, length, keepAlive, idleHintMs: hint ? Math.max(Number(hint[1]) * 1000 - 1000, Number(hint[1]) * 500) : undefined };
}

/**
 * Send `GET url` on an idle connection of `req.pool` or a new one (TLS for https) and read the response
 * head (and a small error body). Rejects TIMEOUT when the head does not arrive in time and with an
 * AbortError when the signal fires.
 */
export function plainBlobGet(req: PlainBlobRequest): Promise<PlainBlobAnswer> {
  return new Promise((resolveHead, rejectHead) => {
    const key = req.url.origin;
    exchange(req, key, req.pool?.take(key), resolveHead, rejectHead);
  });
}

/** A new connection for `req` (TLS for https) whose reads go to its current `reader`. */
function openConnection(req: PlainBlobRequest, key: string): Connection {
  const conn: { socket?: Socket; key: string; reader: Reader | undefined } = { key, reader: undefined };
  const hostname = req.url.hostname.replace(/^\[|\]$/g, '');
  const tls = req.url.protocol === 'https:';
  const options = {
    host: hostname,
    port: Number(req.url.port || (tls ? 443 : 80)),
    noDelay: true,
    onread: {
      buffer: (): Buffer => conn.reader?.buffer() ?? landing,
      callback: (nread: number, buf: Buffer): boolean => conn.reader?.callback(nread, buf) ?? false,
    },
  };
  conn.socket = tls
    ? connectTls({
        ...options,
        // SNI only for names (RFC 6066); the certificate is checked against the host either way.
        ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
        ...(req.ca !== undefined ? { ca: [...req.ca] } : {}),
        ...(req.tlsSession !== undefined ? { session: req.tlsSession } : {}),
        ALPNProtocols: ['http/1.1'],
      } as ConnectionOptions)
    : connect(options as NetConnectOpts);
  if (tls && req.onTlsSession !== undefined) conn.socket.on('session', req.onTlsSession);
  return conn as Connection;
}

/**
 * One attempt of `plainBlobGet` on `reused` (an idle connection of the pool) or a new connection; a
 * reused one closed before any byte of the answer starts one more attempt on a new connection.
 */
function exchange(
  req: PlainBlobRequest,
  key: string,
  reused: Connection | undefined,
  resolveHead: (answer: PlainBlobAnswer) => void,
  rejectHead: (err: unknown) => void,
): void {
  // Every slab this request took; back to `freeSlabs` once the socket is closed and no write is in flight.
  const owned: Buffer[] = [];
  let receiving = false;
  let released = false;
  let detached = false; // handed back to the pool
  const release = (): void => {
    if (released || !(closed || detached) || receiving) return;
    released = true;
    for (const buffer of owned) if (freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(buffer);
  };
  let slab: Buffer = takeSlab(owned); // where the socket reads land
  let filled = 0; // bytes waiting in slab[0, filled): the head so far, then body bytes not yet written
  let phase: 'head' | 'error' | 'wait' | 'body' | 'done' = 'head';
  let head: Head | undefined;
  let bodyLeft = 0;
  let onBodyBytes: (length: number) => boolean = () => false;
  let flush: () => void = () => {};
  let onBodyEnd: (err?: unknown) => void = () => {};
  let onBodyFailure: (err: unknown) => void = () => {};
  let headSettled = false;
  let closed = false;
  let received = false; // any byte of the answer
  let closeCause: unknown; // the socket error, if any, before the body was asked for

  const settleHead = (value: PlainBlobAnswer | undefined, err?: unknown): void => {
    if (headSettled) return;
    headSettled = true;
    clearTimeout(headTimer);
    if (value === undefined || value.kind !== 'body') {
      phase = 'done';
      socket.destroy();
    }
    if (err !== undefined) rejectHead(err);
    else resolveHead(value ?? { kind: 'fallback', reason: 'connection' });
  };
  const fallback = (reason: PlainBlobFallback['reason']): false => {
    settleHead({ kind: 'fallback', reason });
    return false;
  };
  const errorAnswer = (body: Buffer): false => {
    settleHead({ kind: 'error', status: head!.status, headers: head!.headers, body });
    return false;
  };
  const onAbort = (): void => {
    socket.destroy(abortError());
  };
  const headTimer = setTimeout(() => {
    settleHead(undefined, new OciError('TIMEOUT', `GET ${req.url.origin}${req.url.pathname}: no response head within ${req.headersTimeoutMs} ms`));
  }, req.headersTimeoutMs);

  const conn = reused ?? openConnection(req, key);
  const socket = conn.socket;
  conn.reader = {
    // The head and the body land in the slab; anything else in `landing` (copied out by the callback).
    buffer: () => (phase === 'head' || phase === 'body' ? slab.subarray(filled) : landing),
    callback: (nread: number, buf: Buffer): boolean => {
      if (phase === 'head') {
        received = true;
        // The first read on a reused connection lands in `landing`.
        if (buf.buffer !== slab.buffer || buf.byteOffset !== slab.byteOffset + filled) buf.copy(slab, filled, 0, nread);
        const scanFrom = Math.max(0, filled - 3);
        filled += nread;
        const end = slab.subarray(0, filled).indexOf(HEAD_END, scanFrom);
        if (end < 0) return filled < MAX_HEAD_BYTES || fallback('unsupported');
        head = parseHead(slab.toString('latin1', 0, end));
        if (head === undefined) return fallback('unsupported');
        // Keep the body bytes that came with the head at the start of the slab; the next read lands after them.
        const early = filled - (end + 4);
        slab.copyWithin(0, end + 4, filled);
        filled = early;
        const { status, length } = head;
        if (status >= 300 && status < 400) return fallback('redirect');
        if (status === 401) return fallback('challenge');
        if (status === 200 || status === 206) {
          if (length === undefined) return fallback('unsupported');
          bodyLeft = length;
          phase = 'wait';
          settleHead({ kind: 'body', status, headers: head.headers, receive, discard: () => socket.destroy() });
          return false; // paused until the caller has checked the head
        }
        if (length === undefined || length > MAX_ERROR_BODY_BYTES) return errorAnswer(Buffer.alloc(0));
        phase = 'error';
      } else if (phase === 'error' || phase === 'wait') {
        // 'wait': a TLS socket hands over every record it has already decrypted even once paused;
        // those body bytes are kept after the earlier ones (the next read lands at slab[filled]).
        if (buf.buffer !== slab.buffer || buf.byteOffset !== slab.byteOffset + filled) buf.copy(slab, filled, 0, nread);
        filled += nread;
        if (phase === 'wait') return false;
      } else if (phase === 'body') {
        // A read lands at slab[filled] (the buffer handed out after the previous read); should it have
        // landed elsewhere, move it there (Buffer#copy handles overlap).
        if (buf.buffer !== slab.buffer || buf.byteOffset !== slab.byteOffset + filled) buf.copy(slab, filled, 0, nread);
        quietMs = 0;
        if (!onBodyBytes(nread)) return false;
        if (detached) return true; // back in the pool: reads go on into `landing`
        if (slab.length - filled < FLUSH_BELOW) {
          // A write done in place (no spare slab) can fail (ENOSPC, EIO…): that ends the receive
          // with the error; thrown here it would escape the socket callback uncaught.
          try {
            flush();
          } catch (err) {
            onBodyFailure(err);
            return false;
          }
        }
        return true;
      } else {
        return false;
      }
      const errorLength = head?.length ?? 0;
      return filled < errorLength || errorAnswer(Buffer.from(slab.subarray(0, errorLength)));
    },
  };
  const send = (): void => {
    const lines = [`GET ${req.url.pathname}${req.url.search} HTTP/1.1`, `host: ${req.url.host}`];
    for (const [name, value] of Object.entries(req.headers)) lines.push(`${name}: ${value}`);
    if (req.pool === undefined) lines.push('connection: close');
    lines.push('', '');
    socket.write(lines.join('\r\n'));
  };
  const onError = (err: Error): void => {
    // Before the head: the undici path retries the connection and names the error (unless aborted).
    if (req.signal?.aborted) settleHead(undefined, err);
    closeCause ??= err;
    onBodyEnd(err);
  };
  const onClose = (): void => {
    closed = true;
    req.signal?.removeEventListener('abort', onAbort);
    if (reused !== undefined && !received && !headSettled && !req.signal?.aborted) {
      // The keep-alive race: the server closed the idle connection as the request went out.
      headSettled = true;
      phase = 'done';
      clearTimeout(headTimer);
      release();
      exchange(req, key, undefined, resolveHead, rejectHead);
      return;
    }
    if (phase === 'error') errorAnswer(Buffer.from(slab.subarray(0, filled)));
    settleHead(undefined);
    onBodyEnd(); // the body's receiver names the early close (an error made per blob only when it matters)
    release();
  };
  const quietStep = Math.min(QUIET_FLUSH_MS, req.bodyTimeoutMs);
  let quietMs = 0; // how long the body has been silent (reset by each read)
  let armedMs = quietStep; // the socket's inactivity timer (it re-arms itself with this on every read)
  const onTimeout = (): void => {
    quietMs += armedMs;
    if (quietMs >= req.bodyTimeoutMs) {
      socket.destroy(Object.assign(new Error(`no body data for ${req.bodyTimeoutMs} ms`), { code: 'UND_ERR_BODY_TIMEOUT' }));
      return;
    }
    if (filled > 0 && phase === 'body') {
      try {
        flush();
      } catch (err) {
        onBodyFailure(err);
        return;
      }
    }
    armedMs = Math.min(quietStep, req.bodyTimeoutMs - quietMs);
    socket.setTimeout(armedMs); // once fired, the timer waits for the next read: re-arm it while quiet
  };
  /** Give the connection back to the pool (the answer was read to its end): true when it was taken. */
  const detach = (): boolean => {
    if (req.pool === undefined || !head!.keepAlive || closed || socket.destroyed || req.signal?.aborted) return false;
    socket.off('error', onError);
    socket.off('close', onClose);
    socket.off('timeout', onTimeout);
    req.signal?.removeEventListener('abort', onAbort);
    detached = true;
    req.pool.put(conn, head!.idleHintMs);
    return true;
  };
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('timeout', onTimeout);
  req.signal?.addEventListener('abort', onAbort, { once: true });
  if (req.signal?.aborted) onAbort();
  else if (reused !== undefined) {
    send();
    socket.resume();
  } else socket.once(conn.socket instanceof TLSSocket ? 'secureConnect' : 'connect', send);

  function receive(
    file: FileHandle,
    startOffset: number,
    verifier: DigestVerifier,
    expectedSize: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Received> {
    return new Promise((resolve) => {
      // File offset of slab[0]; every byte before it is written or being written by one of `inFlight` writes.
      let position = startOffset;
      let completed = startOffset; // progress: bytes whose write has completed
      let inFlight = 0;
      let writeError: unknown;
      let ended: { dropped?: unknown; fatal?: unknown } | undefined;
      const spare: Buffer[] = []; // slabs written out, ready to receive again
      let slabs = 1;
      const writeSyncAll = (): void => {
        let done = 0;
        while (done < filled) done += writeSync(file.fd, slab, done, filled - done, position + done);
        position += filled;
        completed += filled;
        filled = 0;
      };
      /** Positioned write of `buffer[offset, end)` at `at` on the pool, continuing after short writes. */
      const writeAsync = (buffer: Buffer, offset: number, end: number, at: number): void => {
        writeAt(file.fd, buffer, offset, end - offset, at, (err, written) => {
          if (err === null && written > 0 && offset + written < end) {
            completed += written;
            writeAsync(buffer, offset + written, end, at + written);
            return;
          }
          inFlight--;
          if (err !== null || written === 0) writeError ??= err ?? new OciError('NETWORK', 'disk write made no progress');
          else completed += written;
          spare.push(buffer);
          onProgress?.(completed, expectedSize);
          settle();
        });
      };
      // Hand the full slab to the pool and receive into a spare one; with none spare, write it here.
      flush = (): void => {
        const next = spare.pop() ?? (slabs < SLABS ? (slabs++, takeSlab(owned)) : undefined);
        if (next === undefined) {
          writeSyncAll();
          onProgress?.(completed, expectedSize);
          return;
        }
        inFlight++;
        writeAsync(slab, 0, filled, position);
        position += filled;
        slab = next;
        filled = 0;
      };
      const settle = (): void => {
        if (ended === undefined || inFlight > 0) return;
        let result = ended;
        if (writeError !== undefined) result = { fatal: writeError };
        else if (result.fatal === undefined) {
          try {
            writeSyncAll();
            onProgress?.(completed, expectedSize);
          } catch (err) {
            result = { fatal: err };
          }
        }
        ended = undefined;
        inFlight = -1; // settled
        receiving = false;
        release();
        resolve({ offset: position, ...result });
      };
      /** End the receive; `complete`: the body was read exactly to its end (the connection may be reused). True when pooled. */
      const finish = (result: { dropped?: unknown; fatal?: unknown }, complete = false): boolean => {
        if (phase === 'done') return false;
        phase = 'done';
        const pooled = complete && detach();
        if (!pooled) socket.destroy();
        ended = result;
        settle();
        return pooled;
      };
      onBodyEnd = (err) => {
        if (phase !== 'done') finish({ dropped: err ?? new OciError('NETWORK', 'the response body closed before its end') });
      };
      onBodyFailure = (err) => finish({ fatal: err });
      // `length` new body bytes wait at slab[filled, filled + length).
      onBodyBytes = (length) => {
        const take = Math.min(length, bodyLeft);
        try {
          if (position + filled + take > expectedSize) {
            throw new OciError('SIZE_MISMATCH', `content for ${verifier.expected} is longer than its descriptor size ${expectedSize}`);
          }
          if (writeError !== undefined) throw writeError;
          verifier.update(slab.subarray(filled, filled + take));
          filled += take;
          bodyLeft -= take;
          if (bodyLeft === 0) return finish({}, take === length); // bytes after the body: not reused
        } catch (err) {
          finish({ fatal: err });
          return false;
        }
        return true;
      };
      phase = 'body';
      receiving = true;
      socket.setTimeout(quietStep);
      const early = filled; // body bytes received with the head (and, over TLS, while paused)
      filled = 0;
      if (early > 0 || bodyLeft === 0) {
        if (!onBodyBytes(early) || detached) return;
      }
      if (closed) onBodyEnd(closeCause); // closed while the caller checked the head
      else socket.resume();
    });
  }
}
