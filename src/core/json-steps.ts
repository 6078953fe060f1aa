/**
 * The JSON readers of json-size.ts and json-text.ts (`jsonExcess`, `parseJson`) as generators that
 * stop when a slice of time has run out, so that a large body is read a few milliseconds per turn
 * of the event loop (src/http/large-body.ts drives them). They read like the synchronous readers
 * and give the same results, errors included; a property test holds them equal
 * (test/unit/json-steps.test.ts). Run to the end in one go (`runSteps`), they are those readers.
 *
 * One difference inside, not in the results: a text that escapes U+0000 (where a marker string
 * could be forged) is read by `parseJson` with lossless-json, a JavaScript parser that reads 4 MB
 * in 50-90 ms in one piece; here its markers carry a random nonce instead, so no string of the text
 * can pass for one, and the native parser still does the work.
 */
import { type JsonExcess, type JsonLimits, measureJsonSteps } from './json-size.js';
import { canonicalNumber, type Keep, RawNumber } from './json-text.js';

/** Operations between two looks at the clock: a look costs about what 10 of them do, and cold (interpreted) code is slow. */
const CHECK_EVERY = 256;

/** When the current slice of work ends; the readers check it every CHECK_EVERY operations and yield once it has passed. */
export class Slice {
  /** `performance.now()` past which the reader yields. */
  deadline = Number.POSITIVE_INFINITY;
  #ops = 0;
  /** `checkEvery`: operations between looks at the clock (1 and a past deadline: a reader that stops wherever it can, for tests). */
  constructor(readonly checkEvery = CHECK_EVERY) {}
  /** Whether the slice has run out, after `weight` more operations. */
  over(weight = 1): boolean {
    this.#ops += weight;
    if (this.#ops < this.checkEvery) return false;
    this.#ops = 0;
    return performance.now() >= this.deadline;
  }
}

/** A reader: yields when its slice has run out, returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Runs a reader to the end in one go. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** `jsonExcess`, in steps. */
export function* jsonExcessSteps(text: string, limits: JsonLimits, slice: Slice): Steps<JsonExcess | undefined> {
  if (text.length <= limits.depth && text.length <= limits.entries) return undefined;
  const measured = yield* measureJsonSteps(text, limits, slice);
  return typeof measured === 'number' ? undefined : measured;
}

/** Whether a double would spell the token otherwise (as in json-text.ts). */
const spellingChanges = (token: string): boolean => token.length > 24 || String(Number(token)) !== token;
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const NUMBER_END = /[^0-9.eE+-]/g;
const VALUE_START = /["0-9-]/g;

/** `parseJson`, in steps: the same numbers kept as `RawNumber`s (with the same canonical forms), the same SyntaxErrors. */
export function* parseJsonSteps(text: string, keep: Keep, slice: Slice): Steps<unknown> {
  const forms: (number | RawNumber | SyntaxError | undefined)[] = [];
  const changes =
    keep === 'text'
      ? spellingChanges
      : (token: string): boolean => {
          if (!spellingChanges(token)) return false;
          let form: number | RawNumber;
          try {
            form = canonicalNumber(token);
          } catch (error) {
            forms.push(error as SyntaxError);
            return true;
          }
          if (typeof form === 'number') return false;
          forms.push(form);
          return true;
        };
  const tokens = yield* numbersWhereSteps(text, changes, slice);
  yield;
  if (tokens === undefined) return JSON.parse(text);
  // A text that escapes U+0000 could hold a string that looks like a marker: its markers carry a
  // nonce it cannot know.
  const prefix = text.includes('\\u0000') ? `\u0000${nonce()}:` : '\u0000';
  const written = JSON.stringify(prefix).slice(0, -1);
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < tokens.length; i += 2) {
    const start = tokens[i]!;
    const end = tokens[i + 1]!;
    if (!(forms[i >> 1] instanceof RawNumber) && !JSON_NUMBER.test(text.slice(start, end))) {
      yield;
      return JSON.parse(text);
    }
    parts.push(text.slice(from, start), `${written}${i >> 1}"`);
    from = end;
    if (slice.over(1 + ((end - start) >> 4))) yield;
  }
  parts.push(text.slice(from));
  const marked = parts.join('');
  parts.length = 0;
  yield;
  let value: unknown;
  try {
    value = JSON.parse(marked);
  } catch {
    yield;
    return JSON.parse(text);
  }
  yield;
  const raw = (index: string): RawNumber => {
    const n = Number(index);
    return new RawNumber(text.slice(tokens[2 * n]!, tokens[2 * n + 1]!), forms[n]);
  };
  return yield* restoreSteps(value, prefix, raw, slice);
}

function nonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The [start, end) offsets of every number token outside strings that satisfies `test` (as `numbersWhere` in json-text.ts), in steps. */
function* numbersWhereSteps(text: string, test: (token: string) => boolean, slice: Slice): Steps<number[] | undefined> {
  let found: number[] | undefined;
  const n = text.length;
  const numberEnd = new RegExp(NUMBER_END);
  const valueStart = new RegExp(VALUE_START);
  let i = 0;
  while (i < n) {
    if (slice.over()) yield;
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      for (;;) {
        j = text.indexOf('"', j);
        if (j === -1) return found;
        let k = j - 1;
        while (text.charCodeAt(k) === 0x5c) {
          k--;
          if (slice.over()) yield;
        }
        if ((j - 1 - k) % 2 === 0) break;
        j++;
        if (slice.over()) yield;
      }
      i = j + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      numberEnd.lastIndex = i + 1;
      const j = numberEnd.exec(text) === null ? n : numberEnd.lastIndex - 1;
      if (test(text.slice(i, j))) (found ??= []).push(i, j);
      // A long token costs its length, in the regular expression engine and in `test`.
      if (slice.over((j - i) >> 4)) yield;
      i = j;
    } else {
      valueStart.lastIndex = i + 1;
      i = valueStart.exec(text) === null ? n : valueStart.lastIndex - 1;
    }
  }
  return found;
}

/** Puts the `RawNumber`s back in place of their markers (strings starting with `prefix`), without recursion, in steps. */
function* restoreSteps(root: unknown, prefix: string, raw: (index: string) => RawNumber, slice: Slice): Steps<unknown> {
  const isMarker = (v: unknown): v is string => typeof v === 'string' && v.charCodeAt(0) === 0 && v.startsWith(prefix);
  if (isMarker(root)) return raw(root.slice(prefix.length));
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i];
        if (isMarker(item)) node[i] = raw(item.slice(prefix.length));
        else if (typeof item === 'object' && item !== null) stack.push(item);
        if (slice.over()) yield;
      }
      continue;
    }
    const object = node as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const item = object[key];
      if (isMarker(item)) object[key] = raw(item.slice(prefix.length));
      else if (typeof item === 'object' && item !== null) stack.push(item);
      if (slice.over()) yield;
    }
  }
  return root;
}
