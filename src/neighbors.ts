/**
 * The nearest recorded calls of a tool. Each tool's distinct recorded arguments are loaded from the
 * store the first time that tool is asked about, then kept in memory.
 */
import type { Store } from './store.js';
import { argumentSimilarity } from './similarity.js';
import type { JsonObject, Neighbor } from './types.js';

interface Entry {
  key: string;
  arguments: JsonObject;
}

export class NeighborIndex {
  readonly #store: Store;
  readonly #tools = new Map<string, Entry[]>();

  constructor(store: Store) {
    this.#store = store;
  }

  /** The `k` most similar recorded calls, most similar first; ties keep recording order. */
  nearest(server: string, tool: string, args: JsonObject, k: number): Neighbor[] {
    if (k <= 0) return [];
    const entries = this.#entries(server, tool);
    const best: Neighbor[] = [];
    for (const entry of entries) {
      const similarity = argumentSimilarity(args, entry.arguments);
      if (best.length === k && similarity <= best[k - 1]!.similarity) continue;
      let at = best.length;
      while (at > 0 && best[at - 1]!.similarity < similarity) at--;
      best.splice(at, 0, { key: entry.key, arguments: entry.arguments, similarity });
      if (best.length > k) best.pop();
    }
    return best;
  }

  #entries(server: string, tool: string): Entry[] {
    const id = `${server}\0${tool}`;
    let entries = this.#tools.get(id);
    if (!entries) {
      entries = this.#store.argumentsOf(server, tool).map((row) => ({ key: row.key, arguments: JSON.parse(row.arguments) as JsonObject }));
      this.#tools.set(id, entries);
    }
    return entries;
  }
}
