/**
 * A string that holds a structured value written as text: JSON (tau-bench's answers are JSON text
 * in a string), or a Python literal (T-Eval's `{"text": "{'status': 0, 'ok': True}"}`). Pure.
 *
 * Only texts of an object or a list (`{...}`, `[...]`) are read. A number, a word, a date or an id
 * is text, however it parses: a zip code recorded as "10001" every time does not make "02139" (or
 * "SW1A 1AA") a wrong answer. Texts past EMBEDDED_CHARS are not read at all, so a guard or a
 * learner spends at most that much per string.
 */
import type { Json, JsonObject } from '../core/types.js';

/** Longest string read as the value it holds. */
export const EMBEDDED_CHARS = 1 << 20;

/** The value a string holds, when it is the text of an object or a list; else undefined. */
export function readEmbedded(text: string): Json | undefined {
  if (text.length === 0 || text.length > EMBEDDED_CHARS) return undefined;
  const trimmed = text.trim();
  const first = trimmed[0];
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(trimmed) as Json;
    } catch {
      return readPython(trimmed);
    }
  }
  return undefined;
}

/**
 * A Python literal of dicts, lists, tuples, strings, numbers, True, False and None (what `str()` of a
 * dict prints), or undefined. Strings are read with Python's common escapes.
 */
export function readPython(text: string): Json | undefined {
  const reader = new PythonReader(text);
  try {
    const value = reader.value(0);
    reader.space();
    return reader.at === text.length ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Nesting past this is not read (the learner and the guard stop deeper anyway). */
const MAX_NESTING = 64;

class PythonReader {
  at = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  space(): void {
    while (this.at < this.#text.length && /\s/.test(this.#text[this.at]!)) this.at++;
  }

  #fail(): never {
    throw new SyntaxError(`not a Python literal at ${this.at}`);
  }

  #expect(char: string): void {
    this.space();
    if (this.#text[this.at] !== char) this.#fail();
    this.at++;
  }

  value(depth: number): Json {
    if (depth > MAX_NESTING) this.#fail();
    this.space();
    const c = this.#text[this.at];
    if (c === '{') return this.#dict(depth);
    if (c === '[') return this.#list(depth, ']');
    if (c === '(') return this.#list(depth, ')');
    if (c === "'" || c === '"') return this.#string();
    for (const [word, value] of [
      ['True', true],
      ['False', false],
      ['None', null],
    ] as const) {
      if (this.#text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    const match = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(this.#text.slice(this.at, this.at + 64));
    if (!match) this.#fail();
    this.at += match[0].length;
    return Number(match[0]);
  }

  #dict(depth: number): JsonObject {
    this.at++;
    const out: JsonObject = {};
    this.space();
    if (this.#text[this.at] === '}') {
      this.at++;
      return out;
    }
    for (;;) {
      const key = this.value(depth + 1);
      this.#expect(':');
      const value = this.value(depth + 1);
      // Python keys may be numbers or tuples; JSON's are strings.
      Object.defineProperty(out, typeof key === 'string' ? key : JSON.stringify(key), {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.space();
      const c = this.#text[this.at++];
      if (c === '}') return out;
      if (c !== ',') this.#fail();
      this.space();
      if (this.#text[this.at] === '}') {
        this.at++;
        return out;
      }
    }
  }

  #list(depth: number, close: string): Json[] {
    this.at++;
    const out: Json[] = [];
    this.space();
    if (this.#text[this.at] === close) {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.space();
      const c = this.#text[this.at++];
      if (c === close) return out;
      if (c !== ',') this.#fail();
      this.space();
      if (this.#text[this.at] === close) {
        this.at++;
        return out;
      }
    }
  }

  #string(): string {
    const quote = this.#text[this.at++]!;
    let out = '';
    for (;;) {
      const c = this.#text[this.at++];
      if (c === undefined || c === '\n') this.#fail();
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.#text[this.at++];
      if (e === undefined) this.#fail();
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
      if (e in simple) out += simple[e];
      else if (e === 'x' || e === 'u') {
        const width = e === 'x' ? 2 : 4;
        const hex = this.#text.slice(this.at, this.at + width);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) this.#fail();
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.at += width;
      } else out += `\\${e}`;
    }
  }
}
