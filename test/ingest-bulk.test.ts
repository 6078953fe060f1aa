/**
 * Ingest writes in batches inside one transaction and keeps the call count beside the per-tool
 * counts; neither may change what a cache holds, its identity hashes, or what a reader sees after.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callKey, canonicalJson } from '../src/core/canonical.js';
import { ingest } from '../src/ingest/ingest.js';
import { Store } from '../src/store/store.js';
import { cacheOf, onCleanup, tempDir, writeLog } from './helpers.js';

const records = Array.from({ length: 20 }, (_, i) => ({
  server: 's',
  tool: i % 3 === 0 ? 'a' : 'b',
  arguments: { n: i % 7 },
  output: { v: i },
  trajectory_id: `t${i}`,
}));

function openStore(path: string, options: { readonly?: boolean } = {}): Store {
  const store = Store.open(path, options);
  onCleanup(() => store.close());
  return store;
}

describe('ingest in bulk transactions', () => {
  it('gives the same cache whatever the batch and commit sizes', async () => {
    const dir = tempDir();
    const log = writeLog(dir, 'log.jsonl', records);
    const small = openStore(join(dir, 'small.db'));
    const large = openStore(join(dir, 'large.db'));
    const a = await ingest({ store: small, inputs: [log], batchSize: 3 });
    const b = await ingest({ store: large, inputs: [log] });
    expect(a.callsAdded).toBe(20);
    expect(a.snapshotId).toBe(b.snapshotId);
    expect(small.stats()).toEqual(large.stats());
    // Everything committed: another connection reads the same recordings, in the same order.
    const reader = openStore(join(dir, 'small.db'), { readonly: true });
    expect([...reader.recordedCalls()]).toEqual([...large.recordedCalls()]);
    expect(reader.catalog()).toEqual(large.catalog());
    expect(reader.snapshotId).toBe(b.snapshotId);
  });

  it('leaves every call committed for another connection, even when a later input is missing', async () => {
    const dir = tempDir();
    const log = writeLog(dir, 'log.jsonl', records);
    const store = openStore(join(dir, 'cache.db'));
    const summary = await ingest({ store, inputs: [log, join(dir, 'missing.jsonl')], batchSize: 4 });
    expect(summary.failedInputs).toBe(1);
    const reader = openStore(join(dir, 'cache.db'), { readonly: true });
    expect([...reader.recordedCalls()]).toHaveLength(20);
  });

  it('keeps the recording identities of before: the snapshot id of a log is unchanged', async () => {
    const record = { server: 's', tool: 't', arguments: { q: 'x' }, output: 'out', trajectory_id: 'tr', source: 'src' };
    const cache = await cacheOf([record]);
    // The identity formula, written out with one update per part as the store first computed it.
    const key = callKey('s', 't', canonicalJson({ q: 'x' }));
    const recordHash = createHash('sha256');
    for (const part of [key, '"out"', '0', 'tr', null, null, 'src', null])
      recordHash.update(part === null ? '-;' : `${part.length};${part}`);
    const identity = createHash('sha256').update(recordHash.digest()).update('0').digest();
    const snapshot = createHash('sha256').update('toolsim-snapshot-v1\0[]\0').update(identity).digest('hex').slice(0, 32);
    expect(cache.summary.snapshotId).toBe(snapshot);
  });
});

describe('call counts', () => {
  it('counts calls without scanning them, and agrees with the table', async () => {
    const cache = await cacheOf(records);
    expect(cache.store.callCount()).toBe(20);
    expect([...cache.store.recordedCalls()]).toHaveLength(20);
    expect(cache.summary.totalCalls).toBe(20);
    const again = await ingest({ store: cache.store, inputs: [writeLog(tempDir(), 'again.jsonl', records)] });
    expect(again.callsAdded).toBe(0);
    expect(cache.store.callCount()).toBe(20);
  });

  it('knows an empty cache from one with calls', async () => {
    const empty = openStore(join(tempDir(), 'empty.db'));
    expect(empty.hasCalls()).toBe(false);
    expect(empty.callCount()).toBe(0);
    const cache = await cacheOf(records);
    expect(cache.store.hasCalls()).toBe(true);
  });
});
