/**
 * `modelgate init` progress on a terminal: the bar only on stderr (never a progress JSON line on
 * stdout, never a JSON line glued to the bar), and no ETA until bytes are seen moving. Off a terminal,
 * progress stays a JSON line (the container log). The clock is injected.
 */
import t from 'tap';
import { initLogger } from '../../src/cli/init.ts';
import { ManualClock } from '../../src/time/clock.ts';

const GiB = 2 ** 30;

function capture(terminal: boolean) {
  const writes: Array<{ stream: 'stdout' | 'stderr'; text: string }> = [];
  const clock = new ManualClock(Date.UTC(2026, 11, 6, 10, 0, 0));
  const log = initLogger({ terminal, clock, stdout: (text) => writes.push({ stream: 'stdout', text }), stderr: (text) => writes.push({ stream: 'stderr', text }) });
  return { writes, clock, log };
}

t.test('on a terminal: a bar on stderr only, ended before the next JSON line; first ETA unknown', async (t) => {
  const { writes, clock, log } = capture(true);
  // What the meter reports first: a few bytes after the verification, at an absurd rate.
  log({ event: 'progress', bytes: 27, total: GiB, bytesPerSecond: 27, etaSeconds: 39728447 });
  clock.advance(1000);
  log({ event: 'progress', bytes: 27 + 100e6, total: GiB, bytesPerSecond: 50e6, etaSeconds: 19 });
  clock.advance(1000);
  log({ event: 'progress', bytes: GiB, total: GiB, bytesPerSecond: 500e6, etaSeconds: 0 });
  log({ event: 'published', uri: 'oci://r/m@sha256:aa', dest: '/mnt/models' });
  t.same(writes.map((w) => w.stream), ['stderr', 'stderr', 'stderr', 'stderr', 'stdout']);
  t.equal(writes[0]!.text, '\r[------------------------------]   0%  0.00/1.00 GiB  0 MB/s  ETA ?\u001b[K', 'no ETA before a rate is known');
  t.equal(writes[1]!.text, '\r[###---------------------------]   9%  0.09/1.00 GiB  100 MB/s  ETA 10 s\u001b[K', 'rate measured from the first event');
  t.match(writes[2]!.text, /100%  1\.00\/1\.00 GiB .* ETA 0 s/);
  t.equal(writes[3]!.text, '\n', 'the bar line is ended before anything else is written');
  t.same(JSON.parse(writes[4]!.text), { time: '2026-12-06T10:00:02.000Z', level: 'info', service: 'modelgate-init', event: 'published', uri: 'oci://r/m@sha256:aa', dest: '/mnt/models' });
});

t.test('off a terminal: progress stays a JSON line on stdout, nothing on stderr', async (t) => {
  const { writes, log } = capture(false);
  log({ event: 'progress', bytes: 10, total: 20, bytesPerSecond: 5, etaSeconds: 2 });
  log({ event: 'published', uri: 'u', dest: 'd' });
  t.same(writes.map((w) => w.stream), ['stdout', 'stdout']);
  t.match(JSON.parse(writes[0]!.text), { event: 'progress', bytes: 10, total: 20, bytesPerSecond: 5, etaSeconds: 2 });
});
