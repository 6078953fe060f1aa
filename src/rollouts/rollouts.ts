/**
 * The registry of rollouts, handed to the simulator as the store is: a rollout's state per server
 * (recorded or diverged), its history there, its end. Tiers never keep rollout state: the simulator
 * asks the registry for a call's state, hands it to the tiers as data, and records the answer.
 *
 * Calls of one rollout are taken one after the other in this process (`run`): a rollout is a
 * sequence, and its state after one call is the state the next one sees. A call that finds no
 * earlier call of its rollout in flight runs at once, synchronously when it can (the exact path
 * stays free of promises).
 */
import type { Answered } from '../core/rollout.js';
import type { EndedHow, ExactAnswer, ExactCall, Recorded, RolloutStore, RolloutView, StateRead } from './rollout-store.js';
import { WriteRule, type WriteVerdict } from './write-rule.js';

export interface RolloutsOptions {
  store: RolloutStore;
  rule?: WriteRule;
  /** Called when rollouts end by themselves (expired at a sweep); the store reports the others it ends. */
  onEnded?: (how: EndedHow, count: number) => void;
  /** Interval of the sweep that ends silent rollouts (default a quarter of the TTL, at most a minute); 0: none. */
  sweepMs?: number;
}

const noop = (): void => {};

export class Rollouts {
  readonly store: RolloutStore;
  readonly rule: WriteRule;
  readonly #onEnded: (how: EndedHow, count: number) => void;
  /** The last call in flight of each rollout that has one (settled, never rejecting). */
  readonly #busy = new Map<string, Promise<void>>();
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(options: RolloutsOptions) {
    this.store = options.store;
    this.rule = options.rule ?? new WriteRule();
    this.#onEnded = options.onEnded ?? noop;
    const every = options.sweepMs ?? Math.min(Math.max(Math.floor(this.store.limits.ttlMs / 4), 1000), 60_000);
    if (every > 0) {
      this.#sweeper = setInterval(() => void this.sweep(), every);
      this.#sweeper.unref();
    }
  }

  /** Whether a tool writes, and why (annotations as the catalog holds them, or undefined). */
  writes(server: string, tool: string, annotations: unknown): WriteVerdict {
    return this.rule.classify(server, tool, annotations);
  }

  state(id: string, server: string): StateRead | Promise<StateRead> {
    return this.store.state(id, server);
  }

  /** Records a call's answer (`diverged`: this call diverged its server). */
  record(id: string, server: string, answered: Answered): Recorded | Promise<Recorded> {
    return this.store.record(id, server, answered);
  }

  /**
   * Records an answer served from a recording in one step when the store can say at once that the
   * rollout's state on `server` is recorded (true); false records nothing (diverged, or a store
   * that answers later): the caller takes the long way, `state` then `record`.
   */
  recordExact(id: string, server: string, call: ExactCall, answer: ExactAnswer): boolean {
    return this.store.recordExact?.(id, server, call, answer) ?? false;
  }

  /**
   * Runs `fn` once every earlier call of rollout `id` given to `run` has finished: at once (and
   * synchronously) when none is in flight.
   */
  run<T>(id: string, fn: () => T | Promise<T>): T | Promise<T> {
    const before = this.#busy.get(id);
    if (before === undefined) {
      const out = fn();
      if (out instanceof Promise) this.#track(id, out);
      return out;
    }
    const next = before.then(fn);
    this.#track(id, next);
    return next;
  }

  view(id: string): RolloutView | undefined | Promise<RolloutView | undefined> {
    return this.store.view(id);
  }

  /** Ends a rollout now (DELETE, verl-tool's finish, an MCP session's end); false when there was none. */
  async end(id: string): Promise<boolean> {
    // A call of the rollout in flight finishes first: its answer would otherwise start the rollout again.
    await this.#busy.get(id);
    return this.store.end(id);
  }

  /** Ends the silent rollouts and those past the cap now (the timer does it too). */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const ended = await this.store.sweep();
      for (const [how, count] of Object.entries(ended) as [EndedHow, number][]) if (count > 0) this.#onEnded(how, count);
    } catch {
      // The store is away; the next sweep tries again.
    } finally {
      this.#sweeping = false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    await Promise.all([...this.#busy.values()]);
    await this.store.close();
  }

  #track(id: string, out: Promise<unknown>): void {
    const settled = out.then(noop, noop);
    this.#busy.set(id, settled);
    void settled.then(() => {
      if (this.#busy.get(id) === settled) this.#busy.delete(id);
    });
  }
}
