/**
 * Test helper: a real OCI registry (Debian's `docker-registry`, distribution 2.8) on 127.0.0.1.
 *
 * Owns: starting `/usr/bin/docker-registry serve <config.yml>` on a free port with a temporary storage
 * directory, in one of three auth modes, and stopping it by PID (plus removing the directory):
 *   - `none`:  anonymous pull and push;
 *   - `basic`: htpasswd file with a bcrypt hash (bcryptjs, as `htpasswd -B` writes it, at its default
 *     cost 5: the registry checks the hash on every request, ≈ 30× the CPU at cost 10);
 *   - `token`: docker token auth, served by a small token server written here. Tokens are RS256 JWTs
 *     whose header carries `x5c` (the signing certificate, which is the `rootcertbundle`) and the
 *     libtrust `kid`, as distribution 2.8 expects; the `access` claim grants the requested scopes to a
 *     user with the right Basic credentials (and, with `anonymousPull`, `pull` to anyone).
 * Any mode can serve HTTPS (`tls: true`) with a certificate from a throw-away CA.
 * Also `loadLayout`, which copies an OCI image layout directory into a store preserving every digest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import forge from 'node-forge';
import type { Digest } from '../../src/oci/digest.ts';
import { parseManifest, type Descriptor } from '../../src/oci/manifest.ts';
import type { ArtifactStore } from '../../src/oci/store.ts';

export type RegistryAuthMode = 'none' | 'basic' | 'token';

export interface StartRegistryOptions {
  readonly auth?: RegistryAuthMode;
  /** When given (a tap test), `stop` is registered with `t.teardown`. */
  readonly t?: { teardown(fn: () => unknown): void };
  /** Token mode: lifetime of minted tokens in seconds (default 300); `null` omits `expires_in`. */
  readonly tokenExpiresIn?: number | null;
  /** Token mode: grant `pull` to anonymous token requests. */
  readonly anonymousPull?: boolean;
  /** Serve HTTPS with a certificate for 127.0.0.1/localhost issued by a throw-away CA (`caCertificate`). */
  readonly tls?: boolean;
}

export interface TokenRequestRecord {
  readonly user: string | undefined;
  readonly scopes: readonly string[];
  readonly service: string | null;
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT` — the registry part of a reference. */
  readonly host: string;
  /** `http://127.0.0.1:PORT` (`https://` with `tls`). */
  readonly url: string;
  /** With `tls`: PEM of the CA that issued the registry's certificate. */
  readonly caCertificate: string | undefined;
  readonly auth: RegistryAuthMode;
  /** Credentials accepted in `basic` and `token` modes. */
  readonly username: string;
  readonly password: string;
  /** Token mode: an OAuth2 refresh token (docker `identitytoken`) the token server accepts by POST. */
  readonly identityToken: string;
  /** Token mode: every request the token server received, in order (empty otherwise). */
  readonly tokenRequests: readonly TokenRequestRecord[];
  /** Token mode: the realm URL. */
  readonly tokenRealm: string | undefined;
  stop(): Promise<void>;
}

const REGISTRY_BINARY = '/usr/bin/docker-registry';
/** util-linux (essential on Debian): runs the registry with a parent-death signal. */
const SETPRIV = '/usr/bin/setpriv';
const TOKEN_SERVICE = 'modelgate-test-registry';
const TOKEN_ISSUER = 'modelgate-test-token-issuer';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** libtrust key ID: base32 of the first 240 bits of sha256(SPKI DER), in 12 colon-separated groups of 4. */
function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of hash) bits += byte.toString(2).padStart(8, '0');
  let encoded = '';
  for (let i = 0; i < bits.length; i += 5) encoded += alphabet[parseInt(bits.slice(i, i + 5), 2)];
  return encoded.match(/.{4}/g)!.join(':');
}

interface TokenSigner {
  readonly certificatePem: string;
  readonly certificateDer: Buffer;
  readonly privateKey: KeyObject;
  readonly keyId: string;
}

let cachedSigner: TokenSigner | undefined;

/** One RSA key and self-signed certificate per test process (RSA so node-forge can issue the cert). */
function tokenSigner(): TokenSigner {
  if (cachedSigner) return cachedSigner;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const name = [{ name: 'commonName', value: 'modelgate test token issuer' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', keyCertSign: true, digitalSignature: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  const certificateDer = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  cachedSigner = { certificatePem, certificateDer, privateKey, keyId: libtrustKeyId(publicKey) };
  return cachedSigner;
}

/** A CA and a server certificate for 127.0.0.1 / localhost signed by it (PEM). */
export function tlsMaterial(): { caPem: string; certPem: string; keyPem: string } {
  const forgeKey = (key: KeyObject) => forge.pki.privateKeyFromPem(key.export({ type: 'pkcs8', format: 'pem' }).toString());
  const forgePub = (key: KeyObject) => forge.pki.publicKeyFromPem(key.export({ type: 'spki', format: 'pem' }).toString());
  const ca = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const leaf = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = forgePub(ca.publicKey);
  caCert.serialNumber = '01' + randomBytes(8).toString('hex');
  caCert.validity.notBefore = new Date(Date.now() - 3600_000);
  caCert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const caName = [{ name: 'commonName', value: 'modelgate test registry CA' }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]);
  caCert.sign(forgeKey(ca.privateKey), forge.md.sha256.create());
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePub(leaf.publicKey);
  cert.serialNumber = '02' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: '127.0.0.1' }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
  ]);
  cert.sign(forgeKey(ca.privateKey), forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function mintToken(signer: TokenSigner, subject: string, access: unknown[], expiresIn: number): string {
  const header = { typ: 'JWT', alg: 'RS256', kid: signer.keyId, x5c: [signer.certificateDer.toString('base64')] };
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: TOKEN_ISSUER,
    sub: subject,
    aud: TOKEN_SERVICE,
    exp: now + expiresIn,
    nbf: now - 10,
    iat: now,
    jti: randomBytes(12).toString('hex'),
    access,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(signingInput).sign(signer.privateKey);
  return `${signingInput}.${base64url(signature)}`;
}

/** `repository:acme/model:pull,push` → access entry; the name may contain `host:port`. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

interface TokenServer {
  readonly server: Server;
  readonly realm: string;
  readonly requests: TokenRequestRecord[];
}

async function startTokenServer(options: {
  username: string;
  password: string;
  identityToken: string;
  expiresIn: number | null;
  anonymousPull: boolean;
}): Promise<TokenServer> {
  const signer = tokenSigner();
  const requests: TokenRequestRecord[] = [];
  const server = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404).end();
      return;
    }
    let params = url.searchParams;
    if (req.method === 'POST') {
      // OAuth2 refresh-token grant (docker's identitytoken), form-encoded.
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    let user: string | undefined;
    const authorization = req.headers.authorization;
    if (req.method === 'POST') {
      if (params.get('grant_type') !== 'refresh_token' || params.get('refresh_token') !== options.identityToken) {
        requests.push({ user: undefined, scopes, service: params.get('service') });
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant' }));
        return;
      }
      user = options.username;
    } else if (authorization !== undefined) {
      const match = /^Basic (.+)$/i.exec(authorization);
      const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      if (colon < 0 || decoded.slice(0, colon) !== options.username || decoded.slice(colon + 1) !== options.password) {
        requests.push({ user: undefined, scopes, service: params.get('service') });
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ details: 'bad credentials' }));
        return;
      }
      user = options.username;
    }
    requests.push({ user, scopes, service: params.get('service') });
    const access = scopes.flatMap((scope) => {
      const parsed = parseScope(scope);
      if (!parsed) return [];
      const actions = user !== undefined ? parsed.actions : options.anonymousPull ? parsed.actions.filter((a) => a === 'pull') : [];
      return [{ type: parsed.type, name: parsed.name, actions }];
    });
    const lifetime = options.expiresIn ?? 60;
    const token = mintToken(signer, user ?? '', access, lifetime);
    // The refresh-token grant answers OAuth2-style (`access_token`), the GET form docker-style (`token`).
    const body: Record<string, unknown> = req.method === 'POST' ? { access_token: token, scope: scopes.join(' ') } : { token, issued_at: new Date().toISOString() };
    if (options.expiresIn !== null) body.expires_in = options.expiresIn;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { server, realm: `http://127.0.0.1:${port}/token`, requests };
}

function registryConfig(port: number, dir: string, auth: string, tls: boolean): string {
  return [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    ...(tls ? ['  tls:', `    certificate: ${join(dir, 'tls.crt')}`, `    key: ${join(dir, 'tls.key')}`] : []),
    auth,
    '',
  ].join('\n');
}

/** Resolves with the HTTP status of `GET /v2/`, or undefined when nothing answers yet. */
function probe(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(`${url}/v2/`, { method: 'GET', timeout: 1000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
    req.end();
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function launch(dir: string, configFor: (port: number) => string, scheme: 'http' | 'https'): Promise<{ child: ChildProcess; port: number }> {
  let lastError = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    const configPath = join(dir, 'config.yml');
    writeFileSync(configPath, configFor(port));
    // Under `setpriv --pdeathsig`: the registry is killed with the test process that started it, even
    // when that process is killed before its teardown runs (a tap timeout, a crash), instead of being
    // left serving on the machine.
    const child = spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', REGISTRY_BINARY, 'serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString('utf8');
    });
    // Until it answers or exits (a port taken meanwhile: try another), however long a loaded machine
    // takes to start it; a registry that never answers is ended by the test's own timeout.
    while (child.exitCode === null) {
      const status = await probe(`${scheme}://127.0.0.1:${port}`);
      if (status === 200 || status === 401) return { child, port };
      await new Promise((r) => setTimeout(r, 50));
    }
    lastError = stderr;
    child.kill('SIGKILL');
    await waitForExit(child, 5000);
  }
  throw new Error(`docker-registry did not start: ${lastError.slice(0, 2000)}`);
}

/** Start a registry; remember to `stop()` it (or pass `t`). */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const auth = options.auth ?? 'none';
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-registry-'));
  const username = 'modelgate';
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const identityToken = `idt-${randomBytes(12).toString('base64url')}`;
  let tokenServer: TokenServer | undefined;
  let authConfig = '';
  try {
    if (auth === 'basic') {
      writeFileSync(join(dir, 'htpasswd'), `${username}:${bcrypt.hashSync(password, 5)}\n`);
      authConfig = ['auth:', '  htpasswd:', '    realm: modelgate-test', `    path: ${join(dir, 'htpasswd')}`].join('\n');
    } else if (auth === 'token') {
      tokenServer = await startTokenServer({
        username,
        password,
        identityToken,
        expiresIn: options.tokenExpiresIn === undefined ? 300 : options.tokenExpiresIn,
        anonymousPull: options.anonymousPull ?? false,
      });
      writeFileSync(join(dir, 'token-root.pem'), tokenSigner().certificatePem);
      authConfig = [
        'auth:',
        '  token:',
        `    realm: ${tokenServer.realm}`,
        `    service: ${TOKEN_SERVICE}`,
        `    issuer: ${TOKEN_ISSUER}`,
        `    rootcertbundle: ${join(dir, 'token-root.pem')}`,
      ].join('\n');
    }
    let caCertificate: string | undefined;
    if (options.tls) {
      const material = tlsMaterial();
      writeFileSync(join(dir, 'tls.crt'), material.certPem);
      writeFileSync(join(dir, 'tls.key'), material.keyPem);
      caCertificate = material.caPem;
    }
    const scheme = options.tls ? 'https' : 'http';
    const { child, port } = await launch(dir, (port) => registryConfig(port, dir, authConfig, options.tls ?? false), scheme);
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        if (child.pid !== undefined && child.exitCode === null) {
          child.kill('SIGTERM');
          if (!(await waitForExit(child, 5000))) {
            child.kill('SIGKILL');
            await waitForExit(child, 5000);
          }
        }
        if (tokenServer) {
          tokenServer.server.closeAllConnections();
          await new Promise<void>((resolve) => tokenServer!.server.close(() => resolve()));
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    };
    const running: RunningRegistry = {
      host: `127.0.0.1:${port}`,
      url: `${scheme}://127.0.0.1:${port}`,
      caCertificate,
      auth,
      username,
      password,
      identityToken,
      tokenRequests: tokenServer?.requests ?? [],
      tokenRealm: tokenServer?.realm,
      stop,
    };
    options.t?.teardown(stop);
    return running;
  } catch (err) {
    tokenServer?.server.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface LoadLayoutOptions {
  /**
   * Tag to give each top-level `index.json` entry (undefined = no tag). Default: the entry's
   * `org.opencontainers.image.ref.name` annotation, if any.
   */
  readonly tagFor?: (entry: Descriptor, entries: readonly Descriptor[]) => string | undefined;
}

/**
 * Copy an OCI image layout directory into `store`: every blob and manifest reachable from `index.json`
 * is pushed by digest (children before parents, so the registry accepts indexes), then the tags.
 * Returns the `index.json` entries.
 */
export async function loadLayout(store: ArtifactStore, layoutDir: string, options: LoadLayoutOptions = {}): Promise<Descriptor[]> {
  const blobPath = (digest: Digest): string => {
    const [algorithm, hex] = digest.split(':') as [string, string];
    return join(layoutDir, 'blobs', algorithm, hex);
  };
  const top = parseManifest(readFileSync(join(layoutDir, 'index.json')));
  if (top.kind !== 'index') throw new Error(`${layoutDir}/index.json is not an image index`);
  const done = new Set<string>();
  const pushTree = async (descriptor: Descriptor): Promise<void> => {
    if (done.has(descriptor.digest)) return;
    const bytes = readFileSync(blobPath(descriptor.digest));
    const manifest = parseManifest(bytes, descriptor.mediaType);
    if (manifest.kind === 'index') {
      for (const child of manifest.manifests) await pushTree(child);
    } else {
      for (const blob of [manifest.config, ...manifest.layers]) {
        if (done.has(blob.digest)) continue;
        await store.pushBlob({ kind: 'file', path: blobPath(blob.digest), digest: blob.digest, size: blob.size, mediaType: blob.mediaType });
        done.add(blob.digest);
      }
    }
    await store.pushManifest(bytes, manifest.mediaType);
    done.add(descriptor.digest);
  };
  const tagFor = options.tagFor ?? ((entry: Descriptor) => entry.annotations?.['org.opencontainers.image.ref.name']);
  for (const entry of top.manifests) {
    await pushTree(entry);
    const tag = tagFor(entry, top.manifests);
    if (tag !== undefined) await store.pushManifest(readFileSync(blobPath(entry.digest)), entry.mediaType, { tag });
  }
  return [...top.manifests];
}
