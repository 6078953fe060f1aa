/**
 * Does a served output equal the expected one? Both are compared as JSON values (key order and
 * number spelling do not matter). Many tools return JSON serialized into a string (tau-bench's
 * do, written by Python with its own spacing), so a string holding a JSON object or array is
 * compared by the value it holds: `"{\"a\": 1}"`, `"{\"a\":1}"` and `{"a": 1}` are one answer.
 * Numbers compare by exact decimal value, as in the key: two 64-bit ids are never one answer.
 */
import { canonicalNumber, parseJson, RawNumber } from '../core/json-text.js';

export function sameOutput(expectedJson: string, servedJson: string): boolean {
  if (expectedJson === servedJson) return true;
  return jsonEqual(unwrap(parse(expectedJson)), unwrap(parse(servedJson)));
}

function parse(json: string): unknown {
  try {
    return parseJson(json, 'value');
  } catch {
    // Not JSON at all (cannot come from our own serializers); compare it as text.
    return json;
  }
}

/** A string that holds a JSON object or array stands for that value; any other string is itself. */
function unwrap(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (!(text.startsWith('{') || text.startsWith('['))) return value;
  try {
    return parseJson(text, 'value');
  } catch {
    return value;
  }
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof RawNumber || b instanceof RawNumber) {
    return a instanceof RawNumber && b instanceof RawNumber && exactText(a) === exactText(b);
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  return keys.every((key) => Object.hasOwn(y, key) && jsonEqual(x[key], y[key]));
}

/** The canonical text of a number no double holds (`canonicalNumber` keeps such numbers as text). */
function exactText(n: RawNumber): string {
  const canonical = canonicalNumber(n.text);
  return typeof canonical === 'number' ? String(canonical) : canonical.text;
}
