/**
 * The terminal form of `modelgate explain`: the outline (`outline.ts`) as a Unicode box-drawing tree.
 *
 * Owns: `renderTree` and `useColour`. Colour (ANSI SGR) only when asked — the CLI asks on a TTY unless
 * NO_COLOR is set. Every text from the report passes through `printable`: control characters (ANSI
 * escapes, carriage returns, newlines inside a value) are shown as `\xNN` escapes, so signed but hostile
 * strings cannot rewrite the terminal.
 */
import type { Block, Cell, Outline, Section, Tone } from './outline.ts';

const SGR: Readonly<Record<Tone | 'bold', string>> = { ok: '32', bad: '31', warn: '33', muted: '2', plain: '', bold: '1' };
const ICON: Readonly<Record<Tone, string>> = { ok: '✔', bad: '✘', warn: '!', muted: '·', plain: '·' };
/** Code blocks longer than this are cut in the terminal (the JSON and HTML forms keep them). */
const MAX_CODE_LINES = 30;

/** Colour on a TTY unless NO_COLOR is set (https://no-color.org: any non-empty value). */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** `text` with C0/C1 control characters and DEL escaped. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

interface Node {
  readonly label: string;
  readonly children: readonly Node[];
}

export function renderTree(outline: Outline, options: { colour: boolean }): string {
  const paint = (text: string, tone: Tone | 'bold'): string => (options.colour && SGR[tone] !== '' ? `\u001b[${SGR[tone]}m${text}\u001b[0m` : text);
  const cell = (c: Cell): string => paint(printable(c.text), c.tone ?? 'plain');

  function blockNodes(block: Block): Node[] {
    switch (block.kind) {
      case 'fields': {
        const width = Math.max(0, ...block.rows.map((r) => r.label.length));
        return block.rows.map((r) => ({ label: `${paint(r.label.padEnd(width), 'muted')}  ${cell(r.value)}`, children: [] }));
      }
      case 'table': {
        // Columns padded to their widest cell (the last one is not), measured before colouring.
        const widths = block.columns.map((_, i) => Math.max(0, ...block.rows.map((row) => printable(row[i]?.text ?? '').length)));
        const line = (row: readonly Cell[]): string =>
          row
            .map((c, i) => (i === row.length - 1 ? cell(c) : `${cell(c)}${' '.repeat(widths[i]! - printable(c.text).length)}`))
            .join('  ')
            .trimEnd();
        return [{ label: paint(block.title, 'bold'), children: block.rows.map((row) => ({ label: line(row), children: [] })) }];
      }
      case 'code': {
        const lines = block.text.split('\n');
        const shown = lines.slice(0, MAX_CODE_LINES).map((line) => ({ label: printable(line), children: [] }));
        if (lines.length > MAX_CODE_LINES) shown.push({ label: paint(`… ${lines.length - MAX_CODE_LINES} more lines (see -o json or --html)`, 'muted'), children: [] });
        return [{ label: paint(block.title, 'bold'), children: shown }];
      }
    }
  }

  function sectionNode(section: Section): Node {
    const badge = paint(`${ICON[section.badge.tone]} ${section.badge.text}`, section.badge.tone);
    const children = [...(section.note ? [{ label: paint(printable(section.note), 'muted'), children: [] }] : []), ...section.blocks.flatMap(blockNodes)];
    return { label: `${paint(printable(section.title), 'bold')}  ${badge}`, children };
  }

  const lines: string[] = [
    `${paint('modelgate explain', 'bold')} ${printable(outline.reference)}`,
    `digest   ${printable(outline.digest ?? '-')}`,
    `verdict  ${paint(`${ICON[outline.verdict.tone]} ${outline.verdict.text}`, outline.verdict.tone)}`,
  ];
  const walk = (nodes: readonly Node[], prefix: string): void => {
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${node.label}`);
      walk(node.children, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(outline.sections.map(sectionNode), '');
  return `${lines.join('\n')}\n`;
}
