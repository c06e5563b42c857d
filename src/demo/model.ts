/**
 * The demo's data and model format: a seeded generator of a small labelled dataset (product reviews,
 * JSON lines), the feature hashing both the generator's reader and the training script use, and a
 * safetensors writer. Everything is a pure function of the seed, so every run on every machine
 * produces byte-identical files — and therefore identical digests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Hashed bag-of-words buckets (the model's input width). */
export const FEATURES = 4096;
/** Hidden units of the demo's one-hidden-layer classifier. */
export const HIDDEN = 32;

/** mulberry32: a small seeded PRNG returning floats in [0, 1); good enough for data and initial weights. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lower-cased words of `text`, each hashed (FNV-1a, 32 bit) into one of FEATURES buckets; distinct buckets, sorted. */
export function featuresOf(text: string): number[] {
  const buckets = new Set<number>();
  for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ word.charCodeAt(i), 0x01000193) >>> 0;
    buckets.add(hash % FEATURES);
  }
  return [...buckets].sort((a, b) => a - b);
}

const POSITIVE = ['great', 'excellent', 'love', 'wonderful', 'fast', 'reliable', 'happy', 'perfect', 'recommend', 'sturdy'];
const NEGATIVE = ['terrible', 'awful', 'hate', 'slow', 'broken', 'refund', 'disappointed', 'worst', 'flimsy', 'noisy'];
const NEUTRAL = ['the', 'product', 'delivery', 'battery', 'screen', 'price', 'support', 'it', 'was', 'and', 'very', 'really', 'with', 'my', 'order', 'box'];

export interface DatasetSummary {
  readonly files: readonly string[];
  readonly rows: number;
}

/** Write `shards` JSON-lines files of `rowsPerShard` labelled reviews (`{"text","label"}`, label 1 = positive) into `dir`. */
export async function writeDemoDataset(dir: string, options: { seed: number; shards?: number; rowsPerShard?: number }): Promise<DatasetSummary> {
  const random = seededRandom(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const shards = options.shards ?? 4;
  const rowsPerShard = options.rowsPerShard ?? 120;
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const lines: string[] = [];
    for (let row = 0; row < rowsPerShard; row++) {
      const label = random() < 0.5 ? 0 : 1;
      const words: string[] = [];
      for (let i = 2 + Math.floor(random() * 6); i > 0; i--) words.push(pick(NEUTRAL));
      for (let i = 1 + Math.floor(random() * 2); i > 0; i--) words.push(pick(label === 1 ? POSITIVE : NEGATIVE));
      if (random() < 0.15) words.push(pick(label === 1 ? NEGATIVE : POSITIVE)); // some noise
      for (let i = words.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [words[i], words[j]] = [words[j]!, words[i]!];
      }
      lines.push(JSON.stringify({ text: words.join(' '), label }));
    }
    const name = `reviews-${String(shard).padStart(2, '0')}.jsonl`;
    await writeFile(join(dir, name), `${lines.join('\n')}\n`);
    files.push(name);
  }
  return { files, rows: shards * rowsPerShard };
}

/**
 * A safetensors file: u64 LE header length, JSON header (space-padded to 8 bytes), then the F32
 * tensors in order (little-endian, as Float32Array is on every platform Node supports).
 */
export function safetensors(tensors: ReadonlyArray<{ name: string; shape: readonly number[]; data: Float32Array }>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    const bytes = tensor.data.byteLength;
    header[tensor.name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, Buffer.from(json), ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

/** Where the tensor data of a safetensors file starts (after the length and the JSON header). */
export function safetensorsDataOffset(file: Buffer): number {
  return 8 + Number(file.readBigUInt64LE(0));
}
