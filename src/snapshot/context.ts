/**
 * One snapshot of the cache as everything that serves it sees it, built once per (re)load: its
 * id, its recorded tools (the catalog, read once), the neighbour index, the recorded observations
 * by key, and the state of its storage (a read that failed). Tiers and protocols take this; none
 * of them sees the Store behind it, and it is closed with the snapshot it reads.
 */

import type { StorageError } from '../core/errors.js';
import type { Observation } from '../core/types.js';
import { NeighborIndex } from '../neighbors/neighbor-index.js';
import { OutputShapes } from '../neighbors/output-shapes.js';
import type { Store } from '../store/store.js';
import { Catalog } from './catalog.js';

export class SnapshotContext {
  /** The snapshot id: changes whenever the recordings change (memoized improvisations are tied to it). */
  readonly id: string;
  /** The cache file this snapshot is read from (`:memory:` for an in-memory cache). */
  readonly path: string;
  /** Recorded calls in the snapshot; recordings do not change while it is served. */
  readonly callCount: number;
  readonly catalog: Catalog;
  /** The nearest recorded calls of a call; built per tool in a worker thread when serving a file. */
  readonly index: NeighborIndex;
  /**
   * Each tool's output shape learnt from its recorded answers, and its declared output schema
   * compiled: what improvised answers are held to. Learnt per tool, in the same worker, on first use.
   */
  readonly shapes: OutputShapes;
  /** Argument names dropped before hashing, fixed by the first ingest (docs/canonical-key.md). */
  readonly ignoredArguments: readonly string[];
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    this.id = store.snapshotId;
    this.path = store.path;
    this.callCount = store.callCount();
    this.ignoredArguments = store.ignoredArguments;
    this.catalog = new Catalog(store);
    this.index = new NeighborIndex(store);
    this.shapes = new OutputShapes(store, this.catalog.tools);
  }

  /** Every recorded observation of a call key, in ingest order (empty when the key was never recorded). */
  observations(key: string): Observation[] {
    return this.#store.observations(key);
  }

  /** The first failed read of the cache (a damaged or unreadable file), or undefined while it reads well. */
  get fault(): StorageError | undefined {
    return this.#store.fault;
  }

  /** Called at the first storage error of this snapshot. */
  onFault(listener: (error: StorageError, cause: unknown) => void): void {
    this.#store.onFault(listener);
  }

  get closed(): boolean {
    return this.#store.closed;
  }

  close(): void {
    this.#store.close();
  }
}
