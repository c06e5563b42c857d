/**
 * Test helper: the shell blocks of README.md, docs/ and the chart README, with the marker of their
 * fence (README "Set-up"): `runnable`, `synopsis` or `covered-by=TEST`.
 *
 * Owns: finding the blocks. test/readme-commands.test.ts checks every block's marker and the synopsis
 * blocks; test/demo/demo.test.ts runs the runnable ones right after its `npm run demo` (one demo run
 * for both).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './run-cli.ts';

export interface Block {
  readonly file: string;
  readonly line: number;
  readonly marker: string;
  readonly text: string;
}

const DOCUMENTS = [
  'README.md',
  'charts/modelgate/README.md',
  ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];

function shellBlocks(file: string): Block[] {
  const lines = readFileSync(join(REPO, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(?:sh|bash|shell|console)(?:\s+(.*))?$/.exec(lines[i]!);
    if (open === null) continue;
    const end = lines.indexOf('```', i + 1);
    blocks.push({ file, line: i + 1, marker: (open[1] ?? '').trim(), text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Every shell block of the documents, in order. */
export const docBlocks = (): Block[] => DOCUMENTS.flatMap(shellBlocks);

export const where = (b: Block): string => `${b.file}:${b.line}`;
