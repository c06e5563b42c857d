/**
 * `modelgate webhook`: the KServe validating admission webhook (`src/admission/`).
 *
 * Owns: the command's options and the process lifecycle. The HTTPS listener and the plain-HTTP
 * metrics listener start first (so probes answer: `/healthz` ok, `/readyz` 503); then the policy
 * bundle (watched for changes: a new bundle is swapped in after its self-test, and its digest changes
 * every cache key), the trust material and the signer keys are loaded, and only then does the webhook
 * become ready. Signers, trust and credentials options are those of `modelgate verify`. Modes:
 * `--mode` (default enforce); per namespace, first the static `--namespace-mode NS=MODE` map, then
 * (with `--namespace-mode-label [KEY]`) the namespace's label, read through the Kubernetes API, then
 * `--mode`. TLS: mounted files (`--tls-cert`/`--tls-key`), or `--tls-bootstrap` — a CA and serving
 * certificate kept in a Secret, caBundle patched into the webhook configurations, rotated before
 * expiry (`src/k8s/tls-bootstrap.ts`; not ready until a certificate is served). `--k8s-pull-secrets`:
 * registry credentials of each review from its namespace's pull secrets. Kubernetes connection:
 * `--kubeconfig FILE`, else the in-cluster service account. docs/webhook.md lists the RBAC.
 * SIGTERM / SIGINT: stop accepting, finish in-flight reviews, exit 0.
 * Logs: one line per event on stdout (`src/logging/logger.ts`: JSON off a terminal; `event` names each).
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.ts';
import type { AdmissionMode } from '../admission/review.ts';
import type { CredentialSource } from '../oci/credentials.ts';
import type { StoreProvider } from '../pipeline/decide.ts';
import type { SettingFlags } from '../config/read.ts';
import { addPipelineOptions, pipelineSettingsOf } from './pipeline-options.ts';
import { collect, duration, integer } from './option-values.ts';

const MODES: readonly AdmissionMode[] = ['enforce', 'warn', 'audit'];

type WebhookOptions = SettingFlags & {
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsBootstrap?: boolean;
  readonly tlsSecret?: string;
  readonly webhookConfig: readonly string[];
  readonly mutatingWebhookConfig: readonly string[];
  readonly service?: string;
  readonly tlsValidity: string;
  readonly tlsCaValidity: string;
  readonly tlsRotateBefore: string;
  readonly kubeconfig?: string;
  readonly k8sTimeout: string;
  readonly k8sCacheTtl: string;
  readonly namespaceModeLabel?: string;
  readonly k8sPullSecrets?: boolean;
  readonly tlsReloadInterval: string;
  readonly host: string;
  readonly port: string;
  readonly metricsHost: string;
  readonly metricsPort: string;
  readonly mode: AdmissionMode;
  readonly namespaceMode: readonly string[];
  readonly deadline: string;
  readonly cacheTtl: string;
  readonly negativeCacheTtl: string;
  readonly cacheMax: string;
  readonly logLevel: string;
  readonly layoutRoot: readonly string[];
};

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

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';

/** `--tls-secret NS/NAME` and `--service NAME.NS`. */
export function parseBootstrapTargets(secret: string | undefined, service: string | undefined): { secret: { namespace: string; name: string }; service: { namespace: string; name: string } } {
  const secretMatch = secret === undefined ? null : new RegExp(`^(${DNS_LABEL})/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`).exec(secret);
  if (secretMatch === null) throw new UsageError('USAGE', `--tls-bootstrap needs --tls-secret NAMESPACE/NAME${secret === undefined ? '' : `, got "${secret}"`}`);
  const serviceMatch = service === undefined ? null : new RegExp(`^(${DNS_LABEL})\\.(${DNS_LABEL})$`).exec(service);
  if (serviceMatch === null) throw new UsageError('USAGE', `--tls-bootstrap needs --service NAME.NAMESPACE (the webhook's Service)${service === undefined ? '' : `, got "${service}"`}`);
  return { secret: { namespace: secretMatch[1]!, name: secretMatch[3]! }, service: { name: serviceMatch[1]!, namespace: serviceMatch[3]! } };
}

export function register(program: Command): void {
  const command = program
    .command('webhook')
    .description('serve the KServe validating admission webhook (POST /validate over HTTPS; /healthz, /readyz; /metrics on a plain-HTTP port)')
    .option('--tls-cert <file>', 'PEM serving certificate (re-read when it changes); or use --tls-bootstrap')
    .option('--tls-key <file>', 'PEM private key of the serving certificate')
    .option('--tls-reload-interval <ms>', 'how often the certificate file is checked for changes (0: never)', '10000')
    .option('--tls-bootstrap', 'make and rotate the serving certificate: CA + certificate in --tls-secret, caBundle patched into --webhook-config / --mutating-webhook-config (needs the Kubernetes API; see docs/webhook.md)')
    .option('--tls-secret <ns/name>', 'with --tls-bootstrap: the kubernetes.io/tls Secret that holds CA and certificate (shared by replicas)')
    .option('--webhook-config <name>', 'with --tls-bootstrap: ValidatingWebhookConfiguration whose webhooks get the caBundle (repeatable)', collect, [])
    .option('--mutating-webhook-config <name>', 'with --tls-bootstrap: MutatingWebhookConfiguration whose webhooks get the caBundle (repeatable)', collect, [])
    .option('--service <name.ns>', 'with --tls-bootstrap: the webhook Service; the certificate names NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local')
    .option('--tls-validity <duration>', 'with --tls-bootstrap: lifetime of a serving certificate', '365d')
    .option('--tls-ca-validity <duration>', 'with --tls-bootstrap: lifetime of the CA', '3650d')
    .option('--tls-rotate-before <duration>', 'with --tls-bootstrap: renew a certificate or CA this long before it expires', '30d')
    .option('--kubeconfig <file>', 'Kubernetes connection for --tls-bootstrap, --namespace-mode-label and --k8s-pull-secrets (default: the in-cluster service account)')
    .option('--k8s-timeout <ms>', 'timeout of each Kubernetes API call', '5000')
    .option('--k8s-cache-ttl <ms>', 'how long namespace labels, service accounts and pull secrets read from Kubernetes are reused', '30000')
    .option('--host <address>', 'address the webhook listens on', '0.0.0.0')
    .option('--port <port>', 'HTTPS port of the webhook', '8443')
    .option('--metrics-host <address>', 'address the metrics listener binds', '0.0.0.0')
    .option('--metrics-port <port>', 'plain-HTTP port for /metrics, /healthz and /readyz', '9090')
    .addOption(new Option('--mode <mode>', 'what a failed check does: deny (enforce), admit with warnings (warn), admit and record (audit)').choices(MODES).default('enforce'))
    .option('--namespace-mode <ns=mode>', 'mode for one namespace (repeatable; wins over the namespace label)', collect, [])
    .addOption(
      new Option('--namespace-mode-label [key]', 'take the mode of a namespace from this label (enforce|warn|audit; another value, or a namespace that cannot be read: enforce)').preset('modelgate.dev/mode'),
    )
    .option('--k8s-pull-secrets', "registry credentials of a review also from its namespace: the pull secrets of the service account (spec.predictor.serviceAccountName, else default) and spec.predictor.imagePullSecrets")
    .option('--deadline <ms>', 'budget for one review; evidence not verified in time denies (keep below the webhook timeout)', '8000')
    .option('--cache-ttl <ms>', 'how long allow/deny decisions and verified evidence are reused', '60000')
    .option('--negative-cache-ttl <ms>', 'how long a registry failure is remembered', '2000')
    .option('--cache-max <n>', 'decisions kept in the cache', '10000')
    .option('--layout-root <dir>', 'read oci-layout:// locations inside DIR from this filesystem (repeatable; for local demos and tests — without it they are denied, LAYOUT_NOT_ALLOWED)', collect, [])
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'));
  addPipelineOptions(command).action(async (options: WebhookOptions) => {
    // The pipeline settings (policy, data, signers, trust, registry) come from the one loader, as for verify and init.
    const settings = await pipelineSettingsOf(options);
    const port = integer(options.port, '--port', 0);
    const metricsPort = integer(options.metricsPort, '--metrics-port', 0);
    const deadlineMs = integer(options.deadline, '--deadline', 1);
    const ttlMs = integer(options.cacheTtl, '--cache-ttl', 1);
    const negativeTtlMs = integer(options.negativeCacheTtl, '--negative-cache-ttl', 0);
    const cacheMax = integer(options.cacheMax, '--cache-max', 1);
    const reloadIntervalMs = integer(options.tlsReloadInterval, '--tls-reload-interval', 0);
    const namespaces = parseNamespaceModes(options.namespaceMode);
    const k8sTimeoutMs = integer(options.k8sTimeout, '--k8s-timeout', 1);
    const k8sCacheTtlMs = integer(options.k8sCacheTtl, '--k8s-cache-ttl', 1);
    let bootstrap: (ReturnType<typeof parseBootstrapTargets> & { validityMs: number; caValidityMs: number; rotateBeforeMs: number }) | undefined;
    if (options.tlsBootstrap === true) {
      if (options.tlsCert !== undefined || options.tlsKey !== undefined) throw new UsageError('USAGE', '--tls-bootstrap and --tls-cert/--tls-key exclude each other');
      if (options.webhookConfig.length + options.mutatingWebhookConfig.length === 0) throw new UsageError('USAGE', '--tls-bootstrap needs --webhook-config NAME (and/or --mutating-webhook-config NAME) to publish the caBundle to');
      bootstrap = {
        ...parseBootstrapTargets(options.tlsSecret, options.service),
        validityMs: duration(options.tlsValidity, '--tls-validity', 60_000),
        caValidityMs: duration(options.tlsCaValidity, '--tls-ca-validity', 60_000),
        rotateBeforeMs: duration(options.tlsRotateBefore, '--tls-rotate-before'),
      };
      if (bootstrap.rotateBeforeMs >= bootstrap.validityMs || bootstrap.rotateBeforeMs >= bootstrap.caValidityMs) throw new UsageError('USAGE', '--tls-rotate-before must be shorter than --tls-validity and --tls-ca-validity');
    } else if (options.tlsCert === undefined || options.tlsKey === undefined) {
      throw new UsageError('USAGE', 'give --tls-cert FILE and --tls-key FILE, or --tls-bootstrap');
    }
    const needsKubernetes = bootstrap !== undefined || options.namespaceModeLabel !== undefined || options.k8sPullSecrets === true;
    const kube = needsKubernetes ? (await import('../k8s/client.ts')).KubeClient.load({ ...(options.kubeconfig !== undefined ? { kubeconfig: options.kubeconfig } : {}), timeoutMs: k8sTimeoutMs }) : undefined;

    const [{ createLogger }, { AdmissionMetrics }, { WebhookServer }, { AdmissionReviewer }, { DecisionCache }] = await Promise.all([
      import('../logging/logger.ts'),
      import('../admission/metrics.ts'),
      import('../admission/server.ts'),
      import('../admission/review.ts'),
      import('../admission/decision-cache.ts'),
    ]);
    // One line per review: the lines of one event-loop turn are handed over together and written
    // asynchronously (lines written while a write is in flight go out with the next one), so the event
    // loop does not wait on a write(2) per review; what is buffered is flushed when the process exits.
    const logger = createLogger({ service: 'modelgate-webhook', level: options.logLevel, sync: false });
    const metrics = new AdmissionMetrics();
    const tlsBootstrap = bootstrap === undefined ? undefined : await import('../k8s/tls-bootstrap.ts');
    const placeholder = await tlsBootstrap?.placeholderCertificate();
    const server = await WebhookServer.start({
      tls: placeholder !== undefined ? { cert: placeholder.certPem, key: placeholder.keyPem, pending: true } : { certPath: options.tlsCert!, keyPath: options.tlsKey!, reloadIntervalMs },
      host: options.host,
      port,
      metricsHost: options.metricsHost,
      metricsPort,
      logger,
      metrics,
      deadlineMs,
    });
    logger.info({ event: 'listening', url: server.url, metricsUrl: server.metricsUrl }, 'listening; loading policy and trust material');
    const bootstrapper =
      tlsBootstrap === undefined || bootstrap === undefined || kube === undefined
        ? undefined
        : new tlsBootstrap.TlsBootstrapper(
            {
              client: kube,
              secret: bootstrap.secret,
              service: bootstrap.service,
              webhookConfigurations: [
                ...options.webhookConfig.map((name) => ({ kind: 'validating' as const, name })),
                ...options.mutatingWebhookConfig.map((name) => ({ kind: 'mutating' as const, name })),
              ],
              validityMs: bootstrap.validityMs,
              caValidityMs: bootstrap.caValidityMs,
              rotateBeforeMs: bootstrap.rotateBeforeMs,
            },
            {
              onMaterial: (material) => {
                server.setServingCertificate(material.certPem, material.keyPem);
                logger.info({ event: 'certificate', action: material.action, secret: options.tlsSecret, fingerprint: tlsBootstrap.certificateFingerprint(material.certPem), notAfter: material.notAfter.toISOString() }, 'serving certificate installed');
              },
              onError: (err) => logger.error({ event: 'certificate-refused', code: (err as { code?: string }).code ?? 'INTERNAL', error: (err as Error).message }, 'TLS bootstrap failed; not ready without a certificate; retrying'),
            },
          );
    const bootstrapped = bootstrapper?.start();

    let stopBootstrap: (() => void) | undefined;
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        logger.info({ event: 'stopping', signal }, 'shutting down: finishing in-flight reviews');
        stopBootstrap?.();
        void server.close().then(() => {
          logger.info({ event: 'stopped' }, 'stopped');
          resolve();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      stopBootstrap = () => bootstrapper?.stop();
      process.once('SIGINT', () => stop('SIGINT'));
    });

    let unwatch: (() => void) | undefined;
    let reviewer: InstanceType<typeof AdmissionReviewer> | undefined;
    try {
      const [{ storeProvider }, { EvidenceCache }, { ManifestCache }, { loadPolicyConfiguration, loadTrust, loadCredentials }] = await Promise.all([
        import('../pipeline/deps.ts'),
        import('../pipeline/evidence-cache.ts'),
        import('../pipeline/manifest-cache.ts'),
        import('../config/load.ts'),
      ]);
      // Policy bundle, data and key files: loaded by the one loader, then watched. A kubelet ConfigMap
      // update (a revocation) is applied in place within about a second; a version that fails its
      // schema or self-test keeps the last good one (logged and counted).
      const [{ reloader, data: dataSource }, trust, credentials] = await Promise.all([
        loadPolicyConfiguration(settings, {
          metrics,
          onReload: (snapshot) => {
            if (reviewer !== undefined) {
              // Same caches: their keys carry the bundle and data digests and the signers.
              reviewer = reviewer.reconfigured({ engine: snapshot.engine, signers: { keys: snapshot.keys, identities: settings.identities, identityPatterns: settings.identityPatterns } });
              server.setReviewer(reviewer);
            }
            logger.info({ event: 'reload', bundleDigest: snapshot.bundleDigest, dataDigest: snapshot.dataDigest, keysDigest: snapshot.keysDigest, generation: snapshot.generation }, 'configuration reloaded');
          },
          onError: (err, previous) => logger.error({ event: 'reload-refused', code: err.code, error: err.message, serving: { bundleDigest: previous.bundleDigest, dataDigest: previous.dataDigest, keysDigest: previous.keysDigest } }, 'new configuration refused; the last good one keeps serving'),
        }),
        loadTrust(settings.trust),
        loadCredentials(settings.registry.dockerConfig),
      ]);
      unwatch = () => reloader.stop();
      const { engine, keys } = reloader.current;
      const dockerConfig = credentials.origin;
      const registryTimeoutMs = Math.min(settings.registry.timeoutMs, deadlineMs);
      const keyTlogThreshold = settings.keyTlogThreshold;
      const signerIdentities = settings.identities;
      const { confineLayouts } = await import('../admission/layout-roots.ts');
      const makeStores = (source: CredentialSource): StoreProvider => confineLayouts(storeProvider({ registry: { credentials: source, plainHttpRegistries: settings.registry.plainHttp, timeoutMs: registryTimeoutMs } }), options.layoutRoot);
      const stores = makeStores(credentials);
      const onProblem = (problem: { namespace: string; code: string; message: string }): void => logger.warn({ event: 'warning', ...problem }, 'kubernetes lookup problem');
      const namespaceModes =
        kube !== undefined && options.namespaceModeLabel !== undefined
          ? new (await import('../k8s/namespace-modes.ts')).NamespaceLabelModes({ client: kube, labelKey: options.namespaceModeLabel, ttlMs: k8sCacheTtlMs, onProblem })
          : undefined;
      const reviewCredentials =
        kube !== undefined && options.k8sPullSecrets === true
          ? new (await import('../k8s/pull-secrets.ts')).KubePullSecrets({ client: kube, base: { credentials, scope: dockerConfig, stores }, makeStores, ttlMs: k8sCacheTtlMs, onProblem })
          : undefined;
      reviewer = new AdmissionReviewer({
          deps: {
            stores,
            trust,
            signers: { keys, identities: signerIdentities, identityPatterns: settings.identityPatterns },
            engine,
            keyTlogThreshold,
            timeoutMs: registryTimeoutMs,
            evidenceCache: new EvidenceCache({ ttlMs }),
            manifestCache: new ManifestCache({ ttlMs, negativeTtlMs }),
          },
          modes: { default: options.mode, namespaces },
          cache: new DecisionCache({ max: cacheMax, ttlMs, negativeTtlMs }),
          deadlineMs,
          credentialsScope: dockerConfig,
          onCacheLookup: (result) => metrics.cacheLookup(result),
          ...(namespaceModes !== undefined ? { namespaceModes } : {}),
          ...(reviewCredentials !== undefined ? { reviewCredentials } : {}),
        });
      server.setReviewer(reviewer);
      reloader.start();
      const loaded = { bundleDigest: engine.bundleDigest, dataDigest: engine.dataDigest, data: dataSource, trust: trust.source, mode: options.mode, namespaces, namespaceModeLabel: options.namespaceModeLabel ?? null, k8sPullSecrets: options.k8sPullSecrets === true };
      if (server.ready) logger.info({ event: 'ready', ...loaded }, 'ready');
      else {
        logger.info({ event: 'loaded', ...loaded }, 'policy and trust loaded; not ready until the serving certificate is installed');
        void bootstrapped?.then(() => {
          if (server.ready) logger.info({ event: 'ready' }, 'ready');
        });
      }
    } catch (err) {
      unwatch?.();
      bootstrapper?.stop();
      await server.close();
      throw err;
    }
    await stopped;
    unwatch?.();
  });
}
