import { describe, expect, it } from 'vitest';
import { Budget } from '../support/units.js';

describe('Budget', () => {
  it('0 means no limit', () => {
    const b = new Budget({ requests: 0, tokens: 0 });
    for (let i = 0; i < 1_000; i++) b.spendRequest();
    b.spendTokens(1e12);
    expect(b.allows()).toBe(true);
  });

  it('stops at the request limit', () => {
    const b = new Budget({ requests: 2, tokens: 0 });
    b.spendRequest();
    expect(b.allows()).toBe(true);
    b.spendRequest();
    expect(b.allows()).toBe(false);
  });

  it('stops once the tokens spent reach the limit (a request may overshoot it)', () => {
    const b = new Budget({ requests: 0, tokens: 100 });
    b.spendTokens(99);
    expect(b.allows()).toBe(true);
    b.spendTokens(500);
    expect(b.allows()).toBe(false);
  });
});
