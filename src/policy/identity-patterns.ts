/**
 * Policy data's keyless identity patterns (`signers.identityPatterns`: OIDC issuer → anchored SAN
 * pattern → entry), compiled once when data loads and matched outside Rego.
 *
 * Owns: `compileDataIdentityPatterns` (refuses, as DATA_INVALID, a pattern that is unanchored, does
 * not compile or may backtrack catastrophically: the rules of src/sigstore/identity-pattern.ts) and
 * `markIdentityPatterns`, which sets each keyless signer's `identityPatterns` in a policy input to the
 * pattern keys under its issuer that match its SAN. The Rego policy then trusts such a signer by a map
 * lookup (`signers.identityPatterns[issuer][pattern]`), never by running a regex per request. A value
 * a caller put in `identityPatterns` is always replaced, so it cannot claim a match; with no patterns
 * in data the input is passed through untouched (nothing to mark, and the policy cannot match one).
 */
import { compileIdentityPattern, type IdentityPattern } from '../sigstore/identity-pattern.ts';
import { PolicyError } from './errors.ts';
import { isRecord } from '../evidence/json.ts';

/** OIDC issuer → its compiled SAN patterns. */
export type DataIdentityPatterns = ReadonlyMap<string, readonly IdentityPattern[]>;

type Json = Record<string, unknown>;

/** The patterns of `modelgate_config.signers.identityPatterns`, or undefined when the data has none. */
export function compileDataIdentityPatterns(data: unknown): DataIdentityPatterns | undefined {
  const config = isRecord(data) ? data.modelgate_config : undefined;
  const byIssuer = isRecord(config) && isRecord(config.signers) ? config.signers.identityPatterns : undefined;
  if (!isRecord(byIssuer)) return undefined;
  const compiled = new Map<string, IdentityPattern[]>();
  for (const [issuer, patterns] of Object.entries(byIssuer)) {
    if (!isRecord(patterns)) continue; // the data schema names the shape; custom policies may use their own
    const list = Object.keys(patterns).map((source) =>
      compileIdentityPattern(source, (why) => {
        throw new PolicyError('DATA_INVALID', `policy data signers.identityPatterns[${JSON.stringify(issuer)}]: ${why}`);
      }),
    );
    if (list.length > 0) compiled.set(issuer, list);
  }
  return compiled.size > 0 ? compiled : undefined;
}

function marked(signer: unknown, patterns: DataIdentityPatterns): unknown {
  if (!isRecord(signer)) return signer;
  const candidates = signer.method === 'keyless' && typeof signer.issuer === 'string' ? patterns.get(signer.issuer) : undefined;
  const san = signer.san;
  const matching = candidates === undefined || typeof san !== 'string' ? [] : candidates.filter((p) => p.regex.test(san)).map((p) => p.source);
  if (matching.length === 0 && !('identityPatterns' in signer)) return signer;
  return { ...signer, identityPatterns: matching };
}

const withSigner = (item: unknown, patterns: DataIdentityPatterns): unknown => (isRecord(item) ? { ...item, signer: marked(item.signer, patterns) } : item);

/** A copy of `input` whose keyless signers name the data patterns their SAN matches (see the header). */
export function markIdentityPatterns(input: unknown, patterns: DataIdentityPatterns | undefined): unknown {
  if (patterns === undefined || !isRecord(input)) return input;
  const list = (value: unknown, map: (item: unknown) => unknown): unknown => (Array.isArray(value) ? value.map(map) : value);
  return {
    ...input,
    signatures: list(input.signatures, (s) => marked(s, patterns)),
    attestations: list(input.attestations, (a) => withSigner(a, patterns)),
    modelSignatures: list(input.modelSignatures, (m) => withSigner(m, patterns)),
    ...('datasets' in input ? { datasets: list(input.datasets, (d) => (isRecord(d) ? { ...d, signers: list(d.signers, (s) => marked(s, patterns)) } : d)) } : {}),
  };
}
