/**
 * What one memo hit in the answer LRU really holds (its text outside the V8 heap included), against
 * what the LRU counts for it. Run by bench scenario 5 as `node --expose-gc memo-hit-bytes.js N`,
 * in a process of its own (loading the fuzzy tier and the LLM client beside bench/entry-bytes.ts
 * moved its figures: V8 flushing their unused bytecode during its measurements); prints one JSON line.
 *
 * N distinct near calls of the tau-bench sample (a string argument changed), each improvised once by
 * the stand-in and kept in the answer LRU beside the exact tier's entry for its key (never
 * recorded). Held is what clearing the LRU frees, V8 heap and ArrayBuffers, after full collections;
 * the calls' keys stay held by the neighbour cache, so they are not in it (the accounting counts them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { answerJson } from '../src/core/answer-json.js';
import { createMetrics } from '../src/core/metrics.js';
import { ingest } from '../src/ingest/ingest.js';
import { Simulator } from '../src/simulator/simulator.js';
import { Store } from '../src/store/store.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { startFakeAnthropic } from '../test/support/fake-anthropic.js';
import { nearestIsError, nearestOutput } from './lib/nearest-answer.js';
import { SAMPLES } from './lib/paths.js';
import { nearCall, nearCallBases } from './long-run.js';

const n = Number(process.argv[2]);
if (!(n > 0)) throw new Error('usage: memo-hit-bytes.js N');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
/** What the process holds after full collections: the V8 heap and the ArrayBuffers outside it. */
const held = (): number => {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};

const dir = mkdtempSync(join(tmpdir(), 'toolsim-memo-hit-bytes-'));
const stand = await startFakeAnthropic({ kind: 'answer', output: nearestOutput, isError: nearestIsError });
const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-memo-hit-bytes', baseUrl: stand.url, llmRetries: 0 });
const store = Store.open(join(dir, 'cache.db'));
try {
  await ingest({ store, inputs: [SAMPLES[0]!] });
  const bases = nearCallBases(store.recordedCalls());
  const simulator = new Simulator({
    store,
    metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }),
    fuzzy: fuzzy.tier,
    lruSize: n * 4,
    lruBytes: 2 ** 40,
  });
  let text = 0;
  for (let i = 0; i < n; i++) {
    const answer = await simulator.resolve(nearCall(bases[i % bases.length]!, i));
    if (answer.tier !== 'fuzzy') throw new Error(`not improvised: ${answer.tier} ${answer.reason ?? ''}`);
    // The hit says `"memoized":true` where the first answer said false; its text is kept in UTF-8.
    text += Buffer.byteLength(answerJson(answer)) - 'false'.length + 'true'.length;
    stand.requests.splice(0);
  }
  const accounted = simulator.answers.bytes;
  const full = held();
  simulator.answers.lru.clear();
  const freed = full - held();
  console.log(JSON.stringify({ entries: n, heapPerMemoHit: freed / n, accountedPerMemoHit: accounted / n, memoHitTextPerEntry: text / n }));
} finally {
  store.close();
  await fuzzy.close();
  await stand.close();
  rmSync(dir, { recursive: true, force: true });
}
