/**
 * X.509 path validation for model_signing's certificate method (own PKI, no Sigstore).
 *
 * Owns: `verifyCertificateChain(leaf, intermediates, roots, time)`: builds the path from the leaf
 * to one of the caller's trusted CA certificates by **signature and key identifiers, never by
 * names** (model_signing's test leaf has subject = issuer = `CN=intermediate-ca` without being
 * self-signed, vectors README quirk 7), checks every certificate's validity at `time`, CA-ness and
 * keyCertSign of every issuer, path-length constraints, and that the leaf may sign code
 * (KeyUsage digitalSignature or EKU codeSigning, as model_signing requires). A leaf with CA:TRUE
 * is tolerated, as model_signing does.
 *
 * Why hand-written: Node has no path builder (only `X509Certificate.verify/checkIssued`), and
 * `@sigstore/verify`'s chain code is tied to Fulcio trust material; the parsing of extensions comes
 * from `@sigstore/core`, signatures from Node's OpenSSL.
 */
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { X509Certificate as CoreX509Certificate } from '@sigstore/core';
import { VerificationError } from '../sigstore/errors.ts';

const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const MAX_PATH = 10;

interface Cert {
  readonly node: NodeX509Certificate;
  readonly core: CoreX509Certificate;
  readonly label: string;
}

function load(der: Buffer, label: string): Cert {
  try {
    return { node: new NodeX509Certificate(der), core: CoreX509Certificate.parse(Buffer.from(der)), label };
  } catch (err) {
    throw new VerificationError('CERTIFICATE', `${label} is not a valid X.509 certificate: ${(err as Error).message}`, { cause: err });
  }
}

/** The subject DN on one line; Node gives `undefined` for an empty subject (a Fulcio leaf has one). */
export function subjectOf(cert: NodeX509Certificate): string {
  const subject = (cert.subject as string | undefined) ?? '';
  return subject.replace(/\n/g, ', ');
}

function describe(cert: Cert): string {
  const subject = subjectOf(cert.node);
  return subject === '' ? `${cert.label} (empty subject)` : `${cert.label} (${subject})`;
}

function keyIdsCompatible(child: Cert, issuer: Cert): boolean {
  const aki = child.core.extAuthorityKeyID?.keyIdentifier;
  const ski = issuer.core.extSubjectKeyID?.keyIdentifier;
  return aki === undefined || ski === undefined || Buffer.compare(aki, ski) === 0;
}

function signedBy(child: Cert, issuer: Cert): boolean {
  if (!keyIdsCompatible(child, issuer)) return false;
  try {
    return child.node.verify(issuer.node.publicKey);
  } catch {
    return false;
  }
}

function canIssue(cert: Cert): boolean {
  const bc = cert.core.extBasicConstraints;
  if (bc === undefined || !bc.isCA) return false;
  const ku = cert.core.extKeyUsage;
  return ku === undefined || ku.keyCertSign;
}

function validAt(cert: Cert, time: Date): void {
  const from = new Date(cert.node.validFrom);
  const to = new Date(cert.node.validTo);
  if (time < from || time > to) {
    throw new VerificationError('CERTIFICATE', `${describe(cert)} is not valid at ${time.toISOString()} (valid ${from.toISOString()} to ${to.toISOString()})`);
  }
}

function mayCodeSign(leaf: Cert): boolean {
  const ku = leaf.core.extKeyUsage;
  if (ku?.digitalSignature === true) return true;
  const eku = leaf.node.keyUsage; // Node names the extended key usage OIDs `keyUsage`
  return Array.isArray(eku) && eku.includes(EKU_CODE_SIGNING);
}

export interface VerifiedChain {
  /** Leaf first, trust anchor last. */
  readonly path: readonly NodeX509Certificate[];
}

/**
 * Verify that `leafDer` chains to one of `roots` through (untrusted) `intermediatesDer`, all valid
 * at `time`. Throws VerificationError CERTIFICATE naming the certificate at fault.
 */
export function verifyCertificateChain(
  leafDer: Buffer,
  intermediatesDer: readonly Buffer[],
  roots: readonly NodeX509Certificate[],
  time: Date,
): VerifiedChain {
  if (roots.length === 0) throw new VerificationError('CERTIFICATE', 'no trusted CA certificates were given');
  const leaf = load(leafDer, 'leaf certificate');
  const intermediates = intermediatesDer.map((der, i) => load(der, `chain certificate ${i + 1}`));
  const anchors = roots.map((r, i) => load(r.raw, `trusted certificate ${i + 1}`));
  if (!mayCodeSign(leaf)) throw new VerificationError('CERTIFICATE', `${describe(leaf)} has neither KeyUsage digitalSignature nor EKU codeSigning`);
  validAt(leaf, time);

  const path: Cert[] = [leaf];
  let current = leaf;
  for (let depth = 0; depth < MAX_PATH; depth += 1) {
    const anchor = anchors.find((a) => signedBy(current, a));
    if (anchor !== undefined) {
      if (!canIssue(anchor) && !(anchor.node.raw.equals(current.node.raw))) {
        throw new VerificationError('CERTIFICATE', `${describe(anchor)} signed ${describe(current)} but is not a CA allowed to sign certificates`);
      }
      validAt(anchor, time);
      path.push(anchor);
      checkPathLengths(path);
      return { path: path.map((c) => c.node) };
    }
    const next = intermediates.find((c) => !path.includes(c) && signedBy(current, c));
    if (next === undefined) {
      throw new VerificationError('CERTIFICATE', `no trusted CA or chain certificate signed ${describe(current)}: the chain does not lead to the given CA certificates`);
    }
    if (!canIssue(next)) throw new VerificationError('CERTIFICATE', `${describe(next)} is not a CA allowed to sign certificates`);
    validAt(next, time);
    path.push(next);
    current = next;
  }
  throw new VerificationError('CERTIFICATE', `certificate chain is longer than ${MAX_PATH}`);
}

/** basicConstraints pathLenConstraint: number of non-leaf CAs allowed below each issuer. */
function checkPathLengths(path: readonly Cert[]): void {
  for (let i = 1; i < path.length; i += 1) {
    const limit = path[i]?.core.extBasicConstraints?.pathLenConstraint;
    if (limit === undefined) continue;
    const below = i - 1; // CAs strictly between this issuer and the leaf
    if (BigInt(below) > limit) throw new VerificationError('CERTIFICATE', `${describe(path[i] as Cert)} allows ${limit} intermediate CAs below it, the path has ${below}`);
  }
}
