/**
 * The simulator being served, and its replacement by a fresh look at the cache (hot reload).
 *
 * Each simulator reads one pinned snapshot of the cache (Store `pinSnapshot`), so an ingest
 * writing into the same file is invisible until a reload. A reload builds the new simulator to the
 * side, swaps it in with one assignment (requests take `current` once, synchronously), and closes
 * the old store only once the calls it was resolving have finished.
 */

import type { StorageError } from '../core/errors.js';
import { Store } from '../store/store.js';
import type { Simulator } from './simulator.js';

/** What a reload did: the snapshot now served and the one before it. */
export interface ReloadReport {
  reloaded: boolean;
  snapshot: string;
  previous: string;
  calls: number;
}

export type SimulatorFactory = (store: Store) => Simulator;

export class Snapshots {
  #current: Simulator;
  readonly #build: SimulatorFactory;
  readonly #db: string;
  #reloading: Promise<ReloadReport> | undefined;
  readonly #retiring = new Set<Promise<void>>();
  #onFault: ((error: StorageError, cause: unknown) => void) | undefined;

  private constructor(db: string, build: SimulatorFactory, first: Simulator) {
    this.#db = db;
    this.#build = build;
    this.#current = first;
  }

  /** Opens the cache at `db` and builds the first simulator with `build`. */
  static open(db: string, build: SimulatorFactory): Snapshots {
    const store = Store.open(db, { pinSnapshot: true });
    try {
      return new Snapshots(db, build, build(store));
    } catch (error) {
      store.close();
      throw error;
    }
  }

  /** Called once per opened store, at its first storage error (a damaged or unreadable cache). */
  onStorageFault(listener: (error: StorageError, cause: unknown) => void): void {
    this.#onFault = listener;
    this.#current.snapshot.onFault(listener);
  }

  get current(): Simulator {
    return this.#current;
  }

  /** Serves the cache's latest finished snapshot. Concurrent reloads share one. */
  reload(): Promise<ReloadReport> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(): Promise<ReloadReport> {
    const previous = this.#current;
    const store = Store.open(this.#db, { pinSnapshot: true });
    if (this.#onFault) store.onFault(this.#onFault);
    let next: Simulator;
    try {
      if (store.snapshotId === previous.snapshotId) {
        store.close();
        return { reloaded: false, snapshot: previous.snapshotId, previous: previous.snapshotId, calls: previous.callCount };
      }
      next = this.#build(store);
    } catch (error) {
      store.close();
      throw error;
    }
    this.#current = next;
    this.#retire(previous);
    return { reloaded: true, snapshot: next.snapshotId, previous: previous.snapshotId, calls: next.callCount };
  }

  #retire(simulator: Simulator): void {
    const done = simulator.idle().then(() => {
      simulator.close();
      this.#retiring.delete(done);
    });
    this.#retiring.add(done);
  }

  /** Closes every store once its calls have finished. */
  async close(): Promise<void> {
    await this.#reloading?.catch(() => undefined);
    await Promise.all(this.#retiring);
    await this.#current.idle();
    this.#current.close();
  }
}
