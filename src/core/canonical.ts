/**
 * The canonical form of a call's arguments and its key (docs/canonical-key.md). Pure; imports nothing of ours.
 *
 * Equal under the key: key order, numbers of one decimal value (`1` / `1.0` / `1e0` / `10e-1`, `-0` / `0`),
 * NFC-equivalent strings, arguments given as a JSON string. Different: everything else (types, null vs
 * absent, array order, case, spaces, `593322347340602809` vs `593322347340602810`).
 *
 * A number whose exact value no double holds stays a `RawNumber` (its canonical text) inside the
 * normalized value; `canonicalJson` and `stringifyJson` write it as it is, so prompts, neighbours
 * and explain show it exactly, and similarity tells such numbers apart.
 */
import { hash } from 'node:crypto';
import { type JsonExcess, jsonExcess } from './json-size.js';
import { jsonExcessSteps, parseJsonSteps, type Slice, type Steps } from './json-steps.js';
import { canonicalNumber, parseJson, plainDecimal, RawNumber } from './json-text.js';
import type { Json, JsonObject } from './types.js';

export const KEY_VERSION = 'toolsim-key-v2';
/** Deeper arguments are refused: nothing real nests this far, and recursion must stay bounded. */
export const MAX_DEPTH = 64;

/** `exact` is true when the value holds a `RawNumber` (a number no double holds exactly). */
export type Parsed<T> = { ok: true; value: T; exact?: boolean } | { ok: false; reason: string; tooLarge?: true };

/** Orders strings by Unicode code point (JS `<` orders UTF-16 code units, which differs past U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    // A surrogate stands for a code point above U+FFFF, so it sorts after U+E000..U+FFFF.
    if (xSurrogate !== ySurrogate && (x >= 0xe000 || y >= 0xe000)) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Returns a copy of `value` with every string (keys included) NFC-normalized, `-0` as `0` and every
 * `RawNumber` in its canonical form, in objects without a prototype so that a key named `__proto__`
 * is only ever data.
 */
export function normalize(value: unknown, depth = 0): Parsed<Json> {
  const seen = { exact: false };
  const out = normalizeValue(value, depth, seen);
  if (out.ok && seen.exact) out.exact = true;
  return out;
}

function normalizeValue(value: unknown, depth: number, seen: { exact: boolean }): Parsed<Json> {
  if (depth > MAX_DEPTH) return { ok: false, reason: `nested deeper than ${MAX_DEPTH} levels` };
  switch (typeof value) {
    case 'string':
      return { ok: true, value: value.normalize('NFC') };
    case 'number':
      if (!Number.isFinite(value)) return { ok: false, reason: 'numbers must be finite' };
      return { ok: true, value: value === 0 ? 0 : value };
    case 'boolean':
      return { ok: true, value };
    case 'object': {
      if (value === null) return { ok: true, value: null };
      if (value instanceof RawNumber) {
        let number: number | RawNumber;
        try {
          number = canonicalNumber(value);
        } catch (error) {
          return { ok: false, reason: (error as Error).message };
        }
        if (typeof number === 'number') return { ok: true, value: number };
        seen.exact = true;
        return { ok: true, value: number as unknown as Json };
      }
      if (Array.isArray(value)) {
        const out: Json[] = new Array<Json>(value.length);
        for (let i = 0; i < value.length; i++) {
          const item = normalizeValue(value[i], depth + 1, seen);
          if (!item.ok) return item;
          out[i] = item.value;
        }
        return { ok: true, value: out };
      }
      const out = Object.create(null) as JsonObject;
      for (const rawKey of Object.keys(value)) {
        const key = rawKey.normalize('NFC');
        if (Object.hasOwn(out, key)) {
          const shown = key.length > 64 ? `${JSON.stringify(key.slice(0, 64))}… (${key.length} characters)` : JSON.stringify(key);
          return { ok: false, reason: `two keys are the same string after NFC normalization: ${shown}` };
        }
        const item = normalizeValue((value as Record<string, unknown>)[rawKey], depth + 1, seen);
        if (!item.ok) return item;
        out[key] = item.value;
      }
      return { ok: true, value: out };
    }
    default:
      return { ok: false, reason: `${typeof value} is not a JSON value` };
  }
}

/**
 * Arguments given as an object or as a JSON string of one, normalized. A string is refused
 * (`tooLarge`) before it is parsed when it holds more than `maxKeys` keys and array items, all
 * levels together: a body's own keys are counted by the body parser, a string's only here.
 */
export function parseArguments(input: unknown, maxKeys = Number.POSITIVE_INFINITY): Parsed<JsonObject> {
  let value = input;
  if (typeof input === 'string') {
    if (maxKeys !== Number.POSITIVE_INFINITY) {
      const refused = excessRefused(jsonExcess(input, { depth: MAX_DEPTH + 1, entries: maxKeys }), maxKeys);
      if (refused) return refused;
    }
    try {
      value = parseJson(input, 'value');
    } catch (error) {
      return notJson(error);
    }
  }
  return argumentsOf(value);
}

/**
 * `parseArguments` in steps (src/core/json-steps.ts): a long JSON string of arguments is counted
 * and read a slice at a time, with the same results.
 */
export function* parseArgumentsSteps(input: unknown, maxKeys: number, slice: Slice): Steps<Parsed<JsonObject>> {
  let value = input;
  if (typeof input === 'string') {
    if (maxKeys !== Number.POSITIVE_INFINITY) {
      const refused = excessRefused(yield* jsonExcessSteps(input, { depth: MAX_DEPTH + 1, entries: maxKeys }, slice), maxKeys);
      if (refused) return refused;
    }
    try {
      value = yield* parseJsonSteps(input, 'value', slice);
    } catch (error) {
      return notJson(error);
    }
    yield;
  }
  return argumentsOf(value);
}

function excessRefused(excess: JsonExcess | undefined, maxKeys: number): Parsed<JsonObject> | undefined {
  if (excess?.kind === 'depth') return { ok: false, reason: `arguments: nested deeper than ${MAX_DEPTH} levels` };
  if (excess)
    return {
      ok: false,
      tooLarge: true,
      reason: `arguments is a JSON string of more than ${maxKeys} keys and array items (--max-body-keys); it was not read`,
    };
  return undefined;
}

const notJson = (error: unknown): Parsed<JsonObject> => ({
  ok: false,
  reason: `arguments is a string but not JSON (${(error as Error).message})`,
});

/** Arguments once read: an object, normalized. */
function argumentsOf(value: unknown): Parsed<JsonObject> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    return { ok: false, reason: `arguments must be an object, got ${kind}` };
  }
  const normalized = normalize(value);
  if (!normalized.ok) return { ok: false, reason: `arguments: ${normalized.reason}` };
  return normalized as Parsed<JsonObject>;
}

/** Drops top-level arguments named by `--ignore-arg`. Returns the same object when none apply. */
export function dropIgnored(args: JsonObject, ignored: ReadonlySet<string>): JsonObject {
  if (ignored.size === 0) return args;
  let out: JsonObject | undefined;
  for (const name of ignored) {
    if (Object.hasOwn(args, name)) {
      out ??= Object.assign(Object.create(null) as JsonObject, args);
      delete out[name];
    }
  }
  return out ?? args;
}

/**
 * Canonical JSON of a normalized value: keys sorted by code point, no whitespace. The same text as
 * fast-json-stable-stringify with a code-point comparator (a test holds them equal), written out
 * because that package allocates two objects per key comparison, on the hot path of every call.
 */
export function canonicalJson(value: Json, display = false): string {
  if (typeof value !== 'object') return typeof value === 'number' ? String(value) : JSON.stringify(value);
  if (value === null) return 'null';
  if (value instanceof RawNumber) return display ? plainDecimal(value.text) : value.text;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]!, display);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort(compareCodePoints);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += `${(i === 0 ? '' : ',') + JSON.stringify(key)}:${canonicalJson(value[key]!, display)}`;
  }
  return `${out}}`;
}

/**
 * key = SHA-256 over `toolsim-key-v2 \0 JSON(server) \0 JSON(tool) \0 canonical JSON`, as hex. The
 * names are written as JSON strings, which escape NUL: no choice of names can move a field boundary
 * (key v1 joined the raw names, so server "a\0b" + tool "c" and server "a" + tool "b\0c" shared a key).
 */
export function callKey(server: string, tool: string, canonical: string): string {
  return hash('sha256', `${KEY_VERSION}\0${JSON.stringify(server)}\0${JSON.stringify(tool)}\0${canonical}`, 'hex');
}

/** Server and tool names are strings too, so they are compared after NFC like any other. */
export function normalizeName(name: string): string {
  return name.normalize('NFC');
}
