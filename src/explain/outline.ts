/**
 * What the human-readable forms of `modelgate explain` say, in which order, and how each fact is marked
 * (verified / unsigned / failed): one outline of sections, fields, tables and code blocks, which the
 * terminal tree (`tree.ts`) and the HTML page (`html.ts`) only lay out.
 *
 * Owns: `outlineOf(report)`. Cells hold plain text (attacker-controlled included); renderers escape.
 */
import type { BuildView, DatasetView, DependencyView, EvaluationView, GenericView } from './predicates.ts';
import type { SbomView } from './sbom-view.ts';
import type { DatasetEvidenceView, ExplainReport, SignedBy, VerifiedAttestationView } from './report.ts';

export type Tone = 'ok' | 'bad' | 'warn' | 'muted' | 'plain';

export interface Cell {
  readonly text: string;
  readonly tone?: Tone;
  /** Digests, URIs, identifiers: monospace in HTML. */
  readonly mono?: boolean;
}

export type Block =
  | { readonly kind: 'fields'; readonly rows: readonly { readonly label: string; readonly value: Cell }[] }
  | { readonly kind: 'table'; readonly title: string; readonly columns: readonly string[]; readonly rows: readonly (readonly Cell[])[] }
  | { readonly kind: 'code'; readonly title: string; readonly text: string };

export interface Section {
  readonly title: string;
  readonly badge: { readonly text: string; readonly tone: Tone };
  /** One line under the title (e.g. who signed it). */
  readonly note?: string;
  readonly blocks: readonly Block[];
}

export interface Outline {
  readonly reference: string;
  readonly digest: string | null;
  readonly verdict: { readonly text: string; readonly tone: Tone };
  readonly generatedAt: string;
  /** The few facts a reader wants first (builder, commit, datasets, signers, files). */
  readonly highlights: readonly { readonly label: string; readonly value: Cell }[];
  readonly sections: readonly Section[];
}

/** Longest parameter value shown inline (JSON of objects); the JSON report has it whole. */
const MAX_INLINE_CHARS = 400;

function inline(value: unknown): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return s.length > MAX_INLINE_CHARS ? `${s.slice(0, MAX_INLINE_CHARS)}… (${s.length} chars)` : s;
}

const mono = (text: string, tone?: Tone): Cell => ({ text, mono: true, ...(tone ? { tone } : {}) });
const plain = (text: string, tone?: Tone): Cell => ({ text, ...(tone ? { tone } : {}) });

function fields(rows: ReadonlyArray<readonly [string, Cell | string | null | undefined]>): Block {
  return {
    kind: 'fields',
    rows: rows.flatMap(([label, value]) => (value === null || value === undefined || value === '' ? [] : [{ label, value: typeof value === 'string' ? plain(value) : value }])),
  };
}

function recordFields(record: Readonly<Record<string, unknown>>): Block {
  return fields(Object.entries(record).map(([k, v]) => [k, mono(inline(v))] as const));
}

function verdictText(report: ExplainReport): { text: string; tone: Tone } {
  const { verdict } = report;
  switch (verdict.outcome) {
    case 'allow':
      return { text: 'ALLOW', tone: 'ok' };
    case 'deny':
      return { text: 'DENY', tone: 'bad' };
    case 'unavailable':
      return { text: verdict.transient ? 'UNAVAILABLE (retry)' : 'UNAVAILABLE', tone: 'warn' };
    case 'invalid':
      return { text: 'INVALID', tone: 'bad' };
  }
}

function verdictSection(report: ExplainReport): Section {
  const { verdict } = report;
  const blocks: Block[] = [];
  if (verdict.reasons.length > 0) blocks.push({ kind: 'table', title: 'Denied because', columns: ['code', 'reason'], rows: verdict.reasons.map((r) => [mono(r.code, 'bad'), plain(r.message)]) });
  if (verdict.warnings.length > 0) blocks.push({ kind: 'table', title: 'Warnings', columns: ['code', 'warning'], rows: verdict.warnings.map((w) => [mono(w.code, 'warn'), plain(w.message)]) });
  if (verdict.variants.length > 0) {
    const tone = (outcome: string): Tone => (outcome === 'allow' ? 'ok' : outcome === 'unavailable' ? 'warn' : 'bad');
    blocks.push({
      kind: 'table',
      title: 'Variants decided (a model index: each variant a pod could select)',
      columns: ['variant', 'outcome', 'digest'],
      rows: verdict.variants.map((v) => [mono(v.name), mono(v.outcome.toUpperCase(), tone(v.outcome)), mono(v.digest)]),
    });
  }
  if (verdict.exceptions.length > 0) {
    blocks.push({
      kind: 'table',
      title: 'Exceptions applied',
      columns: ['id', 'approved by', 'reason', 'expires', 'waives'],
      rows: verdict.exceptions.map((x) => [mono(x.id, 'warn'), plain(x.approvedBy), plain(x.reason), mono(x.expires), mono(x.waived.join(', '))]),
    });
  }
  blocks.push(
    fields([
      ['error', verdict.failure ? mono(`${verdict.failure.code}: ${verdict.failure.message}`, 'bad') : null],
      ['policy', verdict.policy ? mono(verdict.policy.name) : null],
      ['policy bundle', verdict.policy ? mono(verdict.policy.bundleDigest) : null],
      ['policy data', verdict.policy ? mono(verdict.policy.dataDigest) : null],
      ['checked signers', report.checkedSigners.length > 0 ? mono(report.checkedSigners.join('; ')) : plain('none given: no evidence can verify', 'warn')],
    ]),
  );
  const { text, tone } = verdictText(report);
  return { title: 'Policy verdict', badge: { text, tone }, blocks };
}

function modelSection(report: ExplainReport): Section | null {
  const a = report.artifact;
  if (a === null) return null;
  const blocks: Block[] = [
    fields([
      ['model', a.model?.name ? plain([a.model.name, a.model.version].filter(Boolean).join(' ')) : null],
      ['format', a.model?.format],
      ['created', a.model?.createdAt ? mono(a.model.createdAt) : null],
      ['artifact type', a.artifactType ? mono(a.artifactType) : null],
      ['manifest', mono(`${a.mediaType}, ${humanSize(a.size)}`)],
      ['config', a.config ? mono(`${a.config.digest} (${a.config.mediaType})`) : null],
    ]),
  ];
  if (a.files.length > 0) {
    blocks.push({ kind: 'table', title: 'Files (layers)', columns: ['path', 'size', 'digest', 'media type'], rows: a.files.map((f) => [mono(f.path ?? '(no path)'), plain(humanSize(f.size)), mono(f.digest), mono(f.mediaType, 'muted')]) });
  }
  if (a.lineage.length > 0) {
    blocks.push({ kind: 'table', title: a.signed ? 'Lineage annotations (signed)' : 'Lineage annotations (NOT signed: no verified signature)', columns: ['what', 'value'], rows: a.lineage.map((l) => [plain(l.label), mono(inline(l.value), a.signed ? undefined : 'warn')]) });
  }
  return {
    title: 'Model',
    badge: a.signed ? { text: 'signed', tone: 'ok' } : { text: 'not signed', tone: 'bad' },
    note: a.signed ? 'Manifest read by digest; a verified signature covers it, its files and annotations.' : 'Manifest read by digest, but no verified signature covers it: the facts below are unauthenticated.',
    blocks,
  };
}

function logCell(s: SignedBy): Cell {
  if (s.tlog !== null) return mono(`Rekor #${s.tlog.logIndex} at ${s.tlog.integratedTime}`);
  if (s.timestamps.length > 0) return mono(`timestamped ${s.timestamps.join(', ')}`);
  return plain('no log entry (key only)', 'muted');
}

function signerRows(s: SignedBy): Array<readonly [string, Cell | null]> {
  return [
    ['signed by', mono(s.signer.description, 'ok')],
    ['method', plain(s.signer.method)],
    ['key id', s.signer.keyId ? mono(s.signer.keyId) : null],
    ['identity', s.signer.san ? mono(s.signer.san) : null],
    ['issuer', s.signer.issuer ? mono(s.signer.issuer) : null],
    ...Object.entries(s.signer.oidc).map(([k, v]) => [k, mono(v)] as const),
    ['transparency log', logCell(s)],
  ];
}

function signaturesSection(report: ExplainReport): Section {
  const rows = report.signatures.map((s) => [mono(s.signer.description, 'ok'), plain(s.signer.method), mono(s.signer.issuer ?? '-'), logCell(s)]);
  return {
    title: 'Signatures',
    badge: report.signatures.length > 0 ? { text: `${report.signatures.length} verified`, tone: 'ok' } : { text: 'none verified', tone: 'bad' },
    blocks: rows.length > 0 ? [{ kind: 'table', title: 'Verified signatures over the digest', columns: ['signer', 'method', 'issuer', 'log / time'], rows }] : [],
  };
}

function dependencyTable(title: string, deps: readonly DependencyView[]): Block[] {
  if (deps.length === 0) return [];
  return [
    {
      kind: 'table',
      title,
      columns: ['uri / name', 'digest', 'notes'],
      rows: deps.map((d) => {
        const notes = Object.entries(d.annotations)
          .filter(([k]) => k !== 'modelgate.dev/kind' && k !== 'modelgate.dev/role')
          .map(([k, v]) => `${k.replace(/^modelgate\.dev\//, '')}: ${inline(v)}`);
        return [mono(d.uri ?? d.name ?? '-'), mono(d.digests.join(' ') || '-'), plain(notes.join('; '), 'muted')];
      }),
    },
  ];
}

function buildSection(a: VerifiedAttestationView, view: BuildView): Section {
  const { source } = view;
  return {
    title: `Build — SLSA provenance ${view.slsaVersion}`,
    badge: { text: 'verified', tone: 'ok' },
    note: `Signed by ${a.signer.description}`,
    blocks: [
      fields([
        ['builder', mono(view.builderId)],
        ['build type', mono(view.buildType)],
        ['invocation', view.invocationId ? mono(view.invocationId) : null],
        ['started', view.startedOn ? mono(view.startedOn) : null],
        ['finished', view.finishedOn ? mono(view.finishedOn) : null],
        ['source', source ? mono(source.repository) : null],
        ['ref', source?.ref ? mono(source.ref) : null],
        ['commit', source?.commit ? mono(source.commit) : plain('not recorded', 'warn')],
      ]),
      ...dependencyTable('Datasets', view.datasets),
      ...dependencyTable('Containers', view.containers),
      ...dependencyTable('Lockfiles', view.lockfiles),
      ...dependencyTable('Source and other dependencies', view.otherDependencies),
      ...(Object.keys(view.externalParameters).length > 0 ? [{ kind: 'table' as const, title: 'Parameters (chosen by the caller)', columns: ['name', 'value'], rows: Object.entries(view.externalParameters).map(([k, v]) => [plain(k), mono(inline(v))]) }] : []),
      ...(Object.keys(view.internalParameters).length > 0 ? [{ kind: 'table' as const, title: 'Environment (recorded by the builder)', columns: ['name', 'value'], rows: Object.entries(view.internalParameters).map(([k, v]) => [plain(k), mono(inline(v))]) }] : []),
      fields(signerRows(a)),
    ],
  };
}

function evaluationSection(a: VerifiedAttestationView, view: EvaluationView): Section {
  const tone: Tone = view.result === 'PASSED' ? 'ok' : view.result === 'FAILED' ? 'bad' : view.result === 'WARNED' ? 'warn' : 'plain';
  const tests = (label: string, names: readonly string[], t: Tone): Array<readonly [string, Cell | null]> => [[label, names.length > 0 ? mono(names.join(', '), t) : null]];
  return {
    title: `Evaluation — ${a.predicateType}`,
    badge: { text: view.result ? `verified · ${view.result}` : 'verified', tone: view.result === 'FAILED' ? 'bad' : 'ok' },
    note: `Signed by ${a.signer.description}`,
    blocks: [
      fields([['result', view.result ? plain(view.result, tone) : null], ...tests('passed', view.passedTests, 'ok'), ...tests('warned', view.warnedTests, 'warn'), ...tests('failed', view.failedTests, 'bad'), ['url', view.url ? mono(view.url) : null]]),
      ...(Object.keys(view.metrics).length > 0 ? [{ kind: 'table' as const, title: 'Metrics', columns: ['metric', 'value'], rows: Object.entries(view.metrics).map(([k, v]) => [plain(k), mono(String(v))]) }] : []),
      ...(view.comparisons.length > 0
        ? [
            {
              kind: 'table' as const,
              title: 'Compared with the reference evaluation',
              columns: ['metric', 'value', 'reference', 'difference', 'allowed', 'result'],
              rows: view.comparisons.map((c) => {
                // Six significant digits: 0.0010000000000000009 (float noise) reads 0.001; -o json keeps the signed numbers.
                const n = (x: number | null): Cell => mono(x === null ? '-' : String(Number(x.toPrecision(6))));
                const resultTone: Tone = c.result === 'PASSED' ? 'ok' : c.result === 'FAILED' ? 'bad' : 'warn';
                return [plain(c.metric), n(c.value), n(c.reference), n(c.difference), mono(c.allowed === null ? '-' : `${Number(c.allowed.toPrecision(6))}${c.tolerance ? ` (${c.tolerance})` : ''}`), plain(c.result ?? '-', resultTone)];
              }),
            },
          ]
        : []),
      ...dependencyTable('Configuration', view.configuration),
      ...(Object.keys(view.other).length > 0 ? [recordFields(view.other)] : []),
      fields(signerRows(a)),
    ],
  };
}

function datasetBlocks(a: VerifiedAttestationView, view: DatasetView): Block[] {
  return [
    fields([
      ['manifest', view.manifestDigest ? mono(view.manifestDigest) : null],
      ['merkle root', view.merkleRoot ? mono(view.merkleRoot) : null],
      ['files', view.fileCount !== null ? plain(`${view.fileCount}${view.totalSize !== null ? ` (${humanSize(view.totalSize)})` : ''}`) : null],
      ['recorded uri', view.uri ? mono(view.uri) : null],
      ['licence', view.license ? mono(view.license) : plain('not stated', 'muted')],
    ]),
    ...(view.sources.length > 0 ? [{ kind: 'table' as const, title: 'Sources', columns: ['uri', 'digest'], rows: view.sources.map((src) => [mono(src.uri), mono(src.digests.join(' ') || '-')]) }] : []),
    ...(view.curation.length > 0
      ? [{ kind: 'table' as const, title: 'Curation steps', columns: ['step', 'description', 'tool', 'parameters'], rows: view.curation.map((c) => [mono(c.kind), plain(c.description ?? ''), mono(c.tool ?? ''), mono(Object.keys(c.parameters).length > 0 ? inline(c.parameters) : '')]) }]
      : []),
    fields(signerRows(a)),
  ];
}

function datasetSection(dataset: DatasetEvidenceView): Section {
  const badge: Section['badge'] =
    dataset.status === 'verified' ? { text: 'attested', tone: 'ok' } : dataset.status === 'none' ? { text: 'no verified dataset attestation', tone: 'warn' } : { text: 'unavailable', tone: 'warn' };
  const notes = [
    `${dataset.uri}@${dataset.digest}, named by the verified provenance.`,
    dataset.unverified > 0 ? `${dataset.unverified} dataset attestation(s) found that did not verify.` : '',
    dataset.failure ? `Could not be read: ${dataset.failure.code}: ${dataset.failure.message}` : '',
  ];
  return { title: 'Dataset', badge, note: notes.filter(Boolean).join(' '), blocks: dataset.attestations.flatMap((a) => (a.view.kind === 'dataset' ? datasetBlocks(a, a.view) : [])) };
}

function genericSection(a: VerifiedAttestationView, view: GenericView): Section {
  return {
    title: `Attestation — ${a.predicateType}`,
    badge: { text: 'verified', tone: 'ok' },
    note: `Signed by ${a.signer.description}${view.note ? ` · ${view.note}` : ''}`,
    blocks: [{ kind: 'code', title: view.truncated ? 'Predicate (cut)' : 'Predicate', text: view.json }, fields(signerRows(a))],
  };
}

function sbomSection(a: VerifiedAttestationView, view: SbomView): Section {
  return {
    title: `SBOM — ${view.format}${view.specVersion ? ` ${view.specVersion}` : ''}`,
    badge: { text: 'verified', tone: 'ok' },
    note: `${view.packageCount} packages · signed by ${a.signer.description}`,
    blocks: [
      ...(view.notable.length > 0 ? [{ kind: 'table' as const, title: 'Notable versions', columns: ['type', 'name', 'version'], rows: view.notable.map((c) => [plain(c.type), mono(c.name), mono(c.version ?? '-')]) }] : []),
      ...(view.licenses.length > 0 ? [{ kind: 'table' as const, title: 'Licences', columns: ['licence', 'packages'], rows: view.licenses.map((l) => [mono(l.license, l.license === 'not stated' ? 'warn' : undefined), plain(String(l.packages))]) }] : []),
      fields(signerRows(a)),
    ],
  };
}

function attestationSection(a: VerifiedAttestationView): Section {
  switch (a.view.kind) {
    case 'build':
      return buildSection(a, a.view);
    case 'evaluation':
      return evaluationSection(a, a.view);
    case 'dataset':
      return { title: `Dataset attestation — ${a.predicateType}`, badge: { text: 'verified', tone: 'ok' }, note: `Signed by ${a.signer.description}`, blocks: datasetBlocks(a, a.view) };
    case 'sbom':
      return sbomSection(a, a.view);
    case 'generic':
      return genericSection(a, a.view);
  }
}

function evidenceNote(report: ExplainReport, failed: number): string | undefined {
  if (report.verdict.outcome === 'unavailable') return 'Evidence discovery did not complete: nothing here can be relied on.';
  if (report.evidence.length === 0) return report.digest === null ? 'Not an OCI location: there is no evidence to discover.' : 'No signatures or attestations were found next to the artifact.';
  return failed > 0 ? 'Unverified items did not verify against any checked signer: their claims (shown muted) are not evidence.' : undefined;
}

function evidenceSection(report: ExplainReport): Section {
  const failed = report.evidence.filter((e) => e.status === 'failed').length;
  const rows = report.evidence.map((e) => [
    e.status === 'verified' ? plain('verified', 'ok') : plain('UNVERIFIED', 'bad'),
    plain(`${e.kind} (${e.source})`),
    mono(e.predicateType ?? '-', e.status === 'verified' ? undefined : 'muted'),
    e.status === 'verified' ? mono(e.signer ?? '-') : plain(`${e.error?.code ?? 'FAILED'}: ${e.error?.message ?? ''}`, 'bad'),
  ]);
  const problems = report.problems.map((p) => [mono(p.code, 'bad'), plain(p.source), plain(p.message)]);
  return {
    title: 'Evidence found',
    badge:
      report.evidence.length === 0 ? { text: 'none', tone: 'bad' } : failed > 0 ? { text: `${report.evidence.length - failed} verified · ${failed} unverified`, tone: 'warn' } : { text: `${report.evidence.length} verified`, tone: 'ok' },
    ...(evidenceNote(report, failed) ? { note: evidenceNote(report, failed)! } : {}),
    blocks: [
      ...(rows.length > 0 ? [{ kind: 'table' as const, title: 'Signatures and attestations next to the artifact', columns: ['status', 'kind', 'predicate type (claimed if unverified)', 'signer / error'], rows }] : []),
      ...(problems.length > 0 ? [{ kind: 'table' as const, title: 'Discovery problems', columns: ['code', 'where', 'message'], rows: problems }] : []),
    ],
  };
}

function checklistSection(report: ExplainReport): Section | null {
  if (report.checklist.length === 0) return null;
  const found = report.checklist.filter((c) => c.found).length;
  return {
    title: 'Evidence checklist',
    badge: { text: `${found} of ${report.checklist.length} kinds found`, tone: found === report.checklist.length ? 'ok' : 'warn' },
    note: 'Each kind of evidence the policy can use, found (verified) or not found.',
    blocks: [{ kind: 'table', title: 'Evidence', columns: ['evidence', 'status', 'detail'], rows: report.checklist.map((c) => [plain(c.evidence), c.found ? plain('found', 'ok') : plain('NOT FOUND', 'warn'), plain(c.detail, c.found ? undefined : 'muted')]) }],
  };
}

function policyDataSection(report: ExplainReport): Section | null {
  const data = report.policyData;
  if (data === null) return null;
  const signerRows = data.signers.map((s) => [
    mono(s.signer),
    plain(s.name ?? '-'),
    mono(s.listedAt ?? 'not listed', s.listedAt === null ? 'bad' : undefined),
    s.revoked ? plain('REVOKED', 'bad') : s.listedAt !== null ? plain('trusted', 'ok') : plain('NOT TRUSTED', 'bad'),
  ]);
  const allowRows = data.allowlists.map((e) => [
    mono(e.allowlist),
    mono(e.value),
    e.matched === null ? plain('NOT LISTED', 'bad') : mono(`${e.matched === e.value ? 'listed' : `prefix ${e.matched}`}: ${inline(e.entry)}`, 'ok'),
  ]);
  return {
    title: 'Policy data applied',
    badge: { text: report.verdict.policy?.dataDigest.slice(0, 19) ?? 'data', tone: 'plain' },
    note: 'The entries of the policy data the verified evidence was looked up in (the verdict above is the policy\'s).',
    blocks: [
      fields([['trusted signers required', plain(String(data.threshold))]]),
      ...(signerRows.length > 0 ? [{ kind: 'table' as const, title: 'Signers', columns: ['signer', 'name', 'listed at', 'status'], rows: signerRows }] : []),
      ...(allowRows.length > 0 ? [{ kind: 'table' as const, title: 'Allowlists', columns: ['allowlist', 'verified value', 'entry'], rows: allowRows }] : []),
    ],
  };
}

/** The report with each signer shown as `name — key sha256:…` where the policy data names it. */
function withSignerNames(report: ExplainReport): ExplainReport {
  const names = new Map((report.policyData?.signers ?? []).flatMap((s) => (s.name === null ? [] : [[s.signer, `${s.name} — ${s.signer}`] as const])));
  if (names.size === 0) return report;
  const rename = <T extends SignedBy>(s: T): T => ({ ...s, signer: { ...s.signer, description: names.get(s.signer.description) ?? s.signer.description } });
  return {
    ...report,
    signatures: report.signatures.map(rename),
    attestations: report.attestations.map(rename),
    datasets: report.datasets.map((d) => ({ ...d, attestations: d.attestations.map(rename) })),
    evidence: report.evidence.map((e) => ({ ...e, signer: e.signer === null ? null : (names.get(e.signer) ?? e.signer) })),
  };
}

function highlights(report: ExplainReport): Outline['highlights'] {
  const builds = report.attestations.flatMap((a) => (a.view.kind === 'build' ? [a.view] : []));
  const evaluations = report.attestations.flatMap((a) => (a.view.kind === 'evaluation' ? [a.view] : []));
  const signers = [...new Set([...report.signatures, ...report.attestations].map((s) => s.signer.description))];
  const files = report.artifact?.files ?? [];
  const rows: Array<readonly [string, Cell | null]> = [
    ['built by', builds.length > 0 ? mono(builds.map((b) => b.builderId).join(', ')) : plain('no verified provenance', 'bad')],
    ['source commit', builds.some((b) => b.source?.commit) ? mono(builds.flatMap((b) => (b.source?.commit ? [b.source.commit] : [])).join(', ')) : null],
    ['datasets', builds.length > 0 ? mono(builds.flatMap((b) => b.datasets.map((d) => d.uri ?? d.name ?? '?')).join(', ') || 'none recorded') : null],
    ['evaluation', evaluations.length > 0 ? plain(evaluations.map((e) => e.result ?? `${Object.keys(e.metrics).length} metrics`).join(', '), evaluations.some((e) => e.result === 'FAILED') ? 'bad' : 'ok') : null],
    ['signed by', signers.length > 0 ? mono(signers.join(', '), 'ok') : plain('nobody verified', 'bad')],
    ['files', report.artifact ? plain(`${files.length} (${humanSize(files.reduce((n, f) => n + f.size, 0))})`) : null],
  ];
  return rows.flatMap(([label, value]) => (value === null ? [] : [{ label, value }]));
}

/** The outline of a report, in reading order. */
export function outlineOf(given: ExplainReport): Outline {
  const report = withSignerNames(given);
  const model = modelSection(report);
  const checklist = checklistSection(report);
  const policyData = policyDataSection(report);
  return {
    reference: report.reference,
    digest: report.digest,
    verdict: verdictText(report),
    generatedAt: report.generatedAt,
    highlights: highlights(report),
    sections: [verdictSection(report), ...(checklist ? [checklist] : []), ...(policyData ? [policyData] : []), ...(model ? [model] : []), signaturesSection(report), ...report.attestations.map(attestationSection), ...report.datasets.map(datasetSection), evidenceSection(report)],
  };
}

/** `1536` → `1.5 KiB` (binary units; bytes below 1 KiB exactly). */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
