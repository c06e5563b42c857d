// The one logger of the long-running modes: JSON lines with time (from the injected clock), level,
// service and event; human-readable lines on a terminal; credentials never written — neither by the
// webhook's logger nor by init's log (`initLogger`), whatever field they arrive in.
import t, { type Test } from 'tap';
import { initLogger } from '../../src/cli/init.ts';
import { createLogger, humanLine } from '../../src/logging/logger.ts';
import { ManualClock } from '../../src/time/clock.ts';

const PASSWORD = 'hunter2-registry-password';
const BEARER = 'Bearer eyJhbGciOiJSUzI1NiJ9.secret-token';
const PRIVATE_KEY = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----';
const clock = new ManualClock(Date.UTC(2026, 11, 6, 10, 0, 0));

/** An event carrying credentials where a careless caller might put them. */
const leaky = {
  event: 'decision',
  headers: { authorization: BEARER },
  authorization: BEARER,
  registry: { host: 'registry.example', password: PASSWORD, token: BEARER, auth: Buffer.from(`u:${PASSWORD}`).toString('base64') },
  password: PASSWORD,
  privateKey: PRIVATE_KEY,
  passphrase: PASSWORD,
};

function assertClean(t: Test, output: string): void {
  t.ok(output.length > 0, 'something was logged');
  for (const secret of [PASSWORD, 'secret-token', 'MC4CAQAwBQYDK2VwBCIEIA', Buffer.from(`u:${PASSWORD}`).toString('base64')]) t.notOk(output.includes(secret), `${secret.slice(0, 12)}… never written`);
}

t.test('the webhook logger: one JSON line per event, secrets redacted', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ service: 'modelgate-webhook', clock, write: (line) => lines.push(line) });
  logger.warn(leaky, 'admission review');
  t.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.match(line, { time: '2026-12-06T10:00:00.000Z', level: 'warn', service: 'modelgate-webhook', event: 'decision', msg: 'admission review', registry: { host: 'registry.example', password: '[redacted]' } });
  assertClean(t, lines.join(''));
});

t.test("init's log: the same shape, secrets redacted", async (t) => {
  const lines: string[] = [];
  const log = initLogger({ terminal: false, clock, stdout: (text) => lines.push(text), stderr: () => t.fail('nothing on stderr') });
  log(leaky);
  log({ event: 'published', uri: 'oci://r/m@sha256:aa', dest: '/mnt/models' });
  t.match(JSON.parse(lines[1]!), { time: '2026-12-06T10:00:00.000Z', level: 'info', service: 'modelgate-init', event: 'published' });
  assertClean(t, lines.join(''));
});

t.test('on a terminal: one human-readable line per event, secrets still redacted', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ service: 'modelgate-webhook', clock, pretty: true, write: (line) => lines.push(line) });
  logger.info({ event: 'ready', mode: 'enforce' }, 'ready');
  logger.warn(leaky, 'admission review');
  t.equal(lines[0], '2026-12-06T10:00:00.000Z info  ready ready mode=enforce\n');
  t.match(lines[1], /^2026-12-06T10:00:00\.000Z warn  decision admission review headers=\{"authorization":"\[redacted\]"\}/);
  assertClean(t, lines.join(''));
  t.equal(humanLine('{"time":"x","level":"info","service":"s","n":1}'), 'x info  n=1\n', 'no event or msg: only what is there');
});

t.test('redactSecrets: secret fields wherever they stand (four levels deep), the same object when there are none', async (t) => {
  const { redactSecrets } = await import('../../src/logging/logger.ts');
  const clean = { event: 'decision', outcome: 'allow', location: { registry: 'r', digest: 'sha256:x' } };
  t.equal(redactSecrets(clean), clean, 'no copy for a line without secrets');
  const nested = { event: 'warning', err: { request: { headers: { authorization: 'Bearer s3cr3t' } } }, password: 'p', auth: { token: 't' } };
  const out = redactSecrets(nested);
  t.notMatch(JSON.stringify(out), /s3cr3t|"p"|"t"/, 'no secret value left');
  t.same(out, { event: 'warning', err: { request: { headers: { authorization: '[redacted]' } } }, password: '[redacted]', auth: '[redacted]' });
  t.equal(nested.err.request.headers.authorization, 'Bearer s3cr3t', 'the caller\'s object is not changed');
});

t.test('TurnBatchedLines: the lines of one turn reach the destination as one write at its end, in order; pending lines are flushed on demand', async (t) => {
  const { TurnBatchedLines } = await import('../../src/logging/logger.ts');
  const writes: string[] = [];
  let flushed = 0;
  const lines = new TurnBatchedLines().into({ write: (text) => writes.push(text), flushSync: () => flushed++ });
  const logger = createLogger({ service: 'modelgate-webhook', clock, write: (line) => lines.write(line) });
  logger.info({ event: 'decision', uid: 'a' }, 'admission review');
  logger.info({ event: 'decision', uid: 'b', password: PASSWORD }, 'admission review');
  t.same(writes, [], 'nothing handed over within the turn');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(writes.length, 1, 'one write for the turn');
  t.same(writes[0]!.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { uid: string }).uid), ['a', 'b'], 'both lines, in order');
  assertClean(t, writes.join(''));
  lines.write('{"uid":"c"}\n');
  lines.flushSync();
  t.same(writes.slice(1), ['{"uid":"c"}\n'], 'flushSync hands the pending line over at once');
  t.equal(flushed, 1, 'and flushes the destination');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(writes.length, 2, 'the turn-end hand-over finds nothing left');
});
