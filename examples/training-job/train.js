// The example training job: a logistic-regression sentiment classifier over hashed bags of words,
// trained on the JSON-lines reviews in --data with the hyperparameters in --params, deterministic for
// a given --seed. Writes --out/model.json (weights), config.json, metrics.json and README.md.
// Plain Node.js, no dependencies: `node train.js --data data --out model --seed 42 --params hparams.json`.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string', default: '42' }, params: { type: 'string', default: 'hparams.json' } } });
if (!values.data || !values.out) {
  process.stderr.write('usage: node train.js --data DIR --out DIR [--seed N] [--params FILE]\n');
  process.exit(2);
}
const params = JSON.parse(readFileSync(values.params, 'utf8'));
const seed = Number(values.seed);
const features = params.features;

// A seeded generator (mulberry32): the same seed gives the same weights, byte for byte.
let state = seed >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let x = Math.imul(state ^ (state >>> 15), 1 | state);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
};
const bucket = (word) => createHash('sha256').update(word).digest().readUInt32BE(0) % features;

const examples = readdirSync(values.data)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .flatMap((f) => readFileSync(join(values.data, f), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)))
  .map(({ text, label }) => ({ x: text.toLowerCase().split(/\s+/).map(bucket), y: label }));

const weights = Array.from({ length: features }, () => (random() - 0.5) * 0.01);
let bias = 0;
const predict = (x) => 1 / (1 + Math.exp(-(bias + x.reduce((sum, i) => sum + weights[i], 0))));
for (let epoch = 0; epoch < params.epochs; epoch++) {
  const order = examples.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const i of order) {
    const { x, y } = examples[i];
    const gradient = predict(x) - y;
    for (const f of x) weights[f] -= params.learningRate * gradient;
    bias -= params.learningRate * gradient;
  }
}
let correct = 0;
let loss = 0;
for (const { x, y } of examples) {
  const p = predict(x);
  correct += (p >= 0.5 ? 1 : 0) === y ? 1 : 0;
  loss -= y * Math.log(Math.max(p, 1e-12)) + (1 - y) * Math.log(Math.max(1 - p, 1e-12));
}
const round = (v) => Math.round(v * 1e6) / 1e6;
const metrics = { trainAccuracy: round(correct / examples.length), trainLoss: round(loss / examples.length), examples: examples.length, epochs: params.epochs, seed };

mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, 'model.json'), `${JSON.stringify({ bias: round(bias), weights: weights.map(round) })}\n`);
writeFileSync(join(values.out, 'config.json'), `${JSON.stringify({ architecture: 'logistic-regression', features, hashing: 'sha256 mod features' }, null, 2)}\n`);
writeFileSync(join(values.out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
writeFileSync(join(values.out, 'README.md'), '# reviews sentiment classifier\n\nThe modelgate training-job example (examples/training-job).\n');
process.stdout.write(`trained on ${examples.length} reviews: accuracy ${metrics.trainAccuracy}, loss ${metrics.trainLoss}\n`);
