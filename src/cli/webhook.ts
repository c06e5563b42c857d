/**
 * `modelgate webhook`: the KServe validating admission webhook (`src/admission/`).
 *
 * Owns: the command's options and the process lifecycle. The HTTPS listener and the plain-HTTP
 * metrics listener start first (so probes answer: `/healthz` ok, `/readyz` 503); then the policy
 * bundle (watched for changes: a new bundle is swapped in after its self-test, and its digest changes
 * every cache key), the trust material and the signer keys are loaded, and only then does the webhook
 * become ready. Signers, trust and credentials options are those of `modelgate verify`. Modes:
 * `--mode` (default enforce) and `--namespace-mode NS=MODE` overrides (a static map; namespace labels
 * are not read). SIGTERM / SIGINT: stop accepting, finish in-flight reviews, exit 0.
 * Logs: one pino JSON line per review on stdout.
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { AdmissionMode } from '../admission/review.ts';
import { addStoreOptions, type StoreCliOptions } from './store-options.ts';
import { addTrustOptions, resolveTrust, type TrustCliOptions } from './trust-options.ts';
import { collect, integer, pairIdentities, readText } from './option-values.ts';
import { DEFAULT_BUNDLE_DIR } from '../policy/bundle.ts';

const MODES: readonly AdmissionMode[] = ['enforce', 'warn', 'audit'];

interface WebhookOptions extends StoreCliOptions, TrustCliOptions {
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly tlsReloadInterval: string;
  readonly host: string;
  readonly port: string;
  readonly metricsHost: string;
  readonly metricsPort: string;
  readonly policy: string;
  readonly data?: string;
  readonly key: readonly string[];
  readonly certificateIdentity: readonly string[];
  readonly certificateOidcIssuer: readonly string[];
  readonly keyTlogThreshold: string;
  readonly mode: AdmissionMode;
  readonly namespaceMode: readonly string[];
  readonly deadline: string;
  readonly cacheTtl: string;
  readonly negativeCacheTtl: string;
  readonly cacheMax: string;
  readonly logLevel: string;
  readonly layoutRoot: readonly string[];
}

/** `ns=mode` pairs → a namespace → mode map. */
export function parseNamespaceModes(pairs: readonly string[]): Record<string, AdmissionMode> {
  const modes: Record<string, AdmissionMode> = {};
  for (const pair of pairs) {
    const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)=(enforce|warn|audit)$/.exec(pair);
    if (match === null) throw new UsageError('USAGE', `--namespace-mode expects NAMESPACE=enforce|warn|audit, got "${pair}"`);
    modes[match[1]!] = match[3] as AdmissionMode;
  }
  return modes;
}

export function register(program: Command): void {
  const command = program
    .command('webhook')
    .description('serve the KServe validating admission webhook (POST /validate over HTTPS; /healthz, /readyz; /metrics on a plain-HTTP port)')
    .requiredOption('--tls-cert <file>', 'PEM serving certificate (re-read when it changes)')
    .requiredOption('--tls-key <file>', 'PEM private key of the serving certificate')
    .option('--tls-reload-interval <ms>', 'how often the certificate file is checked for changes (0: never)', '10000')
    .option('--host <address>', 'address the webhook listens on', '0.0.0.0')
    .option('--port <port>', 'HTTPS port of the webhook', '8443')
    .option('--metrics-host <address>', 'address the metrics listener binds', '0.0.0.0')
    .option('--metrics-port <port>', 'plain-HTTP port for /metrics, /healthz and /readyz', '9090')
    .option('--policy <dir>', 'policy bundle directory (watched for changes)', DEFAULT_BUNDLE_DIR)
    .option('--data <file>', 'policy data JSON replacing the bundle data.json (trusted signers, builders, sources, datasets, revocations)')
    .option('--key <file>', 'PEM public key whose signatures are checked (repeatable)', collect, [])
    .option('--certificate-identity <san>', 'exact certificate SAN of a keyless signer whose signatures are checked (repeatable)', collect, [])
    .option('--certificate-oidc-issuer <url>', 'exact OIDC issuer of the keyless signer(s) (one for all, or one per identity)', collect, [])
    .option('--key-tlog-threshold <n>', 'verified Rekor entries required of key-signed evidence (needs a trust root when above 0)', '0')
    .addOption(new Option('--mode <mode>', 'what a failed check does: deny (enforce), admit with warnings (warn), admit and record (audit)').choices(MODES).default('enforce'))
    .option('--namespace-mode <ns=mode>', 'mode for one namespace (repeatable)', collect, [])
    .option('--deadline <ms>', 'budget for one review; evidence not verified in time denies (keep below the webhook timeout)', '8000')
    .option('--cache-ttl <ms>', 'how long allow/deny decisions and verified evidence are reused', '60000')
    .option('--negative-cache-ttl <ms>', 'how long a registry failure is remembered', '2000')
    .option('--cache-max <n>', 'decisions kept in the cache', '10000')
    .option('--layout-root <dir>', 'read oci-layout:// locations inside DIR from this filesystem (repeatable; for local demos and tests — without it they are denied, LAYOUT_NOT_ALLOWED)', collect, [])
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'));
  addStoreOptions(addTrustOptions(command)).action(async (options: WebhookOptions) => {
    const port = integer(options.port, '--port', 0);
    const metricsPort = integer(options.metricsPort, '--metrics-port', 0);
    const deadlineMs = integer(options.deadline, '--deadline', 1);
    const ttlMs = integer(options.cacheTtl, '--cache-ttl', 1);
    const negativeTtlMs = integer(options.negativeCacheTtl, '--negative-cache-ttl', 0);
    const cacheMax = integer(options.cacheMax, '--cache-max', 1);
    const reloadIntervalMs = integer(options.tlsReloadInterval, '--tls-reload-interval', 0);
    const keyTlogThreshold = integer(options.keyTlogThreshold, '--key-tlog-threshold', 0);
    const namespaces = parseNamespaceModes(options.namespaceMode);
    const signerIdentities = pairIdentities(options.certificateIdentity, options.certificateOidcIssuer);
    if (options.dockerConfig !== undefined && !existsSync(options.dockerConfig)) throw new UsageError('CONFIG', `docker config ${options.dockerConfig} does not exist`);

    const [{ pino }, { AdmissionMetrics }, { WebhookServer }, { AdmissionReviewer }, { DecisionCache }] = await Promise.all([
      import('pino'),
      import('../admission/metrics.ts'),
      import('../admission/server.ts'),
      import('../admission/review.ts'),
      import('../admission/decision-cache.ts'),
    ]);
    const logger = pino({ level: options.logLevel, base: { service: 'modelgate-webhook' } });
    const metrics = new AdmissionMetrics();
    const server = await WebhookServer.start({
      tls: { certPath: options.tlsCert, keyPath: options.tlsKey, reloadIntervalMs },
      host: options.host,
      port,
      metricsHost: options.metricsHost,
      metricsPort,
      logger,
      metrics,
    });
    logger.info({ url: server.url, metricsUrl: server.metricsUrl }, 'listening; loading policy and trust material');

    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        logger.info({ signal }, 'shutting down: finishing in-flight reviews');
        void server.close().then(() => {
          logger.info('stopped');
          resolve();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

    let unwatch: (() => void) | undefined;
    try {
      const [{ parsePublicKey }, { PolicyEngine }, { KEYS_ONLY_TRUST, storeProvider }, { EvidenceCache }, { defaultDockerConfigPath, loadDockerConfig }] = await Promise.all([
        import('../sigstore/keys.ts'),
        import('../policy/engine.ts'),
        import('../pipeline/deps.ts'),
        import('../pipeline/evidence-cache.ts'),
        import('../oci/credentials.ts'),
      ]);
      const keys = await Promise.all(options.key.map(async (path) => parsePublicKey(await readText(path, 'public key'))));
      let data: unknown;
      if (options.data !== undefined) {
        try {
          data = JSON.parse(await readText(options.data, 'policy data'));
        } catch (err) {
          throw err instanceof UsageError ? err : new UsageError('USAGE', `policy data ${options.data} is not valid JSON: ${(err as Error).message}`);
        }
      }
      const engine = await PolicyEngine.load(options.policy, data === undefined ? {} : { data });
      unwatch = engine.watch(options.policy, {
        onReload: (bundleDigest) => logger.info({ bundleDigest }, 'policy bundle reloaded'),
        onError: (err) => logger.error({ error: (err as Error).message }, 'new policy bundle refused; the previous one keeps serving'),
      });
      const needsRoot =
        options.trustedRoot !== undefined || signerIdentities.length > 0 || keyTlogThreshold > 0 || options.staging === true || options.tufMirror !== undefined || options.tufRoot !== undefined;
      const trust = needsRoot ? await resolveTrust(options) : KEYS_ONLY_TRUST;
      const dockerConfig = options.dockerConfig ?? defaultDockerConfigPath();
      const credentials = await loadDockerConfig(dockerConfig);
      const { confineLayouts } = await import('../admission/layout-roots.ts');
      const stores = confineLayouts(storeProvider({ registry: { credentials, plainHttpRegistries: options.plainHttp ?? [], timeoutMs: deadlineMs } }), options.layoutRoot);
      server.setReviewer(
        new AdmissionReviewer({
          deps: { stores, trust, signers: { keys, identities: signerIdentities }, engine, keyTlogThreshold, timeoutMs: deadlineMs, evidenceCache: new EvidenceCache({ ttlMs }) },
          modes: { default: options.mode, namespaces },
          cache: new DecisionCache({ max: cacheMax, ttlMs, negativeTtlMs }),
          deadlineMs,
          credentialsScope: dockerConfig,
          onCacheLookup: (result) => metrics.cacheLookup(result),
        }),
      );
      logger.info({ bundleDigest: engine.bundleDigest, dataDigest: engine.dataDigest, trust: trust.source, mode: options.mode, namespaces }, 'ready');
    } catch (err) {
      unwatch?.();
      await server.close();
      throw err;
    }
    await stopped;
    unwatch?.();
  });
}
