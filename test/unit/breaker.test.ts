import { describe, expect, it } from 'vitest';
import { FakeClock } from '../support/clock.js';
import { CircuitBreaker } from '../support/units.js';

const breaker = (failures = 3, cooldownMs = 1_000) => {
  const clock = new FakeClock();
  return { clock, breaker: new CircuitBreaker({ failures, cooldownMs, now: clock.now }) };
};

describe('CircuitBreaker (fake clock)', () => {
  it('stays closed below the failure count, and a success resets the count', () => {
    const { breaker: b } = breaker(3);
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('opens after that many failures in a row and refuses until the cooldown has passed', () => {
    const { clock, breaker: b } = breaker(3, 1_000);
    for (let i = 0; i < 3; i++) b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    clock.advance(999);
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.state).toBe('half-open');
  });

  it('half-open lets one probe through at a time; a successful probe closes it', () => {
    const { clock, breaker: b } = breaker(1, 500);
    b.failure();
    clock.advance(500);
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(true);
  });

  it('a failed probe opens it again for a whole cooldown, whatever the count', () => {
    const { clock, breaker: b } = breaker(5, 500);
    for (let i = 0; i < 5; i++) b.failure();
    clock.advance(600);
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    clock.advance(499);
    expect(b.allow()).toBe(false);
    clock.advance(1);
    expect(b.allow()).toBe(true);
  });

  it('a probe abandoned before it was sent frees the slot for the next one', () => {
    const { clock, breaker: b } = breaker(1, 100);
    b.failure();
    clock.advance(100);
    expect(b.allow()).toBe(true);
    b.release();
    expect(b.state).toBe('half-open');
    expect(b.allow()).toBe(true);
  });

  it('refuses a failure count below 1', () => {
    expect(() => new CircuitBreaker({ failures: 0, cooldownMs: 1 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ failures: Number.NaN, cooldownMs: 1 })).toThrow(/at least 1/);
  });
});
