/**
 * The demo's training script: `node train.ts --data DIR --out DIR --seed N [--epochs N]`.
 *
 * `npm run demo` runs it under `modelgate attest run`, which signs SLSA provenance about what it
 * writes. It trains a tiny sentiment classifier (hashed bag of words → 32 tanh units → sigmoid) with
 * plain SGD on every `*.jsonl` file of the dataset, in file order, from seeded initial weights, so the
 * same data and seed always give byte-identical weights. Writes `model.safetensors`, `config.json`,
 * `metrics.json` (training loss and accuracy) and `README.md` into the output directory. Silent on
 * success; a bad argument or unreadable data exits 2 with a message on stderr.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FEATURES, HIDDEN, featuresOf, safetensors, seededRandom } from './model.ts';

interface Example {
  readonly features: readonly number[];
  readonly label: number;
}

async function readExamples(dir: string): Promise<Example[]> {
  const examples: Example[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (line.trim() === '') continue;
      const row = JSON.parse(line) as { text?: unknown; label?: unknown };
      if (typeof row.text !== 'string' || (row.label !== 0 && row.label !== 1)) throw new Error(`${name}: each line needs "text" (string) and "label" (0 or 1)`);
      examples.push({ features: featuresOf(row.text), label: row.label });
    }
  }
  if (examples.length === 0) throw new Error(`${dir} holds no *.jsonl examples`);
  return examples;
}

class Classifier {
  readonly w1 = new Float32Array(FEATURES * HIDDEN); // row-major [feature][hidden]
  readonly b1 = new Float32Array(HIDDEN);
  readonly w2 = new Float32Array(HIDDEN);
  readonly b2 = new Float32Array(1);
  readonly #hidden = new Float64Array(HIDDEN);

  constructor(seed: number) {
    const random = seededRandom(seed);
    for (let i = 0; i < this.w1.length; i++) this.w1[i] = (random() - 0.5) * 0.2;
    for (let j = 0; j < HIDDEN; j++) this.w2[j] = (random() - 0.5) * 0.2;
  }

  /** Probability of the positive class; keeps the hidden activations for `step`. */
  forward(features: readonly number[]): number {
    for (let j = 0; j < HIDDEN; j++) {
      let sum = this.b1[j]!;
      for (const f of features) sum += this.w1[f * HIDDEN + j]!;
      this.#hidden[j] = Math.tanh(sum);
    }
    let out = this.b2[0]!;
    for (let j = 0; j < HIDDEN; j++) out += this.w2[j]! * this.#hidden[j]!;
    return 1 / (1 + Math.exp(-out));
  }

  /** One SGD step on binary cross-entropy; returns the example's loss. */
  step(example: Example, rate: number): number {
    const p = this.forward(example.features);
    const delta = p - example.label;
    for (let j = 0; j < HIDDEN; j++) {
      const h = this.#hidden[j]!;
      const back = delta * this.w2[j]! * (1 - h * h);
      this.w2[j] = this.w2[j]! - rate * delta * h;
      this.b1[j] = this.b1[j]! - rate * back;
      for (const f of example.features) this.w1[f * HIDDEN + j] = this.w1[f * HIDDEN + j]! - rate * back;
    }
    this.b2[0] = this.b2[0]! - rate * delta;
    return -Math.log(Math.max(1e-12, example.label === 1 ? p : 1 - p));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, epochs: { type: 'string', default: '8' } }, strict: true });
  const seed = Number(values.seed);
  const epochs = Number(values.epochs);
  if (values.data === undefined || values.out === undefined || !Number.isSafeInteger(seed) || !Number.isSafeInteger(epochs) || epochs < 1) {
    throw new Error('usage: train --data DIR --out DIR --seed INTEGER [--epochs N]');
  }
  const examples = await readExamples(values.data);
  const model = new Classifier(seed);
  let loss = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    loss = 0;
    for (const example of examples) loss += model.step(example, 0.05);
  }
  const correct = examples.filter((e) => (model.forward(e.features) >= 0.5 ? 1 : 0) === e.label).length;
  const metrics = { examples: examples.length, epochs, seed, trainLoss: Number((loss / examples.length).toFixed(6)), trainAccuracy: Number((correct / examples.length).toFixed(6)) };
  await mkdir(values.out, { recursive: true });
  const tensors = [
    { name: 'hidden.weight', shape: [FEATURES, HIDDEN], data: model.w1 },
    { name: 'hidden.bias', shape: [HIDDEN], data: model.b1 },
    { name: 'output.weight', shape: [HIDDEN], data: model.w2 },
    { name: 'output.bias', shape: [1], data: model.b2 },
  ];
  await writeFile(join(values.out, 'model.safetensors'), safetensors(tensors, { format: 'pt' }));
  const config = { model_type: 'modelgate-demo-sentiment', features: FEATURES, hidden: HIDDEN, activation: 'tanh', tokenizer: 'lower-cased words, FNV-1a 32-bit hash modulo features', labels: ['negative', 'positive'] };
  await writeFile(join(values.out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFile(join(values.out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  await writeFile(join(values.out, 'README.md'), '# modelgate demo sentiment model\n\nTrained by `npm run demo` on generated product reviews. A toy: not for real use.\n');
}

try {
  await main();
} catch (err) {
  process.stderr.write(`train: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
