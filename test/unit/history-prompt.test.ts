/**
 * The rollout's history in an improvisation prompt: most recent first, the diverging write kept
 * first when the budget is short, entries whole or not at all, nothing when nothing fits.
 */
import { describe, expect, it } from 'vitest';
import { type HistoryEntry, historyBlock } from '../support/units.js';

const entry = (call: number, tool: string, output: string, writes = false): HistoryEntry => ({
  call,
  tool,
  arguments: JSON.stringify({ order_id: `#W${call}` }),
  outputJson: JSON.stringify(output),
  isError: false,
  tier: call >= 3 ? 'fuzzy' : 'exact',
  writes,
});

// Most recent first, as the registry gives them: call 3 is the write that diverged the server.
const history = [
  entry(5, 'get_order_details', 'cancelled'),
  entry(4, 'get_order_details', 'x'.repeat(2000)),
  entry(3, 'cancel_pending_order', 'cancelled', true),
  entry(1, 'get_order_details', 'pending'),
];

describe('the history block of a prompt', () => {
  it('lists every call most recent first, marking the write no recording has', () => {
    const block = historyBlock('retail', { since: 3, history }, 10_000);
    expect(block.entries).toBe(4);
    expect(block.hasSince).toBe(true);
    const calls = [...block.text.matchAll(/^Call (\d+)/gm)].map((m) => Number(m[1]));
    expect(calls).toEqual([5, 4, 3, 1]);
    expect(block.text).toContain('Call 3 (the write no recording has): cancel_pending_order\narguments: {"order_id":"#W3"}');
    expect(block.text).toContain('changed the state of server "retail" at its call 3');
  });

  it('keeps the diverging write first when the budget is short, then the most recent that fit, whole', () => {
    const block = historyBlock('retail', { since: 3, history }, 250);
    expect(block.hasSince).toBe(true);
    const calls = [...block.text.matchAll(/^Call (\d+)/gm)].map((m) => Number(m[1]));
    // Call 4's 2,000-character output does not fit; the older, smaller call 1 still does.
    expect(calls).toEqual([5, 3, 1]);
    expect(block.text).not.toContain('xxxx');
    expect(block.tokens).toBeLessThanOrEqual(250);
  });

  it('is empty when nothing fits, or there is no history', () => {
    expect(historyBlock('retail', { since: 3, history }, 10)).toEqual({ text: '', tokens: 0, entries: 0, hasSince: false });
    expect(historyBlock('retail', { since: 3, history: [] }, 10_000).entries).toBe(0);
  });
});
