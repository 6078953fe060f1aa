import { describe, expect, it } from 'vitest';
import { callKey, canonicalJson, compareCodePoints, dropIgnored, parseArguments } from '../../src/core/canonical.js';

const keyOf = (args: unknown, server = 's', tool = 't'): string => {
  const parsed = parseArguments(args);
  if (!parsed.ok) throw new Error(parsed.reason);
  return callKey(server, tool, canonicalJson(parsed.value));
};

describe('canonical key: what counts as the same call', () => {
  it('ignores key order, recursively', () => {
    expect(keyOf({ a: 1, b: { x: 1, y: [1, 2] } })).toBe(keyOf({ b: { y: [1, 2], x: 1 }, a: 1 }));
  });

  it('accepts arguments as a JSON string of the same object', () => {
    expect(keyOf('{"b": 2, "a": "x"}')).toBe(keyOf({ a: 'x', b: 2 }));
  });

  it('compares strings after NFC normalization, keys included', () => {
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    expect(keyOf({ q: composed })).toBe(keyOf({ q: decomposed }));
    expect(keyOf({ [composed]: 1 })).toBe(keyOf({ [decomposed]: 1 }));
  });

  it('treats 1, 1.0 and 1e0 as one number', () => {
    expect(keyOf('{"n": 1}')).toBe(keyOf('{"n": 1.0}'));
    expect(keyOf('{"n": 1}')).toBe(keyOf('{"n": 1e0}'));
    expect(keyOf('{"n": 0}')).toBe(keyOf('{"n": -0}'));
  });

  it('follows the contract formula exactly', async () => {
    const { createHash } = await import('node:crypto');
    const expected = createHash('sha256').update('toolsim-key-v2\0"whois"\0"whois_lookup"\0{"domain":"amazon.com"}').digest('hex');
    expect(keyOf({ domain: 'amazon.com' }, 'whois', 'whois_lookup')).toBe(expected);
  });
});

describe('canonical key: every real difference is another key', () => {
  const differs = (a: unknown, b: unknown): void => expect(keyOf(a)).not.toBe(keyOf(b));

  it('"1" vs 1', () => differs({ n: '1' }, { n: 1 }));
  it('null vs absent', () => differs({ a: null }, {}));
  it('array order', () => differs({ a: [1, 2] }, { a: [2, 1] }));
  it('case', () => differs({ q: 'Paris' }, { q: 'paris' }));
  it('whitespace inside strings', () => {
    differs({ q: 'a b' }, { q: 'a  b' });
    differs({ q: 'ab' }, { q: ' ab' });
  });
  it('true vs "true", [] vs {}', () => {
    differs({ a: true }, { a: 'true' });
    differs({ a: [] }, { a: {} });
  });
  it('server and tool', () => {
    expect(keyOf({}, 'a', 'b')).not.toBe(keyOf({}, 'b', 'a'));
    expect(callKey('ab', 'c', '{}')).not.toBe(callKey('a', 'bc', '{}'));
    // Names are JSON strings in the key, so a NUL inside one cannot move a field boundary.
    expect(callKey('a\0b', 'c', '{}')).not.toBe(callKey('a', 'b\0c', '{}'));
    expect(callKey('a', 'b', '\0{}')).not.toBe(callKey('a', 'b\0', '{}'));
  });
  it('nesting that looks alike when flattened', () => differs({ a: { b: 1 } }, { 'a.b': 1 }));
});

describe('canonical JSON', () => {
  it('sorts keys by code point, not by UTF-16 unit or integer-likeness', () => {
    const parsed = parseArguments({ '\u{1F600}': 1, '\uFF5E': 2, '10': 3, '9': 4, b: 5, B: 6 });
    expect(parsed.ok && canonicalJson(parsed.value)).toBe('{"10":3,"9":4,"B":6,"b":5,"\uFF5E":2,"\u{1F600}":1}');
    expect(compareCodePoints('\u{1F600}', '\uFF5E')).toBeGreaterThan(0);
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
  });

  it('keeps a key named __proto__ as data', () => {
    const parsed = parseArguments('{"__proto__": {"polluted": true}}');
    expect(parsed.ok && canonicalJson(parsed.value)).toBe('{"__proto__":{"polluted":true}}');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses what is not an object of JSON values, naming the problem', () => {
    expect(parseArguments([1])).toEqual({ ok: false, reason: 'arguments must be an object, got an array' });
    expect(parseArguments(null)).toEqual({ ok: false, reason: 'arguments must be an object, got null' });
    expect(parseArguments('"x"')).toEqual({ ok: false, reason: 'arguments must be an object, got a string' });
    expect(parseArguments('{oops')).toMatchObject({ ok: false, reason: expect.stringContaining('not JSON') });
    let deep: unknown = {};
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    expect(parseArguments(deep)).toMatchObject({ ok: false, reason: expect.stringContaining('nested deeper') });
  });

  it('refuses two keys that become one under NFC', () => {
    expect(parseArguments({ 'caf\u00e9': 1, 'cafe\u0301': 2 })).toMatchObject({ ok: false, reason: expect.stringContaining('NFC') });
  });

  it('drops ignored top-level arguments without touching the input', () => {
    const args = { q: 'x', api_key: 'secret' };
    expect(dropIgnored(args, new Set(['api_key']))).toEqual({ q: 'x' });
    expect(args).toEqual({ q: 'x', api_key: 'secret' });
  });
});
