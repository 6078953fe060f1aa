/**
 * How alike two calls' arguments are, from 0 (nothing shared) to 1 (equal). Pure.
 *
 * Every key present in either call weighs the same; a key present in only one scores 0; a key in
 * both scores the similarity of its two values: 1 when equal, edit-distance closeness for strings,
 * relative closeness for numbers, the same rule recursively for objects and arrays, 0 across types.
 */
import type { Json, JsonObject } from './types.js';

/** Strings longer than this are compared on a prefix, keeping the cost of one comparison bounded. */
const MAX_EDIT_LENGTH = 256;

export function argumentSimilarity(a: JsonObject, b: JsonObject): number {
  let keys = 0;
  let total = 0;
  for (const key in a) {
    keys++;
    if (Object.hasOwn(b, key)) total += valueSimilarity(a[key]!, b[key]!);
  }
  for (const key in b) if (!Object.hasOwn(a, key)) keys++;
  return keys === 0 ? 1 : total / keys;
}

export function valueSimilarity(a: Json, b: Json): number {
  if (a === b) return 1;
  if (typeof a === 'string' && typeof b === 'string') return stringSimilarity(a, b);
  if (typeof a === 'number' && typeof b === 'number') return 1 - Math.abs(a - b) / (Math.abs(a) + Math.abs(b));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return 0;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return 0;
    const length = Math.max(a.length, b.length);
    if (length === 0) return 1;
    let total = 0;
    for (let i = 0; i < Math.min(a.length, b.length); i++) total += valueSimilarity(a[i]!, b[i]!);
    return total / length;
  }
  return argumentSimilarity(a, b);
}

export function stringSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const x = a.length > MAX_EDIT_LENGTH ? a.slice(0, MAX_EDIT_LENGTH) : a;
  const y = b.length > MAX_EDIT_LENGTH ? b.slice(0, MAX_EDIT_LENGTH) : b;
  const longest = Math.max(x.length, y.length);
  if (longest === 0) return 1;
  // Equal prefixes of long strings still differ somewhere: never call them identical.
  return Math.min(1 - editDistance(x, y) / longest, x === y ? 0.99 : 1);
}

/** Levenshtein distance over UTF-16 code units, two rows of memory. */
export function editDistance(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let previous = new Uint32Array(b.length + 1);
  let current = new Uint32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}
