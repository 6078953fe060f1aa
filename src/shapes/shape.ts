/**
 * The output shape of a tool, learnt from its recorded answers (docs/improviser-protocol.md,
 * "Output shapes"). Pure: `ShapeLearner` folds answers in one by one; `finish` gives the shape.
 *
 * A shape keeps successes and errors apart. At each position of an answer it knows the JSON kinds
 * the recordings had there and how many had each; for objects, the keys each recorded object had
 * (a key every recorded object had is required, the others optional) and the shape of each key's
 * values; for lists, the shape of their items, all lists merged; for strings that are JSON text
 * (or a Python literal) in every recording at that position, the shape of what they hold.
 *
 * Where the recordings disagree, the shape says so: several kinds at one position, or objects of
 * up to MAX_GROUPS kinds (key sets that share less than half their keys: `{"user": ...}` beside
 * `{"error": ..., "code": ...}`), each with its own required keys. Objects whose key names are
 * data (ids, dates, numbers: `{"credit_card_7815826": {...}}`), or that have more than MAX_KEYS
 * distinct keys, are maps: their key names are free and each value has one merged shape.
 *
 * Bounded: MAX_DEPTH levels (an embedded text counts as one), MAX_NODES positions per tool,
 * LEARNT_ITEMS items per list and MAX_KEYS keys per object; what lies past a bound is `open`
 * (anything fits there), so a bound never makes the guard refuse a real answer.
 */
import type { Json } from '../core/types.js';
import { readEmbedded } from './embedded.js';

export const SHAPE_VERSION = 1;
export const MAX_DEPTH = 8;
export const MAX_NODES = 4096;
export const MAX_KEYS = 256;
export const MAX_GROUPS = 4;
/** Items of one list folded into the items' shape (the rest are like them, or the guard's concern). */
export const LEARNT_ITEMS = 256;

export type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';
export const KINDS: readonly Kind[] = ['null', 'boolean', 'number', 'string', 'array', 'object'];

export const kindOf = (value: Json): Kind =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : (typeof value as 'boolean' | 'number' | 'string' | 'object');

/** One position of an answer, with what the recordings had there. */
export interface ShapeNode {
  /** Recorded values at this position. */
  seen: number;
  /** How many had each kind. */
  kinds: Partial<Record<Kind, number>>;
  /** Objects at this position: one group, or one per kind of object where they disagree, or one map. */
  objects?: ObjectGroup[];
  /** Items of every list at this position (absent when every list was empty). */
  items?: ShapeNode;
  /** What the strings here hold, when every one of them is JSON text (or a Python literal). */
  text?: ShapeNode;
  /** Strings here that held a value (while learning; `finish` keeps `text` only when all did). */
  textSeen?: number;
  /** Nothing below was learnt (a bound was reached): any value fits here. */
  open?: true;
}

/** Recorded objects of one kind at one position. */
export interface ObjectGroup {
  /** Objects in the group. */
  seen: number;
  /** Each key with the values it had; its `seen` counts the objects that had it. */
  keys: Map<string, ShapeNode>;
  /** A map: key names are data, and every value has this shape (then `keys` is empty). */
  values?: ShapeNode;
  /** Some keys were not learnt (MAX_NODES): a missing key may not be required. */
  partial?: true;
}

/** What a tool's recorded answers look like. */
export interface OutputShape {
  version: number;
  /** Recorded answers learnt from (not counting recorded infrastructure failures). */
  answers: number;
  success?: ShapeNode;
  error?: ShapeNode;
  /** A bound was reached somewhere: parts of the shape are open. */
  bounded?: true;
}

export const newNode = (): ShapeNode => ({ seen: 0, kinds: {} });

/** Folds answers into a shape. */
export class ShapeLearner {
  #nodes = 0;
  #answers = 0;
  #success: ShapeNode | undefined;
  #error: ShapeNode | undefined;
  #bounded = false;

  /** Adds one recorded answer (`weight` recordings of it). */
  add(output: Json, isError: boolean, weight = 1): void {
    this.#answers += weight;
    const root = isError ? (this.#error ??= this.#node()) : (this.#success ??= this.#node());
    if (root) this.#fold(root, output, 0, weight);
  }

  #node(): ShapeNode {
    this.#nodes++;
    return newNode();
  }

  /** A new node, or undefined once MAX_NODES are used (the caller marks its position open). */
  #child(): ShapeNode | undefined {
    if (this.#nodes >= MAX_NODES) {
      this.#bounded = true;
      return undefined;
    }
    return this.#node();
  }

  #fold(node: ShapeNode, value: Json, depth: number, weight: number): void {
    node.seen += weight;
    const kind = kindOf(value);
    node.kinds[kind] = (node.kinds[kind] ?? 0) + weight;
    if (node.open || kind === 'null' || kind === 'boolean' || kind === 'number') return;
    if (depth >= MAX_DEPTH) {
      this.#open(node);
      return;
    }
    if (kind === 'string') {
      const held = readEmbedded(value as string);
      if (held === undefined) return;
      node.textSeen = (node.textSeen ?? 0) + weight;
      // Strings that hold a value are learnt only while every string here did.
      if (node.textSeen !== node.kinds.string) return;
      const text = node.text ?? this.#child();
      if (!text) {
        this.#open(node);
        return;
      }
      node.text = text;
      this.#fold(text, held, depth + 1, weight);
      return;
    }
    if (kind === 'array') {
      const list = value as Json[];
      if (list.length === 0) return;
      const items = node.items ?? this.#child();
      if (!items) {
        this.#open(node);
        return;
      }
      node.items = items;
      for (let i = 0; i < list.length && i < LEARNT_ITEMS; i++) this.#fold(items, list[i]!, depth + 1, weight);
      return;
    }
    this.#object(node, value as { [key: string]: Json }, depth, weight);
  }

  #open(node: ShapeNode): void {
    node.open = true;
    this.#bounded = true;
  }

  #object(node: ShapeNode, object: { [key: string]: Json }, depth: number, weight: number): void {
    const keys = Object.keys(object);
    const groups = (node.objects ??= []);
    let group = groups.find((g) => g.values !== undefined);
    if (!group) {
      let best = -1;
      for (const g of groups) {
        const score = jaccard(keys, g.keys);
        if (score > best) {
          best = score;
          group = g;
        }
      }
      if (!group || (best < 0.5 && groups.length < MAX_GROUPS)) {
        group = { seen: 0, keys: new Map() };
        groups.push(group);
      }
    }
    group.seen += weight;
    if (group.values === undefined && keys.length > MAX_KEYS) toMap(group);
    if (group.values !== undefined) {
      for (let i = 0; i < keys.length && i < MAX_KEYS; i++) this.#fold(group.values, object[keys[i]!]!, depth + 1, weight);
      return;
    }
    for (const key of keys) {
      let child = group.keys.get(key);
      if (!child) {
        child = this.#child();
        if (!child) {
          group.partial = true;
          continue;
        }
        group.keys.set(key, child);
      }
      this.#fold(child, object[key]!, depth + 1, weight);
    }
    if (group.keys.size > MAX_KEYS) toMap(group);
  }

  finish(): OutputShape {
    const shape: OutputShape = { version: SHAPE_VERSION, answers: this.#answers };
    if (this.#success) shape.success = settle(this.#success);
    if (this.#error) shape.error = settle(this.#error);
    if (this.#bounded) shape.bounded = true;
    return shape;
  }
}

/** Learns the shape of a tool's answers in one go. */
export function learnShape(answers: Iterable<{ output: Json; isError: boolean; weight?: number }>): OutputShape {
  const learner = new ShapeLearner();
  for (const a of answers) learner.add(a.output, a.isError, a.weight ?? 1);
  return learner.finish();
}

/** Share of keys two key sets have in common (1 for two empty sets). */
function jaccard(keys: readonly string[], group: ReadonlyMap<string, ShapeNode>): number {
  if (keys.length === 0 && group.size === 0) return 1;
  let common = 0;
  for (const key of keys) if (group.has(key)) common++;
  return common / (keys.length + group.size - common);
}

/** Turns a group into a map: every key's values merged into one shape. */
function toMap(group: ObjectGroup): void {
  const values = newNode();
  for (const child of group.keys.values()) merge(values, child);
  group.keys.clear();
  group.values = values;
}

/** Folds `from` into `into` (both learnt; nodes of `from` are reused). */
export function merge(into: ShapeNode, from: ShapeNode): void {
  into.seen += from.seen;
  for (const kind of KINDS) {
    const n = from.kinds[kind];
    if (n !== undefined) into.kinds[kind] = (into.kinds[kind] ?? 0) + n;
  }
  if (from.open) into.open = true;
  if (from.textSeen !== undefined) into.textSeen = (into.textSeen ?? 0) + from.textSeen;
  if (from.text) {
    if (into.text) merge(into.text, from.text);
    else into.text = from.text;
  }
  if (from.items) {
    if (into.items) merge(into.items, from.items);
    else into.items = from.items;
  }
  if (from.objects) {
    into.objects = [...(into.objects ?? []), ...from.objects];
    mergeGroups(into.objects);
  }
}

function mergeGroup(into: ObjectGroup, from: ObjectGroup): void {
  into.seen += from.seen;
  if (from.partial) into.partial = true;
  if (into.values !== undefined || from.values !== undefined) {
    if (into.values === undefined) toMap(into);
    if (from.values === undefined) toMap(from);
    merge(into.values!, from.values!);
    return;
  }
  for (const [key, child] of from.keys) {
    const have = into.keys.get(key);
    if (have) merge(have, child);
    else into.keys.set(key, child);
  }
  if (into.keys.size > MAX_KEYS) toMap(into);
}

/** Joins groups until at most MAX_GROUPS remain (and one map takes in every group). */
function mergeGroups(groups: ObjectGroup[]): void {
  const map = groups.find((g) => g.values !== undefined);
  if (map) {
    for (const g of groups.splice(0)) if (g !== map) mergeGroup(map, g);
    groups.push(map);
    return;
  }
  while (groups.length > MAX_GROUPS) {
    let best = { a: 0, b: 1, score: -1 };
    for (let a = 0; a < groups.length; a++)
      for (let b = a + 1; b < groups.length; b++) {
        const score = jaccard([...groups[a]!.keys.keys()], groups[b]!.keys);
        if (score > best.score) best = { a, b, score };
      }
    mergeGroup(groups[best.a]!, groups[best.b]!);
    groups.splice(best.b, 1);
  }
}

/** A key name that is data, not a field name: an id, a number, a date. */
export function isDataKey(key: string): boolean {
  return /\d{4}/.test(key) || /^\d+$/.test(key) || /^[0-9a-f]{8,}$/i.test(key) || /^[0-9a-f-]{32,36}$/i.test(key);
}

/**
 * The last pass: strings that did not all hold a value are plain text; objects whose key names are
 * data, or whose keys are mostly seen once among many, become maps.
 */
function settle(node: ShapeNode): ShapeNode {
  if (node.text && node.textSeen !== node.kinds.string) delete node.text;
  delete node.textSeen;
  if (node.text) settle(node.text);
  if (node.items) settle(node.items);
  const groups = node.objects;
  if (groups) {
    if (looksLikeMap(groups)) {
      const map = groups[0]!;
      if (map.values === undefined) toMap(map);
      for (const g of groups.splice(1)) mergeGroup(map, g);
    }
    for (const g of groups) {
      if (g.values) settle(g.values);
      for (const child of g.keys.values()) settle(child);
    }
  }
  return node;
}

function looksLikeMap(groups: readonly ObjectGroup[]): boolean {
  if (groups.some((g) => g.values !== undefined)) return true;
  const counts = new Map<string, number>();
  let objects = 0;
  for (const g of groups) {
    objects += g.seen;
    for (const [key, child] of g.keys) counts.set(key, (counts.get(key) ?? 0) + child.seen);
  }
  if (counts.size === 0) return false;
  let dataKeys = 0;
  let total = 0;
  for (const [key, n] of counts) {
    if (isDataKey(key)) dataKeys++;
    total += n;
  }
  if (dataKeys * 2 >= counts.size) return true;
  // Many key names, each in few of the objects: names that vary with the data.
  return objects >= 4 && counts.size >= 8 && total / counts.size <= objects / 4;
}

/** Is `key` required in `group` (every recorded object of the group had it)? */
export function isRequired(group: ObjectGroup, key: string): boolean {
  const child = group.keys.get(key);
  return child !== undefined && child.seen === group.seen;
}
