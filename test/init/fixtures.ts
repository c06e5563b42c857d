// Shared fixtures of the init tests: hand-written tar archives (so an archive can hold what no
// well-behaved packer writes), and one loopback registry with the fault proxy in front of it, a signing
// key trusted by the policy data, a pusher of CNCF ModelPack artifacts (signed and attested like
// test/pipeline/verify.test.ts) and a runner of `modelgate init` as a subprocess.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { openStore } from '../../src/oci/open.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { ModelPackMediaType } from '../../src/modelpack/spec.ts';
import { attachBundle } from '../../src/sign/attach.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, signStatementBundle } from '../../src/sign/dsse-bundle.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { startRegistry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';
import { keyTrustPolicyData, SLSA_V1, TRAINING_BUILDER, TRAINING_SOURCE } from '../helpers/signed-models.ts';

// ---------------------------------------------------------------------------------------------
// Tar entries written by hand, so the archive can hold what no well-behaved packer writes.

export interface TarEntry {
  readonly name: string;
  /** The raw bytes of the name field (a name that is not UTF-8); `name` is then only a label. */
  readonly nameBytes?: Buffer;
  readonly type?: '0' | '1' | '2' | '3' | '5' | '6';
  readonly body?: Buffer;
  readonly linkname?: string;
  readonly mode?: number;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body ?? Buffer.alloc(0);
    const header = Buffer.alloc(512);
    if (e.nameBytes !== undefined) e.nameBytes.copy(header, 0, 0, 100);
    else header.write(e.name, 0, 100, 'utf8');
    header.write(octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8), 100, 'ascii');
    header.write(octal(0, 8), 108, 'ascii');
    header.write(octal(0, 8), 116, 'ascii');
    header.write(octal((e.type ?? '0') === '0' ? body.length : 0, 12), 124, 'ascii');
    header.write(octal(0, 12), 136, 'ascii');
    header.write('        ', 148, 'ascii');
    header.write(e.type ?? '0', 156, 'ascii');
    header.write(e.linkname ?? '', 157, 100, 'utf8');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    if (e.type === '3') {
      header.write(octal(1, 8), 329, 'ascii');
      header.write(octal(3, 8), 337, 'ascii');
    }
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    parts.push(header);
    if ((e.type ?? '0') === '0') parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface LayerSpec {
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly filepath?: string;
}

export const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface InitRun {
  code: number;
  stdout: string;
  stderr: string;
  termination: string;
}

/** One registry + fault proxy + key + policy data per test file, removed at its end. */
export async function initFixture(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const registry = await startRegistry({ t });
  const proxy = await startFaultProxy({ upstream: registry.url });
  t.teardown(() => proxy.stop());
  const store = openStore(parseReference(`${registry.host}/models/llama`));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pubPath = join(dir, 'key.pub');
  writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));

  const dataPath = join(dir, 'data.json');
  writeFileSync(dataPath, JSON.stringify(keyTrustPolicyData(publicKey)));

  async function pushArtifact(name: string, layers: readonly LayerSpec[], options: { sign?: boolean; tag?: string } = {}): Promise<{ manifest: Descriptor; layers: Descriptor[] }> {
    const config = await store.pushBlob({ kind: 'bytes', mediaType: ModelPackMediaType.CONFIG, bytes: Buffer.from(JSON.stringify({ descriptor: { name }, config: {}, modelfs: { type: 'layers', diffIds: [] } })) });
    const pushed: Descriptor[] = [];
    for (const layer of layers) {
      const d = await store.pushBlob({ kind: 'bytes', mediaType: layer.mediaType, bytes: layer.bytes });
      pushed.push({ ...d, mediaType: layer.mediaType, ...(layer.filepath ? { annotations: { 'org.cncf.model.filepath': layer.filepath } } : {}) });
    }
    const body = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: ModelPackMediaType.ARTIFACT, config, layers: pushed };
    const manifest = await store.pushManifest(Buffer.from(JSON.stringify(body)), body.mediaType, options.tag ? { tag: options.tag } : {});
    if (options.sign !== false) {
      await attachBundle(store, manifest, signStatementBundle([{ digest: manifest.digest }], COSIGN_SIGN_PREDICATE_TYPE, {}, privateKey as KeyObject));
      const provenance = {
        buildDefinition: { buildType: 'https://modelgate.dev/buildtypes/train/v1', externalParameters: {}, resolvedDependencies: [{ uri: `git+${TRAINING_SOURCE}@refs/heads/main`, digest: { gitCommit: '0'.repeat(40) } }] },
        runDetails: { builder: { id: TRAINING_BUILDER }, metadata: { invocationId: name } },
      };
      await attachBundle(store, manifest, signStatementBundle([{ name: 'model', digest: manifest.digest }], SLSA_V1, provenance, privateKey as KeyObject));
    }
    return { manifest, layers: pushed };
  }

  const uriOf = (d: Descriptor, host = proxy.host): string => `modelgate+oci://${host}/models/llama@${d.digest}`;

  let runs = 0;
  async function init(args: readonly string[], cacheDir: string): Promise<InitRun> {
    const terminationLog = join(dir, `termination-${++runs}.log`);
    const { code, stdout, stderr } = await runCli(['init', ...args, '--data', dataPath, '--key', pubPath, '--cache-dir', cacheDir, '--termination-log', terminationLog, '--timeout', '5000']);
    return { code, stdout, stderr, termination: existsSync(terminationLog) ? readFileSync(terminationLog, 'utf8') : '' };
  }

  const blobGets = (digest: string): number => proxy.count('GET', new RegExp(`/blobs/${digest}$`));

  return { dir, registry, proxy, store, privateKey, publicKey, pubPath, dataPath, pushArtifact, uriOf, init, blobGets };
}
