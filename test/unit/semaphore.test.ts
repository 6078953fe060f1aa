import { describe, expect, it } from 'vitest';
import { Semaphore } from '../support/units.js';

describe('Semaphore', () => {
  it('grants up to its limit at once, then queues in order, one slot per release', async () => {
    const s = new Semaphore(2);
    expect(await s.acquire()).toBe(true);
    expect(await s.acquire()).toBe(true);
    const order: number[] = [];
    const third = s.acquire().then((ok) => order.push(3) && ok);
    const fourth = s.acquire().then((ok) => order.push(4) && ok);
    await Promise.resolve();
    expect(order).toEqual([]);
    s.release();
    expect(await third).toBe(true);
    expect(order).toEqual([3]);
    s.release();
    expect(await fourth).toBe(true);
    expect(order).toEqual([3, 4]);
  });

  it('a waiter whose signal aborts leaves the queue holding nothing, and the slot goes to the next', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const controller = new AbortController();
    const abandoned = s.acquire(controller.signal);
    const next = s.acquire();
    controller.abort();
    expect(await abandoned).toBe(false);
    s.release();
    expect(await next).toBe(true);
    // The abandoned waiter took no slot: after this release one is free at once.
    s.release();
    expect(await s.acquire()).toBe(true);
  });

  it('an already aborted signal gets no slot and does not queue', async () => {
    const s = new Semaphore(1);
    expect(await s.acquire(AbortSignal.abort())).toBe(false);
    expect(await s.acquire()).toBe(true);
  });

  it('refuses a limit below 1', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
