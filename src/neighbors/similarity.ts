/**
 * How alike two calls' arguments are, from 0 (nothing shared) to 1 (equal). Pure.
 *
 * The rule, top down:
 * - Objects (the arguments themselves included): every key present in either side weighs the
 *   same. A key present on one side only scores 0 (a missing or extra argument); a key on both sides
 *   scores the similarity of its two values. The score is the mean over keys.
 * - Equal values score 1. Values of different JSON types score 0, except a number and a string that
 *   reads as a number (`102` and `"102"`), compared as numbers at a small cost.
 * - Opaque identifiers (UUIDs, long hex, a run of 6 or more digits as in `#W2378156`, dense
 *   letter-and-digit tokens, integers of 10 or more digits) are equal or not: two ids one digit
 *   apart name unrelated things, so edit distance says nothing about them.
 * - Strings: closeness by edit distance, with case differences counting for little (`Paris` vs
 *   `paris` scores 0.99). Long strings are compared by their shared character trigrams instead,
 *   which keeps one comparison cheap.
 * - Numbers: relative closeness, 1 - |a - b| / (|a| + |b|): 10 vs 11 scores 0.95, 1 vs 2 scores 0.67.
 *   A number no double holds exactly (a `RawNumber`, such as a 64-bit id) is equal only to the same
 *   decimal value: two ids past 2^53 that round to one double score 0, and two such decimals that
 *   are close score below 1. A number past a double's range (`1e400`) is equal or not.
 * - Arrays: position by position, over the longer length (an extra item scores 0).
 * - Booleans: the other value scores 0.5 (the same flag, set the other way). Null: equal or not.
 * Only equal values score 1: a call that differs anywhere scores below 1.
 */
import { canonicalNumber, RawNumber } from '../core/json-text.js';
import type { Json, JsonObject } from '../core/types.js';

/** Strings up to this length are compared by edit distance; longer ones by trigrams. */
export const MAX_EDIT_LENGTH = 64;
/** What a difference in letter case alone costs. */
const CASE_PENALTY = 0.01;

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

/** What a number written as a string costs against the same number (`"102"` vs `102`). */
const TYPE_PENALTY = 0.05;
/** Two booleans that differ: the same flag, set the other way. */
const FLIPPED_FLAG = 0.5;

export function valueSimilarity(a: Json, b: Json): number {
  if (a === b) return 1;
  if (a instanceof RawNumber || b instanceof RawNumber) return exactNumberSimilarity(a, b);
  if (typeof a === 'string' && typeof b === 'string') return isOpaqueId(a) || isOpaqueId(b) ? 0 : stringSimilarity(a, b);
  if (typeof a === 'number' && typeof b === 'number') return numberSimilarity(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return FLIPPED_FLAG;
  if (typeof a === 'number' && typeof b === 'string') return numericStringSimilarity(a, b);
  if (typeof a === 'string' && typeof b === 'number') return numericStringSimilarity(b, a);
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

function numberSimilarity(a: number, b: number): number {
  if (a === b) return 1;
  if (isOpaqueNumber(a) || isOpaqueNumber(b)) return 0;
  return 1 - Math.abs(a - b) / (Math.abs(a) + Math.abs(b));
}

const NUMERIC = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** What differs only past a double's precision scores at most this (only equal values score 1). */
const NEARLY = 0.9999;

/**
 * A `RawNumber` (canonical, as arguments are normalized) against another value. A double never
 * holds the same value as a RawNumber (the canonical form keeps a double when it is exact), so
 * only two RawNumbers of one text are equal.
 */
function exactNumberSimilarity(a: Json, b: Json): number {
  if (typeof a === 'string' || typeof b === 'string') {
    const [text, other] = typeof a === 'string' ? [a, b] : [b as string, a];
    if (!NUMERIC.test(text)) return 0;
    const n = canonicalNumber(text);
    const same = n instanceof RawNumber && other instanceof RawNumber ? n.text === other.text : n === other;
    return (same ? 1 : exactNumberSimilarity(n as Json, other)) * (1 - TYPE_PENALTY);
  }
  const x = a instanceof RawNumber ? a.text : typeof a === 'number' ? undefined : null;
  const y = b instanceof RawNumber ? b.text : typeof b === 'number' ? undefined : null;
  if (x === null || y === null) return 0;
  if (x !== undefined && x === y) return 1;
  const p = x === undefined ? (a as number) : Number(x);
  const q = y === undefined ? (b as number) : Number(y);
  if (!Number.isFinite(p) || !Number.isFinite(q)) return 0;
  return Math.min(numberSimilarity(p, q) === 1 ? (isOpaqueNumber(p) ? 0 : 1) : numberSimilarity(p, q), NEARLY);
}

function numericStringSimilarity(n: number, text: string): number {
  if (!NUMERIC.test(text)) return 0;
  return numberSimilarity(n, Number(text)) * (1 - TYPE_PENALTY);
}

/** Integers this large are ids, counts of nothing (tweets, listings, orders, timestamps). */
const OPAQUE_MAGNITUDE = 1e9;

export function isOpaqueNumber(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) >= OPAQUE_MAGNITUDE;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^(?:0x)?[0-9a-f]{16,}$/i;
const DIGIT_RUN = /\d{6}/;
const TOKEN = /^[A-Za-z0-9]{12,}$/;

/**
 * Is this string an identifier rather than words? UUIDs, long hex (hashes), any run of 6 digits
 * without spaces (`#W2378156`, `credit_card_9513926`, a phone number), and unbroken tokens of 12 or
 * more letters and digits of which a quarter are digits (`o8i7u6y5t4r3e2w1q0`). Text with spaces is words.
 */
export function isOpaqueId(text: string): boolean {
  if (text.length < 6 || text.length > 128 || /\s/.test(text)) return false;
  if (UUID.test(text) || HEX.test(text) || DIGIT_RUN.test(text)) return true;
  if (!TOKEN.test(text)) return false;
  let digits = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) digits++;
  return digits * 4 >= text.length && digits < text.length;
}

export function stringSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const closeness = x.length > MAX_EDIT_LENGTH || y.length > MAX_EDIT_LENGTH ? trigramSimilarity(x, y) : editSimilarity(x, y);
  // Different strings never score 1, however alike they look once folded.
  return Math.min(closeness, 1 - CASE_PENALTY);
}

/** 1 - edit distance / longer length. */
export function editSimilarity(a: string, b: string): number {
  const longest = Math.max(a.length, b.length);
  return longest === 0 ? 1 : 1 - editDistance(a, b) / longest;
}

/** Dice coefficient of the two strings' sets of character trigrams. */
export function trigramSimilarity(a: string, b: string): number {
  const x = queryTrigrams(a);
  const y = trigrams(b);
  if (x.size === 0 && y.size === 0) return 1;
  let shared = 0;
  for (const gram of x) if (y.has(gram)) shared++;
  return (2 * shared) / (x.size + y.size);
}

/**
 * The trigrams of the last first argument, kept: a lookup compares one query value with every
 * candidate, so the query's set is built once per lookup instead of once per candidate.
 */
let lastQuery = '';
let lastQueryGrams: Set<string> | undefined;
function queryTrigrams(text: string): Set<string> {
  if (lastQueryGrams === undefined || text !== lastQuery) {
    lastQueryGrams = trigrams(text);
    lastQuery = text;
  }
  return lastQueryGrams;
}

/** The distinct character trigrams of a string, padded so short strings have some. */
export function trigrams(text: string, limit = Infinity): Set<string> {
  const padded = ` ${text} `;
  const out = new Set<string>();
  for (let i = 0; i + 3 <= padded.length && out.size < limit; i++) out.add(padded.slice(i, i + 3));
  return out;
}

/** Levenshtein distance over UTF-16 code units, two rows of memory reused across calls. */
export function editDistance(a: string, b: string): number {
  // A shared prefix and suffix cost nothing: trim them, near strings then leave little to compare.
  let start = 0;
  while (start < a.length && start < b.length && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--;
    endB--;
  }
  if (start > 0 || endA < a.length || endB < b.length) {
    a = a.slice(start, endA);
    b = b.slice(start, endB);
  }
  if (a.length < b.length) [a, b] = [b, a];
  if (b.length === 0) return a.length;
  if (rows[0].length <= b.length) rows = [new Uint32Array(b.length + 1), new Uint32Array(b.length + 1)];
  let [previous, current] = rows;
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

// Scratch rows for editDistance: it runs for every candidate of every lookup, so it allocates nothing.
let rows: [Uint32Array, Uint32Array] = [new Uint32Array(MAX_EDIT_LENGTH + 1), new Uint32Array(MAX_EDIT_LENGTH + 1)];
