/**
 * The HTML form of `modelgate explain`: one self-contained page (inline CSS, no scripts, no external
 * resources) laying out the outline (`outline.ts`): a header with the verdict badge, digest and key
 * facts, then one card per section with field grids, tables and code blocks.
 *
 * Owns: `renderHtml` and `escapeHtml`. Every text from the report is attacker-controllable (a
 * signed predicate can say anything): each one goes through `escapeHtml`, and the page's
 * Content-Security-Policy forbids scripts and any fetch as a second line of defence.
 */
import type { Block, Cell, Outline, Section } from './outline.ts';

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` safe inside element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const CSS = `
:root{--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;--muted:#656d76;--line:#d0d7de;--card:#fff;--page:#f6f8fa;--ink:#1f2328}
*{box-sizing:border-box}
body{margin:0;background:var(--page);color:var(--ink);font:14px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px}
.mono,code,pre{font-family:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
header.top{background:#0d1117;color:#e6edf3;border-radius:12px;padding:22px 26px;margin-bottom:20px}
header.top h1{margin:0 0 6px;font-size:20px;font-weight:600;letter-spacing:.2px}
header.top .ref{color:#9198a1;word-break:break-all}
header.top .digest{color:#e6edf3;word-break:break-all;margin-top:2px}
.verdict{display:inline-block;font-size:18px;font-weight:700;padding:6px 16px;border-radius:999px;margin:12px 0 4px;letter-spacing:.5px}
.verdict.ok{background:var(--ok);color:#fff}.verdict.bad{background:var(--bad);color:#fff}.verdict.warn{background:#d4a72c;color:#1f2328}.verdict.plain,.verdict.muted{background:#57606a;color:#fff}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:10px;margin-top:14px}
.fact{background:#161b22;border:1px solid #30363d;border-radius:8px;padding:8px 12px;overflow-wrap:anywhere}
.fact .k{color:#9198a1;font-size:11px;text-transform:uppercase;letter-spacing:.6px}
.fact .ok{color:#3fb950}.fact .bad{color:#f85149}.fact .warn{color:#d29922}.fact .muted{color:#9198a1}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:0 0 16px;padding:16px 20px}
section.card h2{font-size:16px;margin:0;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.badge{font-size:12px;font-weight:600;padding:2px 10px;border-radius:999px;border:1px solid transparent}
.badge.ok{background:var(--ok-bg);color:var(--ok);border-color:#aceebb}.badge.bad{background:var(--bad-bg);color:var(--bad);border-color:#ffcecb}.badge.warn{background:var(--warn-bg);color:var(--warn);border-color:#eac54f}.badge.plain,.badge.muted{background:#eaeef2;color:var(--muted)}
p.note{color:var(--muted);margin:6px 0 0}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:14px 0 0}
dl.fields dt{color:var(--muted)}dl.fields dd{margin:0;overflow-wrap:anywhere}
h3{font-size:13px;margin:16px 0 6px;color:#424a53}
table{width:100%;border-collapse:collapse;table-layout:auto}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid #eaeef2;padding:6px 8px;vertical-align:top;overflow-wrap:anywhere}
.short{white-space:nowrap}.long{word-break:break-all}
tr:nth-child(even) td{background:#f9fafb}
.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.muted{color:var(--muted)}
td.bad,dd.bad{font-weight:600}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-all;margin:0}
footer{color:var(--muted);font-size:12px;text-align:center;margin:24px 0 8px}
`;

/** Short cells never wrap; long identifiers (digests, URIs) may break anywhere; prose wraps at spaces. */
function cellClass(cell: Cell): string {
  const fit = cell.text.length <= 24 ? 'short' : cell.mono ? 'long' : '';
  const classes = [cell.mono ? 'mono' : '', cell.tone && cell.tone !== 'plain' ? cell.tone : '', fit].filter(Boolean);
  return classes.length > 0 ? ` class="${classes.join(' ')}"` : '';
}

function blockHtml(block: Block): string {
  switch (block.kind) {
    case 'fields':
      if (block.rows.length === 0) return '';
      return `<dl class="fields">${block.rows.map((r) => `<dt>${escapeHtml(r.label)}</dt><dd${cellClass(r.value)}>${escapeHtml(r.value.text)}</dd>`).join('')}</dl>`;
    case 'table':
      return (
        `<h3>${escapeHtml(block.title)}</h3><table><thead><tr>${block.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>` +
        block.rows.map((row) => `<tr>${row.map((c) => `<td${cellClass(c)}>${escapeHtml(c.text)}</td>`).join('')}</tr>`).join('') +
        '</tbody></table>'
      );
    case 'code':
      return `<h3>${escapeHtml(block.title)}</h3><pre>${escapeHtml(block.text)}</pre>`;
  }
}

function sectionHtml(section: Section): string {
  return (
    `<section class="card"><h2>${escapeHtml(section.title)} <span class="badge ${section.badge.tone}">${escapeHtml(section.badge.text)}</span></h2>` +
    (section.note ? `<p class="note">${escapeHtml(section.note)}</p>` : '') +
    section.blocks.map(blockHtml).join('') +
    '</section>'
  );
}

/** The complete page. */
export function renderHtml(outline: Outline): string {
  const title = `modelgate explain: ${outline.verdict.text} ${outline.digest ?? outline.reference}`;
  const facts = outline.highlights
    .map((h) => `<div class="fact"><div class="k">${escapeHtml(h.label)}</div><div${cellClass(h.value)}>${escapeHtml(h.value.text)}</div></div>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header class="top">
<h1>Model provenance report</h1>
<div class="ref mono">${escapeHtml(outline.reference)}</div>
<div class="digest mono" id="digest">${escapeHtml(outline.digest ?? 'no digest resolved')}</div>
<div class="verdict ${outline.verdict.tone}" id="verdict">${escapeHtml(outline.verdict.text)}</div>
<div class="facts">${facts}</div>
</header>
${outline.sections.map(sectionHtml).join('\n')}
<footer>Generated by modelgate explain at ${escapeHtml(outline.generatedAt)}. Only evidence marked verified was checked against the signers given; everything else is a claim.</footer>
</main>
</body>
</html>
`;
}
