/**
 * `modelgate verify-bundle`: verify one Sigstore bundle over a file or a digest.
 *
 * Owns: the sigstore-conformance client protocol
 * `verify-bundle [--staging] --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key FILE) [--trusted-root FILE] FILE_OR_DIGEST`
 * and its human / JSON report. A key-signed bundle without log entries, verified with
 * `--tlog-threshold 0` (or `--insecure-ignore-tlog`), needs no trusted root (`evidence-trust.ts`). Exit 0 = verified, 1 = not verified (any VerificationError, including a
 * malformed bundle), 2 = could not run (usage, trust material unavailable).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { isDigest, parseDigest, type Digest } from '../oci/digest.ts';
import { MAX_BUNDLE_BYTES, verifyBundle, type ArtifactInput, type SignerPolicy, type VerifiedBundle } from '../sigstore/bundle.ts';
import { VerificationError } from '../sigstore/errors.ts';
import { parsePublicKey } from '../sigstore/keys.ts';
import type { TrustMaterial } from '../sigstore/trust.ts';
import { addEvidenceTrustOptions, trustForEvidence, type EvidenceTrustCliOptions } from './evidence-trust.ts';
import { outputOption, type OutputFormat } from './output-format.ts';
import { addTrustOptions } from './trust-options.ts';
import { addSingleIdentityPatternOptions, givesIdentity, singleIdentityPolicy, type SingleIdentityCliOptions } from './identity-pattern-options.ts';
import { readText } from './option-values.ts';

interface VerifyBundleOptions extends EvidenceTrustCliOptions, SingleIdentityCliOptions {
  bundle: string;
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  key?: string;
  tlogThreshold: string;
  ctlogThreshold: string;
  tsaThreshold: string;
  output: OutputFormat;
}

/** Artifacts up to this size are read into memory (pure Ed25519 needs the bytes); larger ones are hashed as a stream. */
const MAX_IN_MEMORY_ARTIFACT = 64 * 1024 * 1024;

function parseThreshold(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError('USAGE', `--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

function readBundleText(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new UsageError('USAGE', `cannot read bundle ${path}: ${(err as Error).message}`);
  }
  if (size > MAX_BUNDLE_BYTES) throw new VerificationError('BUNDLE_FORMAT', `bundle ${path} is ${size} bytes, more than the ${MAX_BUNDLE_BYTES}-byte limit`);
  return readFileSync(path, 'utf8');
}

/** The bundle's `publicKey.hint`, message-digest algorithm and whether it has log entries, read leniently (the verifier parses strictly). */
function peekBundle(text: string): { hint?: string; hashAlgorithm: 'sha256' | 'sha384' | 'sha512'; hasTlog: boolean } {
  try {
    const json = JSON.parse(text) as { verificationMaterial?: { publicKey?: { hint?: unknown }; tlogEntries?: unknown }; messageSignature?: { messageDigest?: { algorithm?: unknown } } };
    const hint = json.verificationMaterial?.publicKey?.hint;
    const algorithm = json.messageSignature?.messageDigest?.algorithm;
    const hashAlgorithm = algorithm === 'SHA2_384' ? 'sha384' : algorithm === 'SHA2_512' ? 'sha512' : 'sha256';
    const entries = json.verificationMaterial?.tlogEntries;
    const hasTlog = Array.isArray(entries) && entries.length > 0;
    return typeof hint === 'string' ? { hint, hashAlgorithm, hasTlog } : { hashAlgorithm, hasTlog };
  } catch {
    return { hashAlgorithm: 'sha256', hasTlog: false };
  }
}

async function signerPolicy(options: VerifyBundleOptions, bundleText: string): Promise<SignerPolicy> {
  const identity = givesIdentity(options);
  if (identity && options.key !== undefined) throw new UsageError('USAGE', 'give either --key or a certificate identity (--certificate-identity/--certificate-oidc-issuer, or their -regexp forms), not both');
  if (options.key !== undefined) {
    const text = await readText(options.key, 'key');
    if (text.trimStart().startsWith('{')) {
      // sigstore-js public_keys.json: { "<hint>": "<PEM>" }; pick the entry the bundle names.
      let map: unknown;
      try {
        map = JSON.parse(text);
      } catch (err) {
        throw new VerificationError('KEY', `key file ${options.key} is not valid JSON: ${(err as Error).message}`);
      }
      const { hint } = peekBundle(bundleText);
      const pem = typeof map === 'object' && map !== null && hint !== undefined ? (map as Record<string, unknown>)[hint] : undefined;
      if (typeof pem !== 'string') {
        throw new VerificationError('KEY', `key file ${options.key} has no key for the bundle's publicKey hint ${JSON.stringify(hint ?? null)}`);
      }
      return { kind: 'key', keys: [parsePublicKey(pem)] };
    }
    return { kind: 'key', keys: [parsePublicKey(text)] };
  }
  return singleIdentityPolicy(options);
}

async function artifactInput(fileOrDigest: string, hashAlgorithm: 'sha256' | 'sha384' | 'sha512'): Promise<ArtifactInput> {
  if (/^sha256:[a-f0-9]{64}$/.test(fileOrDigest) && !existsSync(fileOrDigest)) return { kind: 'digest', digest: parseDigest(fileOrDigest) };
  let size: number;
  try {
    size = statSync(fileOrDigest).size;
  } catch (err) {
    throw new UsageError('USAGE', `artifact ${fileOrDigest} is neither a readable file nor sha256:<64 hex>: ${(err as Error).message}`);
  }
  if (size <= MAX_IN_MEMORY_ARTIFACT) return { kind: 'bytes', bytes: readFileSync(fileOrDigest) };
  const hash = createHash(hashAlgorithm === 'sha384' ? 'sha384' : hashAlgorithm);
  for await (const chunk of createReadStream(fileOrDigest)) hash.update(chunk as Buffer);
  const digest = `${hashAlgorithm}:${hash.digest('hex')}`;
  if (!isDigest(digest)) {
    // sha384 is not an OCI digest algorithm; fall back to reading the bytes.
    return { kind: 'bytes', bytes: readFileSync(fileOrDigest) };
  }
  return { kind: 'digest', digest: digest as Digest };
}

function describe(result: VerifiedBundle, trust: TrustMaterial): string {
  const lines = ['Verified OK'];
  const content =
    result.content.kind === 'message'
      ? `message signature over ${result.content.digest}`
      : `DSSE envelope (${result.content.payloadType}${result.content.statement ? `, predicate ${result.content.statement.predicateType}` : ''})`;
  lines.push(`  bundle:     ${result.mediaType}`, `  content:    ${content}`);
  if (result.signer.kind === 'key') lines.push(`  signer:     public key ${result.signer.keyId}`);
  else lines.push(`  signer:     ${result.signer.san}`, `  issuer:     ${result.signer.issuer}`);
  for (const t of result.verifiedTimes) lines.push(`  time:       ${t.time.toISOString()} (${t.source === 'tlog' ? 'transparency log' : 'RFC 3161 timestamp'})`);
  for (const e of result.tlogEntries) lines.push(`  log entry:  ${e.logUrl ?? e.logId} index ${e.logIndex} (${e.kind} ${e.version})`);
  lines.push(`  trust root: ${trust.source} (${trust.trustDigest})`);
  for (const w of trust.warnings) lines.push(`  trust note: ${w}`);
  return `${lines.join('\n')}\n`;
}

function toJson(result: VerifiedBundle, trust: TrustMaterial): unknown {
  const signer = result.signer.kind === 'key' ? result.signer : { kind: 'certificate', san: result.signer.san, issuer: result.signer.issuer, extensions: result.signer.extensions };
  const content = result.content.kind === 'message' ? result.content : { kind: 'dsse', payloadType: result.content.payloadType, predicateType: result.content.statement?.predicateType, subject: result.content.statement?.subject };
  return { verified: true, mediaType: result.mediaType, signer, content, verifiedTimes: result.verifiedTimes, tlogEntries: result.tlogEntries, trust: { source: trust.source, digest: trust.trustDigest, warnings: trust.warnings } };
}

export function register(program: Command): void {
  const command = program
    .command('verify-bundle')
    .description('Verify a Sigstore bundle over an artifact file or sha256:<hex> digest (sigstore-conformance protocol). Exit 0 verified, 1 not verified, 2 error.')
    .argument('[file-or-digest]', 'the signed artifact, or sha256:<64 hex> (for an in-toto DSSE bundle: a statement subject); omit only for a DSSE bundle whose payload names no artifact')
    .requiredOption('--bundle <file>', 'Sigstore bundle JSON')
    .option('--certificate-identity <san>', 'required certificate SAN (exact match)')
    .option('--certificate-oidc-issuer <url>', 'required OIDC issuer (exact match)')
    .option('--key <file>', 'public key PEM, or a JSON map {hint: PEM} picked by the bundle\'s publicKey hint')
    .option('--tlog-threshold <n>', 'verified transparency-log entries required', '1')
    .option('--ctlog-threshold <n>', 'verified SCTs required in a Fulcio certificate', '1')
    .option('--tsa-threshold <n>', 'verified RFC 3161 timestamps required', '0')
    .addOption(outputOption());
  addEvidenceTrustOptions(addTrustOptions(addSingleIdentityPatternOptions(command))).action(async (fileOrDigest: string | undefined, options: VerifyBundleOptions) => {
    const thresholds = {
      tlogThreshold: parseThreshold('tlog-threshold', options.tlogThreshold),
      ctlogThreshold: parseThreshold('ctlog-threshold', options.ctlogThreshold),
      tsaThreshold: parseThreshold('tsa-threshold', options.tsaThreshold),
    };
    let result: VerifiedBundle;
    let trust: TrustMaterial | undefined;
    try {
      const bundleText = readBundleText(options.bundle);
      const signer = await signerPolicy(options, bundleText);
      const artifact = fileOrDigest === undefined ? undefined : await artifactInput(fileOrDigest, peekBundle(bundleText).hashAlgorithm);
      trust = await trustForEvidence(options, {
        identities: signer.kind === 'identity' ? [signer] : [],
        keyTlogThreshold: signer.kind === 'key' ? thresholds.tlogThreshold : 0,
        tsaThreshold: thresholds.tsaThreshold,
        evidenceHasTlog: peekBundle(bundleText).hasTlog,
      });
      const ignoreTlog = options.insecureIgnoreTlog === true ? { ignoreTlog: true } : {};
      result = await verifyBundle(bundleText, { trust, signer, ...(artifact === undefined ? {} : { artifact }), ...thresholds, ...ignoreTlog });
    } catch (err) {
      if (!(err instanceof VerificationError) || err.code === 'TRUST_UNAVAILABLE' || err.code === 'TRUST_ROOT') throw err;
      if (options.output === 'json') process.stdout.write(`${JSON.stringify({ verified: false, error: { code: err.code, message: err.message } })}\n`);
      process.stderr.write(`modelgate: verification FAILED: ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(options.output === 'json' ? `${JSON.stringify(toJson(result, trust), null, 2)}\n` : describe(result, trust));
  });
}
