/**
 * The admission webhook's HTTP surface.
 *
 * Owns: `WebhookServer` — fastify over HTTPS serving `POST /validate` (AdmissionReview v1 in and out,
 * bounded body, JSON only), `POST /mutate` (pins tags to digests with a JSON Patch, `pin.ts`), `GET /healthz` (the process runs) and `GET /readyz` (a reviewer is
 * installed, i.e. policy and trust material are loaded, and the server is not shutting down); a second
 * fastify on plain HTTP serving `GET /metrics` (prom-client) and the same probes. One structured pino
 * line per review: uid, resource, operation, mode, decision, duration, and per location the field,
 * digest, outcome, codes and cache result. The serving certificate and key are re-read when the
 * certificate file changes (polling) and swapped in without a restart, or set from memory by the TLS
 * bootstrap (`setServingCertificate`; not ready before). `close()` stops accepting,
 * lets in-flight reviews finish, then returns. Slow clients are dropped well inside the API server's
 * webhook timeout (`serverTimeouts`): the TLS handshake and the request headers must arrive within
 * `headersMs`, the whole request within `requestMs` (both derived from the review deadline), checked
 * every `checkIntervalMs` — Node's defaults (60 s headers, checked every 30 s) let a client that sends
 * half its headers hold a connection for 90 s.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { hasCode } from '../errors.ts';
import { AdmissionError } from './errors.ts';
import type { AdmissionMetrics } from './metrics.ts';
import { DEFAULT_DEADLINE_MS, type AdmissionReviewer } from './review.ts';

/** AdmissionReviews carry the object and the old object (each up to ~1.5 MiB in etcd). */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * Mounted files (re-read when the certificate changes), or PEM in memory from the TLS bootstrap
 * (`src/k8s/tls-bootstrap.ts`): with `pending`, it is a placeholder and the server is not ready until
 * `setServingCertificate` installs the real one.
 */
export type WebhookTlsOptions =
  | { readonly certPath: string; readonly keyPath: string; /** Poll interval of the cert file (default 10 s; 0: no reload). */ readonly reloadIntervalMs?: number }
  | { readonly cert: string; readonly key: string; readonly pending?: boolean };

/** How long a client may take (ms). Unset fields are derived from the review deadline (`serverTimeouts`). */
export interface WebhookTimeouts {
  /** TLS handshake, then the request line and headers (default: half of `requestMs`, 5 s). */
  readonly headersMs?: number;
  /** The whole request, headers and body (default: review deadline + 2 s, 10 s: the API server's default webhook timeout). */
  readonly requestMs?: number;
  /** How often Node checks open requests against `headersMs` / `requestMs` (default: a quarter of `headersMs`, at most 1 s). */
  readonly checkIntervalMs?: number;
  /** An idle keep-alive connection is closed after this (default 72 s, fastify's: longer than the usual 60 s idle timeout of clients and load balancers, so they close first). */
  readonly keepAliveMs?: number;
  /** A socket with no traffic at all is closed after this; covers a review being decided (default: `requestMs` + the review deadline). */
  readonly idleMs?: number;
}

/** The timeouts in effect: `overrides`, else derived from the review deadline. */
export function serverTimeouts(deadlineMs: number = DEFAULT_DEADLINE_MS, overrides: WebhookTimeouts = {}): Required<WebhookTimeouts> {
  const requestMs = overrides.requestMs ?? deadlineMs + 2_000;
  const headersMs = Math.min(overrides.headersMs ?? Math.ceil(requestMs / 2), requestMs);
  const checkIntervalMs = overrides.checkIntervalMs ?? Math.max(50, Math.min(1_000, Math.floor(headersMs / 4)));
  return { headersMs, requestMs, checkIntervalMs, keepAliveMs: overrides.keepAliveMs ?? 72_000, idleMs: overrides.idleMs ?? requestMs + deadlineMs };
}

export interface WebhookServerOptions {
  readonly tls: WebhookTlsOptions;
  readonly host?: string;
  readonly port: number;
  readonly metricsHost?: string;
  readonly metricsPort: number;
  readonly logger: Logger;
  readonly metrics: AdmissionMetrics;
  readonly bodyLimit?: number;
  /** Installed now (ready at once) or later with `setReviewer`. */
  readonly reviewer?: AdmissionReviewer;
  /** The review deadline the client timeouts are derived from (default 8 s, as the reviewer's). */
  readonly deadlineMs?: number;
  readonly timeouts?: WebhookTimeouts;
}

function readTls(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(certPath), key: readFileSync(keyPath) };
  } catch (err) {
    throw new AdmissionError('TLS_CONFIG', `cannot read the serving certificate or key: ${(err as Error).message}`);
  }
}

function urlOf(app: FastifyInstance, scheme: string): string {
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

export class WebhookServer {
  readonly #app: FastifyInstance;
  readonly #metricsApp: FastifyInstance;
  readonly #options: WebhookServerOptions;
  #reviewer: AdmissionReviewer | undefined;
  #closing = false;
  #stopWatching: (() => void) | undefined;
  /** False while only a placeholder certificate is served (TLS bootstrap not done). */
  #certificateReady: boolean;

  private constructor(app: FastifyInstance, metricsApp: FastifyInstance, options: WebhookServerOptions) {
    this.#app = app;
    this.#metricsApp = metricsApp;
    this.#options = options;
    this.#reviewer = options.reviewer;
    this.#certificateReady = !('pending' in options.tls && options.tls.pending === true);
  }

  static async start(options: WebhookServerOptions): Promise<WebhookServer> {
    const tls = 'certPath' in options.tls ? readTls(options.tls.certPath, options.tls.keyPath) : { cert: options.tls.cert, key: options.tls.key };
    const timeouts = serverTimeouts(options.deadlineMs, options.timeouts);
    const app = Fastify({
      // https.createServer takes the http.Server options too: Node's header timer and its checking interval.
      https: { ...tls, minVersion: 'TLSv1.2', handshakeTimeout: timeouts.headersMs, headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkIntervalMs },
      requestTimeout: timeouts.requestMs,
      keepAliveTimeout: timeouts.keepAliveMs,
      connectionTimeout: timeouts.idleMs,
      bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      // The review log is ours (one line per review); Fastify's own request lines stay off.
      logController: new LogController({ disableRequestLogging: true }),
      return503OnClosing: true,
    });
    const metricsApp = Fastify({ bodyLimit: 1024, logController: new LogController({ disableRequestLogging: true }) });
    const server = new WebhookServer(app, metricsApp, options);
    server.#routes();
    try {
      await app.listen({ host: options.host ?? '0.0.0.0', port: options.port });
      await metricsApp.listen({ host: options.metricsHost ?? '0.0.0.0', port: options.metricsPort });
    } catch (err) {
      await Promise.allSettled([app.close(), metricsApp.close()]);
      throw err;
    }
    server.#watchTls();
    return server;
  }

  /** `https://host:port` of the webhook. */
  get url(): string {
    return urlOf(this.#app, 'https');
  }

  /** `http://host:port` of the metrics listener. */
  get metricsUrl(): string {
    return urlOf(this.#metricsApp, 'http');
  }

  get ready(): boolean {
    return this.#reviewer !== undefined && this.#certificateReady && !this.#closing;
  }

  /** Serve a new certificate (PEM) from now on: new connections get it, open ones keep theirs. The server is ready once it has one. */
  setServingCertificate(cert: string | Buffer, key: string | Buffer): void {
    (this.#app.server as HttpsServer).setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    this.#certificateReady = true;
  }

  /** Install the reviewer once policy and trust are loaded: the server becomes ready. */
  setReviewer(reviewer: AdmissionReviewer): void {
    this.#reviewer = reviewer;
  }

  /** Stop accepting, finish in-flight reviews, close both listeners. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#stopWatching?.();
    await this.#app.close();
    await this.#metricsApp.close();
  }

  #routes(): void {
    const { logger, metrics } = this.#options;
    const probes = (app: FastifyInstance): void => {
      app.get('/healthz', async () => ({ status: 'ok' }));
      app.get('/readyz', async (_request, reply) => {
        if (this.ready) return { status: 'ready' };
        return reply.code(503).send({ status: this.#closing ? 'shutting down' : !this.#certificateReady ? 'not ready: no serving certificate yet' : 'not ready: policy and trust material not loaded' });
      });
    };
    probes(this.#app);
    probes(this.#metricsApp);
    this.#metricsApp.get('/metrics', async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });

    this.#app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _request, reply) => {
      const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      const code = status === 413 ? 'BODY_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status < 500 ? 'REVIEW_INVALID' : 'INTERNAL';
      metrics.refused(code);
      logger.warn({ event: 'refused', code, status, error: err.message }, 'admission request refused');
      this.#closeIfClosing(reply);
      return reply.code(status).send({ code, message: err.message });
    });
    this.#app.post('/validate', async (request, reply) => this.#handle('validate', request.body, reply));
    this.#app.post('/mutate', async (request, reply) => this.#handle('mutate', request.body, reply));
  }

  /**
   * While shutting down, answers to in-flight reviews close their connection (else an idle keep-alive
   * connection opened before close() would hold the server open). Set by the handlers themselves, not
   * an onSend hook: a hook would run on every answer.
   */
  #closeIfClosing(reply: FastifyReply): void {
    if (this.#closing) reply.header('connection', 'close');
  }

  async #handle(endpoint: 'validate' | 'mutate', body: unknown, reply: FastifyReply): Promise<unknown> {
    const { logger, metrics } = this.#options;
    const reviewer = this.#reviewer;
    if (reviewer === undefined) {
      metrics.refused('NOT_READY');
      return reply.code(503).send({ code: 'NOT_READY', message: 'policy and trust material are not loaded yet' });
    }
    const started = process.hrtime.bigint();
    let result;
    try {
      result = endpoint === 'validate' ? await reviewer.review(body) : await reviewer.mutate(body);
    } catch (err) {
      if (hasCode(err, AdmissionError, 'REVIEW_INVALID')) {
        metrics.refused(err.code);
        logger.warn({ event: 'refused', endpoint, code: err.code, error: err.message }, 'admission request refused');
        this.#closeIfClosing(reply);
        return reply.code(400).send({ code: err.code, message: err.message });
      }
      throw err;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.#closeIfClosing(reply);
    const { summary } = result;
    if (endpoint === 'mutate') {
      logger.info({ event: 'mutation', endpoint, uid: summary.uid, resource: summary.resource, operation: summary.operation, dryRun: summary.dryRun, durationMs: Math.round(seconds * 1e6) / 1e3, pinned: result.review.response.auditAnnotations['pinned'], warnings: result.review.response.warnings ?? [] }, 'admission mutation');
      return result.review;
    }
    metrics.reviewed(result, seconds);
    const entry = {
      event: 'decision',
      uid: summary.uid,
      resource: summary.resource,
      operation: summary.operation,
      dryRun: summary.dryRun,
      mode: summary.mode,
      decision: summary.decision,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      locations: summary.verdicts.map((v) => ({ field: v.fieldPath, location: v.location, digest: v.digest, outcome: v.outcome, codes: v.reasons.map((r) => r.code), changed: v.changed, cache: v.cache })),
    };
    if (summary.decision === 'allow') logger.info(entry, 'admission review');
    else logger.warn(entry, 'admission review');
    return result.review;
  }

  #watchTls(): void {
    if (!('certPath' in this.#options.tls)) return;
    const { certPath, keyPath, reloadIntervalMs } = this.#options.tls;
    const interval = reloadIntervalMs ?? 10_000;
    if (interval <= 0) return;
    const listener = (): void => {
      try {
        const tls = readTls(certPath, keyPath);
        this.setServingCertificate(tls.cert, tls.key);
        this.#options.logger.info({ event: 'certificate', certPath }, 'serving certificate reloaded');
      } catch (err) {
        // Keep serving the old certificate (a half-written pair fails to load; the next change retries).
        this.#options.logger.error({ event: 'certificate-refused', certPath, error: (err as Error).message }, 'serving certificate reload failed');
      }
    };
    watchFile(certPath, { interval, persistent: false }, listener);
    this.#stopWatching = () => unwatchFile(certPath, listener);
  }
}
