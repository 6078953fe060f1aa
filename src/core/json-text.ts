/**
 * JSON without rounding (docs/canonical-key.md, rule 4; docs/log-format.md, "Output"). Pure;
 * imports nothing of ours.
 *
 * `JSON.parse` turns every number into a double: `593322347340602809` comes back as
 * `593322347340602800`, `1.50` as `1.5`. Here a text is first scanned for numbers outside strings
 * (strings are skipped with `indexOf`, so the scan costs little next to the parse). When none of
 * them would change, `JSON.parse` reads the text as it is; almost every real line takes that path.
 * Otherwise each number that would change is swapped for a marker string, `JSON.parse` reads that
 * text, and the markers become `RawNumber`s holding the numbers' source text: the native parser
 * still does the work (lossless-json, a JavaScript parser, reads a typical log line several
 * times slower; it reads only texts that escape U+0000, where a marker could be forged).
 */
import { parse as parseLossless } from 'lossless-json';

/**
 * A JSON number kept as text: the source spelling after parsing, or the canonical spelling once
 * `canonicalNumber` has normalized it. `JSON.stringify` sees it as the nearest double (so a stray
 * stringify still writes a number), but `stringifyJson` writes its text.
 */
export class RawNumber {
  readonly text: string;
  /** The canonical form (or why there is none), when `parseJson` computed it while reading (see `canonicalNumber`). */
  #canonical: number | RawNumber | SyntaxError | undefined;
  constructor(text: string, canonical?: number | RawNumber | SyntaxError) {
    this.text = text;
    this.#canonical = canonical;
  }
  /** The canonical form computed while parsing (or the refusal of an exponent too long), if any. */
  get canonical(): number | RawNumber | SyntaxError | undefined {
    return this.#canonical;
  }
  toJSON(): number {
    sawRaw = true;
    return Number(this.text);
  }
}

/**
 * What must survive parsing: `'value'`, each number's exact decimal value (enough for keys: `1.0`
 * may become `1`); `'text'`, each number's spelling too (recorded outputs are replayed as written).
 */
export type Keep = 'value' | 'text';

/** Whether a double would spell the token otherwise; a token longer than any double's spelling (24 characters) always would. */
const spellingChanges = (token: string): boolean => token.length > 24 || String(Number(token)) !== token;
const valueChanges = (token: string): boolean => spellingChanges(token) && !roundTrips(token);

/**
 * Whether a text may hold a number token that a double spells otherwise, tested natively over the
 * whole text (strings included, so it may say yes for nothing). A number token of at most 15
 * significant digits is held exactly by a double and written back the same way unless it has an
 * exponent, a fraction ending in 0, is -0, or is below 1e-6 (six zeros after the point); one of 16
 * digits or more is a run of 16 digits, or of 17 digits and a point. Any of these sends the text to
 * the token scan; a text with none (almost every request) goes straight to `JSON.parse`.
 */
const MAY_CHANGE = /\d{16}|[\d.]{17}|\d[eE]|\.\d*0(?!\d)|-0(?![.\d])|\.0{6}/;

/** JSON text to a value, numbers that a double would change kept as `RawNumber`. Throws SyntaxError like JSON.parse. */
export function parseJson(text: string, keep: Keep): unknown {
  // In value mode each changed token's canonical form is computed here, once, and kept with its
  // RawNumber for `canonicalNumber`.
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
            // Not a number (JSON.parse reports it) or an exponent too long: kept as written, refused
            // where it is canonicalized, without reading it again.
            forms.push(error as SyntaxError);
            return true;
          }
          if (typeof form === 'number') return false;
          forms.push(form);
          return true;
        };
  const tokens = MAY_CHANGE.test(text) ? numbersWhere(text, changes) : undefined;
  if (tokens === undefined) return JSON.parse(text);
  // A text that escapes U+0000 could hold a string that looks like a marker: lossless-json reads it.
  if (text.includes('\\u0000')) return parseSlowly(text, keep === 'text' ? spellingChanges : valueChanges);
  // Each such number becomes the string "\u0000<index>" for the native parser, then a RawNumber
  // again. No string of the text itself can start with U+0000: JSON text cannot hold a raw control
  // character, and this one escapes none.
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < tokens.length; i += 2) {
    const start = tokens[i]!;
    const end = tokens[i + 1]!;
    // A token whose canonical form was computed is a number already; any other is checked here.
    if (!(forms[i >> 1] instanceof RawNumber) && !JSON_NUMBER.test(text.slice(start, end))) return JSON.parse(text);
    parts.push(text.slice(from, start), `"\\u0000${i >> 1}"`);
    from = end;
  }
  parts.push(text.slice(from));
  let value: unknown;
  try {
    value = JSON.parse(parts.join(''));
  } catch {
    // Report the error of the text as it was written.
    return JSON.parse(text);
  }
  const raw = (index: string): RawNumber => {
    const n = Number(index);
    return new RawNumber(text.slice(tokens[2 * n]!, tokens[2 * n + 1]!), forms[n]);
  };
  return restore(value, raw);
}

function parseSlowly(text: string, changes: (token: string) => boolean): unknown {
  try {
    return parseLossless(text, undefined, {
      parseNumber: (token) => (changes(token) ? new RawNumber(token) : Number(token)),
      // JSON.parse keeps the last of duplicate keys; so does this.
      onDuplicateKey: ({ newValue }) => newValue,
    });
  } catch (error) {
    // The native parser words syntax errors as users know them; it also reads what is too deep
    // for lossless-json's recursion, which is then reported as such.
    JSON.parse(text);
    throw new SyntaxError(`nested too deeply to read its numbers exactly (${(error as Error).message})`);
  }
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const isMarker = (v: unknown): v is string => typeof v === 'string' && v.charCodeAt(0) === 0;

/** Puts the `RawNumber`s back in place of their markers, without recursion (values may nest deep). */
function restore(root: unknown, raw: (index: string) => RawNumber): unknown {
  if (isMarker(root)) return raw(root.slice(1));
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const item: unknown = node[i];
        if (isMarker(item)) node[i] = raw(item.slice(1));
        else if (typeof item === 'object' && item !== null) stack.push(item);
      }
      continue;
    }
    const object = node as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const item = object[key];
      if (isMarker(item)) object[key] = raw(item.slice(1));
      else if (typeof item === 'object' && item !== null) stack.push(item);
    }
  }
  return root;
}

/** The first character that cannot be part of a number token; the first that may start a string or a number. */
const NUMBER_END = /[^0-9.eE+-]/g;
const VALUE_START = /["0-9-]/g;

/**
 * The [start, end) offsets of every number token outside strings that satisfies `test`, flat, or
 * undefined when there is none.
 * Malformed text gives whatever it gives: JSON.parse reports it.
 */
function numbersWhere(text: string, test: (token: string) => boolean): number[] | undefined {
  let found: number[] | undefined;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: jump to the quote that closes it (one preceded by an even run of backslashes).
      let j = i + 1;
      for (;;) {
        j = text.indexOf('"', j);
        if (j === -1) return found;
        let k = j - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j++;
      }
      i = j + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // To the end of the number, natively (a number may be four million digits long).
      NUMBER_END.lastIndex = i + 1;
      const j = NUMBER_END.exec(text) === null ? n : NUMBER_END.lastIndex - 1;
      if (test(text.slice(i, j))) (found ??= []).push(i, j);
      i = j;
    } else {
      // To the next string or number.
      VALUE_START.lastIndex = i + 1;
      i = VALUE_START.exec(text) === null ? n : VALUE_START.lastIndex - 1;
    }
  }
  return found;
}

let sawRaw = false;

/**
 * A value to compact JSON text, each `RawNumber` written as its text (`display`: canonical texts
 * in plain decimal, `plainDecimal`, for arguments shown to people and models). The native
 * stringify runs first; only when it met a `RawNumber` is the value written again here.
 */
export function stringifyJson(value: unknown, display = false): string {
  sawRaw = false;
  const fast = JSON.stringify(value);
  if (!sawRaw) return fast;
  return writeExact(value, display);
}

/**
 * `stringifyJson` with indentation (for people: `toolsim explain --json`): `JSON.stringify`'s
 * layout, each `RawNumber` written as its text.
 */
export function stringifyJsonIndented(value: unknown, indent: number, display = false): string {
  const raws: string[] = [];
  // Each marker carries a nonce of this call: no string of the value can pass for one.
  const nonce = Math.random().toString(36).slice(2);
  const text = JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, item: unknown) {
      const original = this[key];
      if (!(original instanceof RawNumber)) return item;
      raws.push(display ? plainDecimal(original.text) : original.text);
      return `\u0000raw:${nonce}:${raws.length - 1}`;
    },
    indent,
  );
  if (raws.length === 0) return text;
  const parts = text.split(`"\\u0000raw:${nonce}:`);
  let out = parts[0]!;
  for (const part of parts.slice(1)) {
    const end = part.indexOf('"');
    out += raws[Number(part.slice(0, end))]! + part.slice(end + 1);
  }
  return out;
}

/**
 * A RawNumber's text as people and models read numbers: the canonical `DIGITSeEXP` written out in
 * plain decimal (`59332234734060281e1` as `593322347340602810`, `15e-20` as `0.00000000000000000015`)
 * when that takes at most 40 more characters; the same exact value either way.
 */
export function plainDecimal(text: string): string {
  const m = /^(-?)(\d+)e(-?\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, digits, exp] = m as unknown as [string, string, string, string];
  if (exp.length > 3) return text;
  const e = Number(exp);
  if (e > 0) return e <= 40 ? `${sign}${digits}${'0'.repeat(e)}` : text;
  const point = digits.length + e;
  if (point > 0) return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  return -point <= 40 ? `${sign}0.${'0'.repeat(-point)}${digits}` : text;
}

function writeExact(value: unknown, display: boolean): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (value instanceof RawNumber) return display ? plainDecimal(value.text) : value.text;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (value[i] === undefined ? 'null' : writeExact(value[i], display));
    return `${out}]`;
  }
  let out = '{';
  let first = true;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined || typeof item === 'function') continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${writeExact(item, display)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * Significant digits an exponent may have. Past 15 a double still holds it exactly, so every
 * exponent is plain arithmetic (no BigInt, whose parsing is super-linear in the digits); a longer
 * one (`1e` and a million nines) means nothing a tool could take and is refused where a value is
 * canonicalized (a key), kept as written elsewhere.
 */
export const MAX_EXPONENT_DIGITS = 15;

/** A number token as sign, significant digits (no leading or trailing zeros) and exponent: value = ±digits × 10^exp. */
interface Decimal {
  negative: boolean;
  digits: string;
  exponent: number;
}

const ZERO: Decimal = { negative: false, digits: '', exponent: 0 };

/** A number token: sign, integer digits, fraction digits, exponent sign and digits (JSON's grammar: no leading zeros). */
const TOKEN = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?)(\d+))?$/;

/**
 * The decimal value of a number token, in time linear in its length (the regular expression engine
 * reads the digits): undefined when it is not a number, `'exponent'` when its exponent has more
 * than MAX_EXPONENT_DIGITS significant digits (and the value is not zero).
 */
function decimalOf(token: string): Decimal | 'exponent' | undefined {
  const m = TOKEN.exec(token);
  if (m === null) return undefined;
  const whole = m[3] === undefined ? m[2]! : m[2]! + m[3];
  let first = 0;
  while (first < whole.length && whole.charCodeAt(first) === 0x30) first++;
  // Zero has one value, whatever its sign or exponent.
  if (first === whole.length) return ZERO;
  let exponent = 0;
  const written = m[5];
  if (written !== undefined) {
    let significant = 0;
    while (significant < written.length - 1 && written.charCodeAt(significant) === 0x30) significant++;
    if (written.length - significant > MAX_EXPONENT_DIGITS) return 'exponent';
    exponent = Number(written.slice(significant)) * (m[4] === '-' ? -1 : 1);
  }
  let end = whole.length;
  while (whole.charCodeAt(end - 1) === 0x30) end--;
  // value = digits × 10^(exponent - fraction digits + trailing zeros dropped)
  return {
    negative: m[1] === '-',
    digits: whole.slice(first, end),
    exponent: exponent - (m[3]?.length ?? 0) + (whole.length - end),
  };
}

const sameDecimal = (a: Decimal, b: Decimal): boolean => a.negative === b.negative && a.digits === b.digits && a.exponent === b.exponent;

/** The decimal of a token already known to be a number (the double nearest it written by JavaScript, say). */
function decimalOfDouble(double: number): Decimal | undefined {
  const d = decimalOf(String(double));
  return typeof d === 'object' ? d : undefined;
}

/** Whether the double nearest `token` denotes exactly the same decimal value. */
function roundTrips(token: string): boolean {
  const double = Number(token);
  if (!Number.isFinite(double)) return false;
  const a = decimalOf(token);
  if (typeof a !== 'object') return false;
  const b = decimalOfDouble(double);
  return b !== undefined && sameDecimal(a, b);
}

/**
 * The canonical form of a number token: a double when the double holds its exact value (so the
 * canonical text is JavaScript's, as in key v1), else a `RawNumber` of `[-]DIGITS[eEXP]` with no
 * leading or trailing zeros. Equal decimal values give equal forms; `-0` is `0`. Linear in the
 * token's length; a `RawNumber` read by `parseJson(text, 'value')` had its form computed then.
 * Throws SyntaxError for what is not a number and for an exponent past MAX_EXPONENT_DIGITS.
 */
export function canonicalNumber(token: string | RawNumber): number | RawNumber {
  if (token instanceof RawNumber) {
    const known = token.canonical;
    if (known instanceof SyntaxError) throw known;
    return known ?? canonicalNumber(token.text);
  }
  const d = decimalOf(token);
  if (d === undefined) throw new SyntaxError(`not a JSON number: ${token.slice(0, 40)}`);
  if (d === 'exponent') {
    throw new SyntaxError(
      `a number's exponent has more than ${MAX_EXPONENT_DIGITS} digits: ${token.slice(0, 40)}${token.length > 40 ? '…' : ''}`,
    );
  }
  // JavaScript writes a double with at most 17 significant digits: a longer one cannot be one.
  const double = d.digits.length > 17 ? Number.NaN : Number(token);
  if (Number.isFinite(double)) {
    const back = decimalOfDouble(double);
    if (back !== undefined && sameDecimal(d, back)) return double === 0 ? 0 : double;
  }
  return new RawNumber(`${d.negative ? '-' : ''}${d.digits}${d.exponent === 0 ? '' : `e${d.exponent}`}`);
}
