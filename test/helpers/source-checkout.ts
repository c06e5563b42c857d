/**
 * Test helper: the inputs of a training run on disk — a source checkout with just enough git metadata
 * for `attest run` to read (HEAD, the branch ref, the origin remote) plus a lockfile, and a small dataset
 * of JSON-lines shards. Shared by the round-trip and explain fixtures.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `DIR/src`: a checkout of `remote` at `commit` on branch main, with a requirements.txt. */
export function writeSourceCheckout(dir: string, commit: string, remote: string): string {
  const source = join(dir, 'src');
  mkdirSync(join(source, '.git/refs/heads'), { recursive: true });
  writeFileSync(join(source, '.git/HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(source, '.git/refs/heads/main'), `${commit}\n`);
  writeFileSync(join(source, '.git/config'), `[remote "origin"]\n\turl = ${remote}\n`);
  writeFileSync(join(source, 'requirements.txt'), 'numpy==2.1.0\n');
  return source;
}

/** `DIR/data`: `shards` files `shard-<i>.jsonl` of one labelled review each. */
export function writeDatasetShards(dir: string, shards: number): string {
  const data = join(dir, 'data');
  mkdirSync(data);
  for (let i = 0; i < shards; i += 1) writeFileSync(join(data, `shard-${i}.jsonl`), `{"review":"text ${i}","label":${i % 2}}\n`);
  return data;
}
