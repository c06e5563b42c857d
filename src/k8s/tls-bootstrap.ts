/**
 * Serving-certificate bootstrap for the admission webhook (`modelgate webhook --tls-bootstrap`).
 *
 * Owns: making a CA and a serving certificate with node-forge (RSA 2048 keys from node:crypto; forge
 * signs only RSA), keeping them in one `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`, plus
 * `ca.crt` — the CA bundle, current CA first, then older CAs until they expire — and `ca.key`),
 * publishing the bundle as `clientConfig.caBundle` of every webhook in the configured
 * (Validating|Mutating)WebhookConfigurations (JSON Patch guarded by `test` operations), and rotating
 * before expiry on a timer (`TlsBootstrapper`).
 *
 * Concurrency: replicas converge on one CA through the Secret's optimistic concurrency — it is
 * created with POST (409 AlreadyExists) or replaced with PUT carrying the resourceVersion read (409
 * Conflict); on a 409 the Secret is read again and what the other replica wrote is adopted.
 *
 * Rotation: the serving certificate is re-issued `rotateBeforeMs` before it expires (under the same CA:
 * the caBundle does not change). The CA is replaced `rotateBeforeMs` before it expires: the new CA is
 * put in front of the old one in `ca.crt` and published, while the old serving certificate (signed by
 * the old CA, still in the bundle) keeps serving for `caOverlapMs`, so API servers that still hold the
 * previous caBundle keep connecting; then the serving certificate is re-issued under the new CA. The
 * old CA leaves the bundle when it expires.
 */
import { createPrivateKey, generateKeyPair as generateKeyPairCb, randomBytes, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import type { V1Secret } from '@kubernetes/client-node';
import { K8sError } from './errors.ts';
import type { JsonPatchOperation, KubeClient, WebhookConfigurationKind } from './client.ts';
import { systemClock, type Clock } from '../time/clock.ts';

const generateKeyPair = promisify(generateKeyPairCb);

const DAY_MS = 24 * 3600_000;
/** Certificates start this long before they are made (clock skew between nodes). */
const BACKDATE_MS = 5 * 60_000;
/** Attempts of read-modify-write on a 409 before giving up. */
const MAX_ATTEMPTS = 5;
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'modelgate' };

export interface TlsBootstrapOptions {
  readonly client: KubeClient;
  /** Where the certificates are kept. */
  readonly secret: { readonly namespace: string; readonly name: string };
  /** The webhook's Service: the serving certificate names `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`. */
  readonly service: { readonly namespace: string; readonly name: string };
  /** Configurations whose webhooks get `clientConfig.caBundle`. */
  readonly webhookConfigurations: ReadonlyArray<{ readonly kind: WebhookConfigurationKind; readonly name: string }>;
  /** Lifetime of a serving certificate (default 365 days). */
  readonly validityMs?: number;
  /** Lifetime of a CA (default 10 years). */
  readonly caValidityMs?: number;
  /** Renew this long before expiry (default 30 days). */
  readonly rotateBeforeMs?: number;
  /** After a new CA is published, keep serving the old certificate this long (default 2 minutes). */
  readonly caOverlapMs?: number;
  /** Clock (tests). */
  readonly now?: () => number;
}

/** What the webhook serves, and what it was published with. */
export interface ServingMaterial {
  readonly certPem: string;
  readonly keyPem: string;
  /** PEM bundle published as caBundle (current CA first). */
  readonly caBundlePem: string;
  /** When the serving certificate expires. */
  readonly notAfter: Date;
  /** When this material next needs a look (rotation of the serving cert or the CA, or the end of a CA overlap). */
  readonly nextCheckAt: number;
  /** What the pass did: wrote the Secret, adopted another replica's, or found it current. */
  readonly action: 'created' | 'updated' | 'adopted' | 'unchanged';
}

/** The four DNS names of a Service. */
export function serviceDnsNames(service: { namespace: string; name: string }): string[] {
  const { name, namespace } = service;
  return [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`];
}

// ---------------------------------------------------------------------------------------------
// Certificates (node-forge)

interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

async function rsaKeyPair(): Promise<{ privatePem: string; publicPem: string }> {
  const { privateKey, publicKey } = await generateKeyPair('rsa', { modulusLength: 2048 });
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** forge writes CRLF line ends; the Secret and caBundle hold LF. */
const pemOf = (cert: forge.pki.Certificate): string => forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');

/** A positive 128-bit serial number in hex. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, now: number, lifetimeMs: number, notAfterCap?: Date): void {
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  const notAfter = now + lifetimeMs;
  cert.validity.notAfter = new Date(notAfterCap !== undefined ? Math.min(notAfter, notAfterCap.getTime()) : notAfter);
}

async function issueCa(commonName: string, now: number, lifetimeMs: number): Promise<Issued> {
  const keys = await rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serial();
  validity(cert, now, lifetimeMs);
  const subject = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'modelgate' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { certPem: pemOf(cert), keyPem: keys.privatePem };
}

async function issueServing(ca: Issued, dnsNames: readonly string[], now: number, lifetimeMs: number): Promise<Issued> {
  const keys = await rsaKeyPair();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serial();
  validity(cert, now, lifetimeMs, caCert.validity.notAfter);
  cert.setSubject([{ name: 'commonName', value: dnsNames[2] ?? dnsNames[0]! }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: pemOf(cert), keyPem: keys.privatePem };
}

/**
 * A throw-away self-signed certificate the HTTPS listener starts with before bootstrap has finished
 * (the server is not ready while it serves this; no API server trusts it).
 */
export async function placeholderCertificate(clock: Clock = systemClock): Promise<Issued> {
  return issueCa('modelgate-webhook (not ready: no serving certificate yet)', clock.now(), DAY_MS);
}

// ---------------------------------------------------------------------------------------------
// Reading what a Secret holds

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function splitPem(bundle: string): string[] {
  return (bundle.replace(/\r\n/g, '\n').match(PEM_CERT) ?? []).map((pem) => `${pem}\n`);
}

function decode(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

interface Parsed {
  /** The signing CA (with key), if the Secret holds a usable one. */
  readonly ca: (Issued & { readonly x509: X509Certificate }) | undefined;
  /** CA certificates of the bundle after the first, still valid. */
  readonly olderCas: ReadonlyArray<{ readonly pem: string; readonly x509: X509Certificate }>;
  readonly serving: (Issued & { readonly x509: X509Certificate }) | undefined;
}

function parseSecret(secret: V1Secret | undefined, now: number): Parsed {
  const tryParse = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch {
      return undefined; // malformed material is replaced, never trusted
    }
  };
  const bundle = splitPem(decode(secret, 'ca.crt') ?? '');
  const caKey = decode(secret, 'ca.key');
  const first = bundle[0];
  const ca = first !== undefined && caKey !== undefined
    ? tryParse(() => {
        const x509 = new X509Certificate(first);
        return x509.ca && x509.checkPrivateKey(createPrivateKey(caKey)) ? { certPem: first, keyPem: caKey, x509 } : undefined;
      })
    : undefined;
  const olderCas = bundle.slice(1).flatMap((pem) => {
    const x509 = tryParse(() => new X509Certificate(pem));
    return x509 !== undefined && Date.parse(x509.validTo) > now ? [{ pem, x509 }] : [];
  });
  const certPem = decode(secret, 'tls.crt');
  const keyPem = decode(secret, 'tls.key');
  const serving = certPem !== undefined && keyPem !== undefined
    ? tryParse(() => {
        const x509 = new X509Certificate(certPem);
        return x509.checkPrivateKey(createPrivateKey(keyPem)) ? { certPem, keyPem, x509 } : undefined;
      })
    : undefined;
  return { ca, olderCas, serving };
}

const notAfterOf = (x509: X509Certificate): number => Date.parse(x509.validTo);
const notBeforeOf = (x509: X509Certificate): number => Date.parse(x509.validFrom);

function coversNames(x509: X509Certificate, dnsNames: readonly string[]): boolean {
  const sans = new Set((x509.subjectAltName ?? '').split(',').map((s) => s.trim()));
  return dnsNames.every((name) => sans.has(`DNS:${name}`));
}

const signedBy = (cert: X509Certificate, ca: X509Certificate): boolean => cert.checkIssued(ca) && cert.verify(ca.publicKey);

// ---------------------------------------------------------------------------------------------
// One reconcile pass

interface Settings {
  readonly dnsNames: readonly string[];
  readonly validityMs: number;
  readonly caValidityMs: number;
  readonly rotateBeforeMs: number;
  readonly caOverlapMs: number;
}

function settingsOf(options: TlsBootstrapOptions): Settings {
  const validityMs = options.validityMs ?? 365 * DAY_MS;
  const caValidityMs = options.caValidityMs ?? 3650 * DAY_MS;
  const rotateBeforeMs = options.rotateBeforeMs ?? 30 * DAY_MS;
  if (rotateBeforeMs >= validityMs || rotateBeforeMs >= caValidityMs) {
    throw new K8sError('K8S_CONFIG', `the rotate-before time (${rotateBeforeMs} ms) must be shorter than the certificate (${validityMs} ms) and CA (${caValidityMs} ms) lifetimes`);
  }
  return { dnsNames: serviceDnsNames(options.service), validityMs, caValidityMs, rotateBeforeMs, caOverlapMs: options.caOverlapMs ?? 120_000 };
}

interface Plan {
  readonly data: Record<string, string> | undefined; // undefined: the Secret is current
  readonly material: Omit<ServingMaterial, 'action'>;
}

/** What the Secret should hold now, given what it holds. */
async function plan(parsed: Parsed, settings: Settings, now: number): Promise<Plan> {
  let { ca } = parsed;
  let olderCas = parsed.olderCas;
  let caChanged = false;
  if (ca === undefined || notAfterOf(ca.x509) - settings.rotateBeforeMs <= now) {
    const issued = await issueCa('modelgate webhook CA', now, settings.caValidityMs);
    if (ca !== undefined && notAfterOf(ca.x509) > now) olderCas = [{ pem: ca.certPem, x509: ca.x509 }, ...olderCas];
    ca = { ...issued, x509: new X509Certificate(issued.certPem) };
    caChanged = true;
  }
  const caBundlePem = [ca.certPem, ...olderCas.map((c) => c.pem)].join('');
  const caPublishedAt = notBeforeOf(ca.x509) + BACKDATE_MS;
  const overlapEnds = caPublishedAt + settings.caOverlapMs;

  let serving = parsed.serving;
  const named = serving !== undefined && coversNames(serving.x509, settings.dnsNames);
  const underCurrent = named && signedBy(serving!.x509, ca.x509) && notAfterOf(serving!.x509) - settings.rotateBeforeMs > now;
  // During a CA overlap the old serving certificate (under an older CA still in the bundle) stays,
  // if it outlives the overlap.
  const inOverlap =
    named && !underCurrent && olderCas.length > 0 && now < overlapEnds && olderCas.some((c) => signedBy(serving!.x509, c.x509)) && notAfterOf(serving!.x509) > overlapEnds;
  let servingChanged = false;
  if (!underCurrent && !inOverlap) {
    const issued = await issueServing(ca, settings.dnsNames, now, settings.validityMs);
    serving = { ...issued, x509: new X509Certificate(issued.certPem) };
    servingChanged = true;
  }
  const s = serving!;
  const bundleChanged = caBundlePem !== [parsed.ca?.certPem ?? '', ...parsed.olderCas.map((c) => c.pem)].join('');
  const checks = [inOverlap ? overlapEnds : notAfterOf(s.x509) - settings.rotateBeforeMs, notAfterOf(ca.x509) - settings.rotateBeforeMs, ...olderCas.map((c) => notAfterOf(c.x509))];
  const material = { certPem: s.certPem, keyPem: s.keyPem, caBundlePem, notAfter: new Date(notAfterOf(s.x509)), nextCheckAt: Math.min(...checks) };
  if (!caChanged && !servingChanged && !bundleChanged) return { data: undefined, material };
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return { data: { 'tls.crt': b64(s.certPem), 'tls.key': b64(s.keyPem), 'ca.crt': b64(caBundlePem), 'ca.key': b64(ca.keyPem) }, material };
}

/**
 * One pass: read the Secret, create / renew / adopt, write it back with optimistic concurrency, then
 * publish the CA bundle to the webhook configurations. Throws coded K8sErrors.
 */
export async function reconcileTls(options: TlsBootstrapOptions): Promise<ServingMaterial> {
  const settings = settingsOf(options);
  const { client, secret: where } = options;
  const now = options.now ?? systemClock.now;
  for (let attempt = 1; ; attempt++) {
    const current = await client.readSecret(where.namespace, where.name);
    if (current !== undefined && current.type !== 'kubernetes.io/tls') {
      throw new K8sError('K8S_INVALID', `Secret ${where.namespace}/${where.name} is of type ${current.type ?? '(none)'}, not kubernetes.io/tls: refusing to overwrite it`);
    }
    const { data, material } = await plan(parseSecret(current, now()), settings, now());
    let action: ServingMaterial['action'] = 'unchanged';
    if (data !== undefined) {
      try {
        if (current === undefined) {
          await client.createSecret(where.namespace, { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: where.name, namespace: where.namespace, labels: MANAGED_BY }, data });
          action = 'created';
        } else {
          await client.replaceSecret(where.namespace, { ...current, data: { ...current.data, ...data } });
          action = 'updated';
        }
      } catch (err) {
        // Another replica wrote first: read again and adopt what it wrote (or renew on top of it).
        if (err instanceof K8sError && err.code === 'K8S_CONFLICT' && attempt < MAX_ATTEMPTS) continue;
        throw err;
      }
    } else if (attempt > 1) {
      action = 'adopted';
    }
    await publishCaBundle(client, options.webhookConfigurations, material.caBundlePem);
    return { ...material, action };
  }
}

/** Set `clientConfig.caBundle` of every webhook of each configuration (no-op when already equal). */
export async function publishCaBundle(client: KubeClient, configurations: TlsBootstrapOptions['webhookConfigurations'], caBundlePem: string): Promise<void> {
  const caBundle = Buffer.from(caBundlePem).toString('base64');
  for (const { kind, name } of configurations) {
    for (let attempt = 1; ; attempt++) {
      const configuration = await client.readWebhookConfiguration(kind, name);
      const patch: JsonPatchOperation[] = [];
      (configuration.webhooks ?? []).forEach((webhook, i) => {
        if (webhook.clientConfig?.caBundle === caBundle) return;
        // `test` guards: the webhook at this index and the bundle we read are still there.
        patch.push({ op: 'test', path: `/webhooks/${i}/name`, value: webhook.name });
        if (webhook.clientConfig?.caBundle !== undefined) patch.push({ op: 'test', path: `/webhooks/${i}/clientConfig/caBundle`, value: webhook.clientConfig.caBundle });
        patch.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle });
      });
      if (patch.length === 0) break;
      try {
        await client.patchWebhookConfiguration(kind, name, patch);
        break;
      } catch (err) {
        // A failed `test` (the configuration changed under us) is a 422: read again.
        if (err instanceof K8sError && (err.code === 'K8S_INVALID' || err.code === 'K8S_CONFLICT') && attempt < MAX_ATTEMPTS) continue;
        throw err;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The rotation loop

export interface TlsBootstrapperEvents {
  /** New serving material (first, and after each change): serve it. */
  readonly onMaterial: (material: ServingMaterial) => void;
  /** A pass failed (coded K8sError); it is retried after `retryMs`. */
  readonly onError: (err: unknown) => void;
}

/** Longest setTimeout delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `reconcileTls` now, then again at `nextCheckAt` (and at least every `resyncMs`, to pick up
 * what another replica wrote), retrying failures after `retryMs` (doubling up to `resyncMs`).
 */
export class TlsBootstrapper {
  readonly #options: TlsBootstrapOptions;
  readonly #events: TlsBootstrapperEvents;
  readonly #resyncMs: number;
  readonly #retryMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #servedCert: string | undefined;
  #failures = 0;

  constructor(options: TlsBootstrapOptions & { readonly resyncMs?: number; readonly retryMs?: number }, events: TlsBootstrapperEvents) {
    settingsOf(options); // refuse bad durations at once
    this.#options = options;
    this.#events = events;
    this.#resyncMs = options.resyncMs ?? 10 * 60_000;
    this.#retryMs = options.retryMs ?? 2_000;
  }

  /** Run the first pass; resolves after it (whether it succeeded or not), the loop continues. */
  async start(): Promise<void> {
    await this.#pass();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #pass(): Promise<void> {
    if (this.#stopped) return;
    let delay: number;
    try {
      const material = await reconcileTls(this.#options);
      this.#failures = 0;
      if (material.certPem !== this.#servedCert && !this.#stopped) {
        this.#servedCert = material.certPem;
        this.#events.onMaterial(material);
      }
      const now = (this.#options.now ?? systemClock.now)();
      delay = Math.min(this.#resyncMs, Math.max(250, material.nextCheckAt - now));
    } catch (err) {
      this.#failures++;
      this.#events.onError(err);
      delay = Math.min(this.#resyncMs, this.#retryMs * 2 ** Math.min(this.#failures - 1, 10));
    }
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#pass(), Math.min(delay, MAX_TIMER_MS));
    this.#timer.unref();
  }
}

/** SHA-256 fingerprint of a PEM certificate (for logs: which certificate is served). */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
