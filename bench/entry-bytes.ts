/**
 * What one entry of the exact tier's LRU (and of the request memo) really holds, against what
 * their byte accounting counts. Run by bench scenario 5 as `node --expose-gc entry-bytes.js DB N`;
 * prints one JSON line. The heap is measured after full collections, before and after N distinct
 * calls, with budgets large enough that nothing is evicted.
 */
import { createHash } from 'node:crypto';
import { createMetrics } from '../src/core/metrics.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { stringBytes } from '../src/tiers/answer-lru.js';
import { bodyOf, distinctCalls, loadSamples } from './lib/data.js';

const [db, count] = process.argv.slice(2);
if (!db || !count) throw new Error('usage: entry-bytes.js DB N');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const { calls } = distinctCalls(loadSamples(), Number(count));
const requests = calls.map(bodyOf);
const texts = requests.map((r) => JSON.stringify(r));
const store = Store.open(db, { readonly: true });
const simulator = new Simulator({
  store,
  metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }),
  lruSize: requests.length * 2,
  lruBytes: 2 ** 40,
});
// One call first, so that statements, the tallies and the tools' counters exist before measuring.
await simulator.resolve(requests[0]!);
const before = heap();
let answerText = 0;
for (const request of requests) {
  const answer = await simulator.resolve(request);
  if (answer.tier !== 'exact') throw new Error(`not exact: ${JSON.stringify(request)}`);
  answerText += stringBytes(answer.json ?? '');
}
const afterAnswers = heap();
const cached = simulator.exact.cached;
let requestText = 0;
for (let i = 0; i < requests.length; i++) {
  // A fresh copy of the text, as each request brings its own: the memo keeps it.
  const text = Buffer.from(texts[i]!).toString();
  await simulator.resolve(requests[i]!, text);
  requestText += stringBytes(text);
}
const afterMemo = heap();
const n = requests.length;
for (let i = 0; i < n; i++) {
  // Keys never recorded: the cache keeps them too (a fresh 64-hex-digit string each).
  if (simulator.exact.lookup(createHash('sha256').update(`missing ${i}`).digest('hex')) !== undefined) throw new Error('recorded?');
}
const afterMisses = heap();
console.log(
  JSON.stringify({
    entries: n,
    cachedEntries: cached.entries,
    memoEntries: simulator.remembered.entries,
    answerTextPerEntry: answerText / n,
    heapPerAnswerEntry: (afterAnswers - before) / n,
    accountedPerAnswerEntry: cached.bytes / cached.entries,
    requestTextPerEntry: requestText / n,
    heapPerMemoEntry: (afterMemo - afterAnswers) / n,
    accountedPerMemoEntry: simulator.remembered.bytes / simulator.remembered.entries,
    heapPerMissEntry: (afterMisses - afterMemo) / n,
    accountedPerMissEntry: (simulator.exact.cached.bytes - cached.bytes) / n,
  }),
);
// Still in use here, so that the collections above cannot free the requests and count that as a saving.
if (texts.length + requests.length !== 2 * n) throw new Error('unreachable');
store.close();
