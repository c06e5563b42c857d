/**
 * Test and bench helper: how many registry round trips a piece of work waited for one after the other.
 *
 * Owns: `criticalPath` / `sequentialDepth` — the longest chain of requests in which each one was sent
 * in reaction to the previous one's answer (the last answer that ended before it was sent) — and `countingDispatcher`, an undici dispatcher that
 * records, for every request sent through it, when it was sent and when its answer ended, on a logical
 * clock (one tick per event) of this process. A request that needs an answer (a digest read from a
 * manifest, a tag named after a digest) can only be sent after that answer's end event; requests sent
 * together are all sent before any answer event is handled (answers are I/O callbacks, sending is
 * synchronous code and promise jobs), so the depth counted from the dispatcher's records is causal,
 * whatever the machine's load. Records of the fault proxy (`fault-proxy.ts`: arrival and end times as
 * the proxy sees them) work too, as an upper bound: a request sent together with others but on a
 * connection still being opened can arrive after a sibling's answer.
 */
import { Agent, type Dispatcher } from 'undici';

/** One request: when it was sent (`at`) and when its answer ended (`finishedAt`), on one clock. */
export interface TimedRequest {
  readonly method: string;
  readonly path: string;
  readonly at: number;
  readonly finishedAt: number | undefined;
}

/** The requests of the longest chain, first to last (`METHOD path`): what serialised. */
export function criticalPath(requests: readonly TimedRequest[]): string[] {
  const sorted = [...requests].sort((a, b) => a.at - b.at);
  if (sorted.length === 0) return [];
  const depth: number[] = [];
  const previous: (number | undefined)[] = [];
  for (const [i, r] of sorted.entries()) {
    // The answer R waited for is the last one that ended before R was sent: work done in reaction to an
    // answer sends its next request before the event loop handles another answer. (Any earlier answer
    // would also count siblings: `.att`'s blob, sent after its manifest, is not waiting on `.sig`'s blob
    // that happened to be answered first.)
    let from: number | undefined;
    for (let j = 0; j < i; j++) {
      const q = sorted[j]!;
      if (q.finishedAt !== undefined && q.finishedAt <= r.at && (from === undefined || q.finishedAt > sorted[from]!.finishedAt!)) from = j;
    }
    const d = from === undefined ? 1 : depth[from]! + 1;
    depth.push(d);
    previous.push(from);
  }
  let at: number | undefined = depth.indexOf(Math.max(...depth));
  const chain: string[] = [];
  while (at !== undefined) {
    chain.unshift(`${sorted[at]!.method} ${sorted[at]!.path}`);
    at = previous[at];
  }
  return chain;
}

/** Longest chain of requests in which each one was sent only after the previous one had been answered. */
export function sequentialDepth(requests: readonly TimedRequest[]): number {
  return criticalPath(requests).length;
}

export interface CountingDispatcher {
  readonly dispatcher: Dispatcher;
  readonly requests: readonly TimedRequest[];
  clear(): void;
}

/** A keep-alive dispatcher that records every request sent through it (see the header). */
export function countingDispatcher(): CountingDispatcher {
  const requests: { method: string; path: string; at: number; finishedAt: number | undefined }[] = [];
  let clock = 0;
  const ENDS = new Set(['onResponseEnd', 'onResponseError', 'onComplete', 'onError']);
  const dispatcher = new Agent().compose((dispatch) => (options, handler) => {
    const record = { method: options.method, path: options.path, at: ++clock, finishedAt: undefined as number | undefined };
    requests.push(record);
    const observed = new Proxy(handler, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof property !== 'string' || !ENDS.has(property) || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          record.finishedAt ??= ++clock;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return dispatch(options, observed);
  });
  return { dispatcher, requests, clear: () => (requests.length = 0) };
}
