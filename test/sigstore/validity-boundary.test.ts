/**
 * Trusted-root validity periods are closed intervals (issue 14, item 2; sigstore-conformance
 * `trust-root-tlog-validity-end-inclusive` / `trust-root-tsa-validity-end-inclusive`): evidence
 * dated exactly at a log key's, CA's, CT log's or TSA's `validFor.end` verifies; one second later
 * than the end (the end moved one second earlier) it does not. Built from the upstream material the
 * conformance cases edit: the real bundles and roots of the shared vectors, one `validFor.end`
 * changed at a time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import { verifyBundle, type BundleVerifyOptions } from '../../src/sigstore/bundle.ts';
import { trustFromBytes } from '../../src/sigstore/trust.ts';
import { rejectsWith } from '../helpers/rejects-code.ts';

const VECTORS = join(import.meta.dirname, '../../../shared/vectors');
const CONFORMANCE = join(VECTORS, 'sigstore-conformance/bundle-verify');
const json = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
const BEACON = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';

/** The root with one `validFor.end` set (`edit` picks the validity object to change). */
function rootWithEnd(rootPath: string, edit: (root: Record<string, any>) => Record<string, any>, end: Date): BundleVerifyOptions['trust'] {
  const root = json(rootPath);
  edit(root).end = end.toISOString();
  return trustFromBytes(Buffer.from(JSON.stringify(root)), 'edited');
}

const v1Bundle = json(join(CONFORMANCE, 'happy-path-v0.1/bundle.sigstore.json'));
const publicGood = join(VECTORS, 'trust/public-good.trusted_root.json');
const integrated = new Date(Number(v1Bundle.verificationMaterial.tlogEntries[0].integratedTime) * 1000);
const leaf = X509Certificate.parse(Buffer.from(v1Bundle.verificationMaterial.x509CertificateChain.certificates[0].rawBytes, 'base64'));
const v1Options = (trust: BundleVerifyOptions['trust']): BundleVerifyOptions => ({
  trust,
  signer: { kind: 'identity', san: BEACON, issuer: 'https://token.actions.githubusercontent.com' },
  artifact: { kind: 'bytes', bytes: readFileSync(join(CONFORMANCE, 'a.txt')) },
});
const second = (d: Date, delta: number): Date => new Date(d.getTime() + delta * 1000);

t.test('tlog key: an entry integrated exactly at validFor.end verifies, one second after does not', async (t) => {
  t.equal(integrated.toISOString(), '2023-07-12T15:56:36.000Z', 'the upstream boundary second');
  const rekor = (root: Record<string, any>) => root.tlogs.find((l: any) => l.baseUrl === 'https://rekor.sigstore.dev').publicKey.validFor;
  const ok = await verifyBundle(v1Bundle, v1Options(rootWithEnd(publicGood, rekor, integrated)));
  t.same(ok.verifiedTimes, [{ source: 'tlog', time: integrated }]);
  await rejectsWith(t, verifyBundle(v1Bundle, v1Options(rootWithEnd(publicGood, rekor, second(integrated, -1)))), ['TLOG']);
});

t.test('Fulcio CA: a certificate checked exactly at the CA\'s validFor.end verifies, one second after does not', async (t) => {
  const ca2022 = (root: Record<string, any>) => root.certificateAuthorities[1].validFor;
  t.ok(await verifyBundle(v1Bundle, v1Options(rootWithEnd(publicGood, ca2022, integrated))));
  await rejectsWith(t, verifyBundle(v1Bundle, v1Options(rootWithEnd(publicGood, ca2022, second(integrated, -1)))), ['CERTIFICATE']);
});

t.test('CT log: an SCT issued exactly at the CT key\'s validFor.end verifies, one second after does not', async (t) => {
  const sctTime = leaf.extSCT!.signedCertificateTimestamps[0]!.datetime;
  const ct2022 = (root: Record<string, any>) => root.ctlogs.find((l: any) => l.baseUrl === 'https://ctfe.sigstore.dev/2022').publicKey.validFor;
  t.ok(await verifyBundle(v1Bundle, v1Options(rootWithEnd(publicGood, ct2022, sctTime))));
  await rejectsWith(t, verifyBundle(v1Bundle, v1Options(rootWithEnd(publicGood, ct2022, second(sctTime, -1)))), ['CERTIFICATE']);
});

t.test('TSA: a timestamp made exactly at the TSA\'s validFor.end verifies, one second after does not', async (t) => {
  const dir = join(CONFORMANCE, 'rekor2-happy-path');
  const bundle = json(join(dir, 'bundle.sigstore.json'));
  const signingTime = RFC3161Timestamp.parse(Buffer.from(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64')).signingTime;
  const tsa = (root: Record<string, any>) => root.timestampAuthorities[0].validFor;
  const ok = await verifyBundle(bundle, v1Options(rootWithEnd(join(dir, 'trusted_root.json'), tsa, signingTime)));
  t.same(ok.verifiedTimes, [{ source: 'tsa', time: signingTime }]);
  await rejectsWith(t, verifyBundle(bundle, v1Options(rootWithEnd(join(dir, 'trusted_root.json'), tsa, second(signingTime, -1)))), ['TIMESTAMP']);
  // The same inclusive end for the CA the certificate is checked against at the TSA's time.
  const ca = (root: Record<string, any>) => root.certificateAuthorities[0].validFor;
  t.ok(await verifyBundle(bundle, v1Options(rootWithEnd(join(dir, 'trusted_root.json'), ca, signingTime))));
  await rejectsWith(t, verifyBundle(bundle, v1Options(rootWithEnd(join(dir, 'trusted_root.json'), ca, second(signingTime, -1)))), ['CERTIFICATE']);
});
