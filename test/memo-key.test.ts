/**
 * The memo key, built in one place for both memos: a call outside diverged state keeps its call key
 * (answers memoized before rollouts had state still serve); a history digest folds in; every part
 * of the key tells keys apart; and the SQLite memo keys its rows by it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callKey } from '../src/core/canonical.js';
import { memoId, memoIdText } from '../src/store/memo-key.js';
import { SqliteMemoTable as Memo } from '../src/store/memo-sqlite.js';
import { Store } from '../src/store/store.js';
import { onCleanup, tempDir } from './helpers.js';

const base = { snapshotId: 's1', callKey: callKey('shop', 'get_order', '{"id":1}'), model: 'm', promptVersion: 'p2' };

describe('the memo key', () => {
  it('is the call key for a call outside diverged state', () => {
    expect(memoId(base)).toEqual({ snapshotId: 's1', key: base.callKey, model: 'm', promptVersion: 'p2' });
    expect(memoId({ ...base, historyDigest: undefined }).key).toBe(base.callKey);
  });

  it('folds the history digest in: one history one key, another history another', () => {
    const a = memoId({ ...base, historyDigest: 'a'.repeat(64) });
    expect(a.key).toMatch(/^[0-9a-f]{64}$/);
    expect(a.key).not.toBe(base.callKey);
    expect(memoId({ ...base, historyDigest: 'a'.repeat(64) })).toEqual(a);
    expect(memoId({ ...base, historyDigest: 'b'.repeat(64) }).key).not.toBe(a.key);
    // The empty history (a server diverged by a call of another... never: but an empty digest is still a digest) differs from none.
    expect(memoId({ ...base, historyDigest: '' }).key).not.toBe(base.callKey);
  });

  it('tells apart every part, and never joins them with a delimiter', () => {
    const texts = new Set(
      [
        base,
        { ...base, snapshotId: 's2' },
        { ...base, model: 'm2' },
        { ...base, promptVersion: 'p3' },
        { ...base, callKey: callKey('shop', 'get_order', '{"id":2}') },
        // The parts shifted across a would-be delimiter are still another key.
        { ...base, snapshotId: 's1"', model: 'm' },
        { ...base, snapshotId: 's1', model: '"m' },
      ].map((p) => memoIdText(memoId(p))),
    );
    expect(texts.size).toBe(7);
  });

  it('keys the SQLite memo: an answer stored under one history is not served under another', () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    Store.open(path).close();
    const memo = new Memo(path);
    onCleanup(() => memo.close());
    const one = memoId({ ...base, historyDigest: '1'.repeat(64) });
    const two = memoId({ ...base, historyDigest: '2'.repeat(64) });
    expect(memo.put(one, { outputJson: '"after one"', isError: false })).toBe(true);
    expect(memo.get(one)).toEqual({ outputJson: '"after one"', isError: false });
    expect(memo.get(two)).toBeUndefined();
    expect(memo.get(memoId(base))).toBeUndefined();
  });
});
