/**
 * What one entry of the exact tier's LRU (and of the request memo) really holds, against what
 * their byte accounting counts. Run by bench scenario 5 as `node --expose-gc entry-bytes.js DB N`;
 * prints one JSON line. The heap is measured after full collections, before and after N distinct
 * calls, with budgets large enough that nothing is evicted.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { answerJson } from '../src/core/answer-json.js';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { stringBytes } from '../src/tiers/answer-lru.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { startFakeAnthropic } from '../test/support/fake-anthropic.js';
import { bodyOf, distinctCalls, loadSamples } from './lib/data.js';
import { nearestIsError, nearestOutput } from './lib/nearest-answer.js';
import { SAMPLES } from './lib/paths.js';

const [db, count] = process.argv.slice(2);
if (!db || !count) throw new Error('usage: entry-bytes.js DB N');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = (): number => {
  gc();
  gc();
  // Memo hits keep their text in ArrayBuffers, outside the V8 heap.
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
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

/**
 * Memo hits: distinct near calls of the tau-bench sample (a string argument changed), each
 * improvised once by the stand-in and kept in the answer LRU beside the exact tier's entry for its
 * key (never recorded). Held is what clearing the LRU frees; the calls' keys stay held by the
 * neighbour cache, so they are not in it (the accounting counts them).
 */
async function memoHitBytes(n: number): Promise<{ held: number; accounted: number; textPerEntry: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-entry-bytes-'));
  const stand = await startFakeAnthropic({ kind: 'answer', output: nearestOutput, isError: nearestIsError });
  const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-entry-bytes', baseUrl: stand.url, llmRetries: 0 });
  const sample = Store.open(join(dir, 'cache.db'));
  try {
    await ingest({ store: sample, inputs: [SAMPLES[0]!] });
    const bases = [...sample.recordedCalls()]
      .map((call) => ({ call, args: JSON.parse(call.arguments) as Record<string, unknown> }))
      .filter(({ args }) => Object.values(args).some((v) => typeof v === 'string'));
    const improvising = new Simulator({
      store: sample,
      metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }),
      fuzzy: fuzzy.tier,
      lruSize: n * 4,
      lruBytes: 2 ** 40,
    });
    let text = 0;
    for (let i = 0; i < n; i++) {
      const { call, args } = bases[i % bases.length]!;
      const name = Object.keys(args).find((k) => typeof args[k] === 'string')!;
      const answer = await improvising.resolve({
        server: call.server,
        tool: call.tool,
        arguments: { ...args, [name]: `${String(args[name])}-n${i}` },
      });
      if (answer.tier !== 'fuzzy') throw new Error(`not improvised: ${answer.tier} ${answer.reason ?? ''}`);
      text += Buffer.byteLength(answerJson(answer)) - 'false'.length + 'true'.length; // the hit says memoized: true, in UTF-8
      stand.requests.splice(0);
    }
    const accounted = improvising.answers.bytes;
    const full = heap();
    improvising.answers.lru.clear();
    const held = full - heap();
    return { held: held / n, accounted: accounted / n, textPerEntry: text / n };
  } finally {
    sample.close();
    await fuzzy.close();
    await stand.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
const memoHit = await memoHitBytes(Math.min(n, 5000));

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
    // A memo hit and the exact tier's entry for its key (never recorded), together.
    heapPerMemoHit: memoHit.held,
    accountedPerMemoHit: memoHit.accounted,
    memoHitTextPerEntry: memoHit.textPerEntry,
  }),
);
// Still in use here, so that the collections above cannot free the requests and count that as a saving.
if (texts.length + requests.length !== 2 * n) throw new Error('unreachable');
store.close();
