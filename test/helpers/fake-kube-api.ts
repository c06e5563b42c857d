/**
 * Test helper: a local fake Kubernetes API server — real HTTPS on 127.0.0.1, a throw-away CA.
 *
 * Owns: exactly the endpoints modelgate calls, with the API server's semantics where they matter:
 *  - core/v1 Secrets in a namespace: GET one, POST (409 AlreadyExists), PUT (409 Conflict when
 *    `metadata.resourceVersion` is not the current one; 404 when missing);
 *  - core/v1 `namespaces/NAME` and `namespaces/NS/serviceaccounts/NAME`: GET;
 *  - admissionregistration.k8s.io/v1 validating- and mutatingwebhookconfigurations: GET, PATCH with
 *    `application/json-patch+json` (ops add, replace, test; a failed test is a 422);
 * bearer-token authentication (401 otherwise), a global resourceVersion counter, `Status` error
 * bodies, a request log (method, path, content type — never bodies) and a fault hook per request
 * (answer a status, or hang without answering). `kubeconfig()` writes a kubeconfig file pointing at
 * the server with its CA and the token.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KubeObject = Record<string, any>;

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
}

/** What a fault hook answers: a status (with a Status body), or `hang` (never answer). */
export type Fault = { readonly status: number; readonly reason?: string } | 'hang' | undefined;

export interface FakeKubeApi {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** PEM of the CA that issued the server certificate. */
  readonly caPem: string;
  readonly token: string;
  readonly log: FakeRequest[];
  /** Called for each authenticated request before it is served. */
  fault: ((request: FakeRequest) => Fault) | undefined;
  /** Objects by kind: `secrets` and `serviceaccounts` keyed `ns/name`; `namespaces`, `validatingwebhookconfigurations`, `mutatingwebhookconfigurations` by name. */
  readonly objects: Record<'secrets' | 'serviceaccounts' | 'namespaces' | 'validatingwebhookconfigurations' | 'mutatingwebhookconfigurations', Map<string, KubeObject>>;
  /** Store an object (a new resourceVersion is assigned). */
  put(kind: keyof FakeKubeApi['objects'], key: string, object: KubeObject): KubeObject;
  /** Write a kubeconfig for this server; `token` overrides the accepted one (to test 401). */
  kubeconfig(options?: { token?: string }): string;
  stop(): Promise<void>;
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code }));
}

function send(res: ServerResponse, code: number, object: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(object));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** RFC 6901 pointer → parent container and last key. */
function locate(doc: any, pointer: string): { parent: any; key: string } {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let parent = doc;
  for (const part of parts.slice(0, -1)) {
    parent = parent?.[part];
    if (parent === undefined || parent === null) throw new Error(`path ${pointer} does not exist`);
  }
  return { parent, key: parts.at(-1) ?? '' };
}

/** The JSON Patch subset modelgate sends (test, replace, add). Throws on a failed test or a bad path. */
function applyJsonPatch(doc: KubeObject, ops: Array<{ op: string; path: string; value?: unknown }>): KubeObject {
  const copy = structuredClone(doc);
  for (const op of ops) {
    const { parent, key } = locate(copy, op.path);
    switch (op.op) {
      case 'test':
        if (JSON.stringify(parent[key]) !== JSON.stringify(op.value)) throw new Error(`test of ${op.path} failed`);
        break;
      case 'replace':
        if (!(key in parent)) throw new Error(`replace of missing ${op.path}`);
        parent[key] = op.value;
        break;
      case 'add':
        if (Array.isArray(parent) && key === '-') parent.push(op.value);
        else parent[key] = op.value;
        break;
      default:
        throw new Error(`unsupported op ${op.op}`);
    }
  }
  return copy;
}

export async function startFakeKubeApi(options: { t?: { teardown(fn: () => unknown): void } } = {}): Promise<FakeKubeApi> {
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-api-'));
  const caKey = join(dir, 'ca.key');
  const caPemPath = join(dir, 'ca.pem');
  const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=fake-kube-ca', '-keyout', caKey, '-out', caPemPath]);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=fake-kube-api', '-keyout', 'server.key', '-out', 'server.csr']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', caPemPath, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem']);
  const caPem = readFileSync(caPemPath, 'utf8');
  const token = randomBytes(16).toString('hex');

  let version = 100;
  const objects: FakeKubeApi['objects'] = {
    secrets: new Map(),
    serviceaccounts: new Map(),
    namespaces: new Map(),
    validatingwebhookconfigurations: new Map(),
    mutatingwebhookconfigurations: new Map(),
  };
  const stamp = (object: KubeObject): KubeObject => {
    const stored = structuredClone(object);
    stored.metadata = { ...stored.metadata, resourceVersion: String(++version) };
    return stored;
  };
  const log: FakeRequest[] = [];
  const api = {
    url: '',
    caPem,
    token,
    log,
    fault: undefined as FakeKubeApi['fault'],
    objects,
  } as FakeKubeApi & { url: string };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const entry: FakeRequest = { method: req.method ?? 'GET', path: url.pathname, contentType: req.headers['content-type'] };
    log.push(entry);
    if (req.headers.authorization !== `Bearer ${token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const fault = api.fault?.(entry);
    if (fault === 'hang') return; // never answered (the socket is destroyed by stop())
    if (fault !== undefined) return status(res, fault.status, fault.reason ?? 'Fault', `injected ${fault.status}`);

    const body = entry.method === 'POST' || entry.method === 'PUT' || entry.method === 'PATCH' ? await readBody(req) : '';
    let match: RegExpExecArray | null;
    if ((match = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(url.pathname))) {
      const [, ns, name] = match as unknown as [string, string, string | undefined];
      if (entry.method === 'POST' && name === undefined) {
        const object = JSON.parse(body) as KubeObject;
        const key = `${ns}/${object.metadata?.name}`;
        if (objects.secrets.has(key)) return status(res, 409, 'AlreadyExists', `secrets "${object.metadata?.name}" already exists`);
        const stored = stamp({ ...object, metadata: { ...object.metadata, namespace: ns } });
        objects.secrets.set(key, stored);
        return send(res, 201, stored);
      }
      if (name === undefined) return status(res, 405, 'MethodNotAllowed', 'method not allowed');
      const key = `${ns}/${name}`;
      const current = objects.secrets.get(key);
      if (entry.method === 'GET') return current ? send(res, 200, current) : status(res, 404, 'NotFound', `secrets "${name}" not found`);
      if (entry.method === 'PUT') {
        if (!current) return status(res, 404, 'NotFound', `secrets "${name}" not found`);
        const object = JSON.parse(body) as KubeObject;
        if (object.metadata?.resourceVersion !== current.metadata.resourceVersion) {
          return status(res, 409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`);
        }
        const stored = stamp({ ...object, metadata: { ...object.metadata, namespace: ns } });
        objects.secrets.set(key, stored);
        return send(res, 200, stored);
      }
      return status(res, 405, 'MethodNotAllowed', 'method not allowed');
    }
    if ((match = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)$/.exec(url.pathname)) && entry.method === 'GET') {
      const found = objects.serviceaccounts.get(`${match[1]}/${match[2]}`);
      return found ? send(res, 200, found) : status(res, 404, 'NotFound', `serviceaccounts "${match[2]}" not found`);
    }
    if ((match = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname)) && entry.method === 'GET') {
      const found = objects.namespaces.get(match[1]!);
      return found ? send(res, 200, found) : status(res, 404, 'NotFound', `namespaces "${match[1]}" not found`);
    }
    if ((match = /^\/apis\/admissionregistration\.k8s\.io\/v1\/(validatingwebhookconfigurations|mutatingwebhookconfigurations)\/([^/]+)$/.exec(url.pathname))) {
      const kind = match[1] as 'validatingwebhookconfigurations' | 'mutatingwebhookconfigurations';
      const current = objects[kind].get(match[2]!);
      if (!current) return status(res, 404, 'NotFound', `${kind} "${match[2]}" not found`);
      if (entry.method === 'GET') return send(res, 200, current);
      if (entry.method === 'PATCH') {
        if (entry.contentType?.split(';')[0] !== 'application/json-patch+json') return status(res, 415, 'UnsupportedMediaType', `unsupported patch type ${entry.contentType}`);
        let patched: KubeObject;
        try {
          patched = applyJsonPatch(current, JSON.parse(body) as Array<{ op: string; path: string; value?: unknown }>);
        } catch (err) {
          return status(res, 422, 'Invalid', (err as Error).message);
        }
        const stored = stamp(patched);
        objects[kind].set(match[2]!, stored);
        return send(res, 200, stored);
      }
    }
    return status(res, 404, 'NotFound', `the server could not find the requested resource (${entry.method} ${url.pathname})`);
  };

  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
    serve(req, res).catch((err: unknown) => status(res, 500, 'InternalError', (err as Error).message));
  });
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  api.put = (kind, key, object) => {
    const stored = stamp(object);
    objects[kind].set(key, stored);
    return stored;
  };
  api.kubeconfig = (opts = {}) => {
    const path = join(dir, `kubeconfig-${randomBytes(4).toString('hex')}.yaml`);
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${api.url}`,
        `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
        'users:',
        '- name: fake',
        '  user:',
        `    token: ${opts.token ?? token}`,
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: fake, namespace: default}',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return path;
  };
  let stopped = false;
  api.stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  options.t?.teardown(() => api.stop());
  return api;
}
