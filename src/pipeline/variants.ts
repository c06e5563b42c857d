/**
 * The decision on a model index (an OCI image index of ModelPack variants, `src/modelpack/variants.ts`).
 *
 * Owns: `planIndex` (which variants a reference to an index lists and which of them a pod could select)
 * and `decideVariants` (the decision once the index itself is decided). Rules:
 *  - the index is decided on its own evidence (its signatures, revocation; the policy input carries
 *    `artifact.variants`), and every variant a pod could select is decided on its own evidence (the
 *    policy input carries `artifact.variant`): all of them, or only the one the location names with
 *    `#variant=NAME`;
 *  - allow only when the index and every selectable variant are allowed; otherwise the index's own
 *    failure, else the first failing variant in index order, its reasons prefixed with the variant's
 *    name and digest;
 *  - a model index whose children name no variant, or name one twice, is `invalid` (BAD_INDEX), as is a
 *    `#variant=` naming none of them (VARIANT_NOT_FOUND) or given for anything but a model index
 *    (BAD_VARIANT). Any other index (a multi-platform image) is decided as one artifact, as before.
 * The decision reports each decided variant (`variants`) so the init container pulls the one verified.
 */
import type { Digest } from '../oci/digest.ts';
import type { Manifest } from '../oci/manifest.ts';
import { formatReference, parseReference } from '../oci/reference.ts';
import type { InputVariant } from '../policy/input.ts';
import { describeVariants, isModelIndex, variantsOfIndex, VariantError, type Variant } from '../modelpack/variants.ts';
import type { Failure } from '../evidence/verified.ts';
import type { ArtifactDecision, VariantOutcome } from './decision.ts';

export type { VariantOutcome } from './decision.ts';

export type IndexPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly failure: Failure }
  | {
      readonly kind: 'index';
      /** The location without its selector. */
      readonly target: string;
      readonly digest: Digest;
      /** Every variant the index lists, as the policy sees them. */
      readonly variants: readonly InputVariant[];
      /** The variants a pod could select: all, or the one the location names. */
      readonly selectable: readonly InputVariant[];
    };

function inputVariant(v: Variant, index: Digest): InputVariant {
  return { name: v.name, digest: v.digest, index, platform: v.platform === null ? null : { ...v.platform }, accelerator: v.accelerator };
}

/** What a manifest fetched for `target` (selector `selector`) means for the decision. */
export function planIndex(manifest: Manifest, target: string, digest: Digest, selector: string | undefined): IndexPlan {
  if (manifest.kind !== 'index' || !isModelIndex(manifest)) {
    return selector === undefined ? { kind: 'none' } : { kind: 'invalid', failure: { code: 'BAD_VARIANT', message: `${target} is not a model index: #variant=${selector} names nothing` } };
  }
  let listed: Variant[];
  try {
    listed = variantsOfIndex(manifest, target);
  } catch (err) {
    if (!(err instanceof VariantError)) throw err;
    return { kind: 'invalid', failure: { code: err.code, message: err.message } };
  }
  const selectable = selector === undefined ? listed : listed.filter((v) => v.name === selector);
  if (selectable.length === 0) return { kind: 'invalid', failure: { code: 'VARIANT_NOT_FOUND', message: `${target} has no variant "${selector}"; it has ${describeVariants(listed)}` } };
  return { kind: 'index', target, digest, variants: listed.map((v) => inputVariant(v, digest)), selectable: selectable.map((v) => inputVariant(v, digest)) };
}

/** The location of a child manifest: the index's repository, pinned to the child digest (no tag). */
export function variantLocation(target: string, digest: Digest): string {
  const ref = parseReference(target);
  const pinned = formatReference({ ...ref, tag: undefined, digest });
  return ref.kind === 'registry' ? `oci://${pinned}` : pinned;
}

function attributed(result: ArtifactDecision, own: ArtifactDecision, v: InputVariant, variants: readonly VariantOutcome[]): ArtifactDecision {
  const prefix = `variant "${v.name}" (${v.digest}): `;
  const common = { location: own.location, digest: own.digest, variants };
  const fail = (f: Failure): Failure => ({ code: f.code, message: `${prefix}${f.message}` });
  switch (result.outcome) {
    case 'deny': {
      const [first, ...rest] = result.decision.reasons;
      const reasons: typeof result.decision.reasons = [{ ...first, message: `${prefix}${first.message}` }, ...rest.map((r) => ({ ...r, message: `${prefix}${r.message}` }))];
      return { ...result, ...common, decision: { ...result.decision, reasons } };
    }
    case 'unavailable':
    case 'invalid':
      return { ...result, ...common, failure: fail(result.failure) };
    case 'allow':
      return { ...result, ...common };
  }
}

/** The decision on an index once it is decided itself (`own`): every selectable variant must be allowed too. */
export async function decideVariants(own: ArtifactDecision, plan: Extract<IndexPlan, { kind: 'index' }>, decideVariant: (location: string, variant: InputVariant) => Promise<ArtifactDecision>): Promise<ArtifactDecision> {
  if (own.outcome !== 'allow') return own;
  const children = await Promise.all(plan.selectable.map((v) => decideVariant(variantLocation(plan.target, v.digest), v)));
  const outcomes = plan.selectable.map((v, i): VariantOutcome => ({ name: v.name, digest: v.digest, outcome: children[i]!.outcome }));
  const failed = children.findIndex((c) => c.outcome !== 'allow');
  if (failed >= 0) return attributed(children[failed]!, own, plan.selectable[failed]!, outcomes);
  // Allowed: the index's decision, with every variant's warnings (named) added to it.
  const warnings = [...own.decision.warnings, ...children.flatMap((c, i) => (c.outcome === 'allow' ? c.decision.warnings.map((w) => ({ ...w, message: `variant "${plan.selectable[i]!.name}": ${w.message}` })) : []))];
  return { ...own, decision: { ...own.decision, warnings }, variants: outcomes };
}
