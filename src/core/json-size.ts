/**
 * How big a JSON text is, read before it is parsed: its nesting depth and its entries (the keys of
 * every object and the items of every array, all levels together). Parsing and then walking a body
 * of 200,000 keys holds the event loop for a second; counting them in one pass over the text costs
 * a few milliseconds per MiB, so a body past the limits is refused before any per-key work. Pure;
 * imports nothing of ours.
 *
 * Malformed text gives whatever it gives (the parser reports it); on valid JSON the counts are exact.
 */

/** Keys and array items of one request body, all levels together, unless `--max-body-keys` says otherwise. */
export const DEFAULT_MAX_KEYS = 10_000;

export interface JsonLimits {
  /** Nesting of arrays and objects allowed. */
  readonly depth: number;
  /** Keys and array items allowed, all levels together. */
  readonly entries: number;
}

/** What was past its limit, or undefined when the text is within both. */
export type JsonExcess = { kind: 'depth' } | { kind: 'entries'; atLeast: number };

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** One pass over `text`; stops at the first limit passed. Strings are skipped with indexOf. */
export function jsonExcess(text: string, limits: JsonLimits): JsonExcess | undefined {
  // Every entry takes at least one character, every level one bracket: a text no longer than the
  // entry limit, with no more brackets than the depth limit (counted natively, strings included),
  // is within both without a pass over its structure.
  if (text.length <= limits.entries && fewerBrackets(text, limits.depth)) return undefined;
  const measured = measureJson(text, limits);
  return typeof measured === 'number' ? undefined : measured;
}

/** Whether `text` holds at most `most` opening brackets (`[` and `{`, strings included). */
function fewerBrackets(text: string, most: number): boolean {
  let count = 0;
  for (let at = text.indexOf('{'); at >= 0; at = text.indexOf('{', at + 1)) if (++count > most) return false;
  for (let at = text.indexOf('['); at >= 0; at = text.indexOf('[', at + 1)) if (++count > most) return false;
  return true;
}

/** When a reader in steps yields (`Slice` in json-steps.ts); `WHOLE` never does. */
export interface SliceClock {
  over(): boolean;
}
export const WHOLE: SliceClock = { over: () => false };

/** The entries of `text` (keys and array items, all levels together), or what was past its limit first. */
export function measureJson(text: string, limits: JsonLimits): number | JsonExcess {
  const steps = measureJsonSteps(text, limits, WHOLE);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * `measureJson` as a reader in steps: it yields whenever `slice` says its time is up, so a large
 * body is measured among other work (src/http/large-body.ts). The one walk both readers run.
 */
export function* measureJsonSteps(text: string, limits: JsonLimits, slice: SliceClock): Generator<void, number | JsonExcess, void> {
  const n = text.length;
  // Whether each open level is an array (1) or an object (0).
  const arrays = new Uint8Array(limits.depth + 2);
  let depth = 0;
  let entries = 0;
  // From one structural character to the next with the regular expression engine: runs of digits,
  // letters and spaces (a number of four million digits) are skipped natively, not a character at a time.
  const structural = /["[\]{}:,]/g;
  for (let i = 0; i < n; i++) {
    if (slice.over()) yield;
    structural.lastIndex = i;
    if (structural.exec(text) === null) break;
    i = structural.lastIndex - 1;
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // To the closing quote: one not preceded by an odd number of backslashes.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return entries; // unterminated: the parser will say so
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) {
          backslashes++;
          if (slice.over()) yield;
        }
        i = end;
        if (backslashes % 2 === 0) break;
        if (slice.over()) yield;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.depth) return { kind: 'depth' };
      arrays[depth] = c === 0x5b ? 1 : 0;
      if (c === 0x5b) {
        // An array's first item, unless it is empty.
        let j = i + 1;
        while (j < n && isSpace(text.charCodeAt(j))) {
          j++;
          if (slice.over()) yield;
        }
        if (j < n && text.charCodeAt(j) !== 0x5d) entries++;
      }
    } else if (c === 0x5d || c === 0x7d) {
      if (depth > 0) depth--;
    } else if (c === 0x3a || (c === 0x2c && arrays[depth] === 1 && depth > 0)) {
      // A key (each is followed by a colon), or a further array item.
      entries++;
    } else {
      continue;
    }
    if (entries > limits.entries) return { kind: 'entries', atLeast: entries };
  }
  return entries;
}
