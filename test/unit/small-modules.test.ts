/** The exact tier's LRU accounting, replay's output comparison, and transient-failure recognition. */
import { describe, expect, it } from 'vitest';
import {
  ANSWER_ENTRY_BYTES,
  AnswerLru,
  AnswerMemory,
  MISS_ENTRY_BYTES,
  parseJson,
  plainDecimal,
  sameOutput,
  stringBytes,
  stringifyJsonIndented,
  transientMatcher,
} from '../support/units.js';

describe('AnswerLru', () => {
  const notRecorded = { miss: true };
  const cache = (maxEntries: number, maxBytes: number) =>
    new AnswerLru<{ text: string } | typeof notRecorded>({
      memory: new AnswerMemory({ maxEntries, maxBytes }),
      prefix: '',
      bytesOf: (v) => ('text' in v ? stringBytes(v.text) : 0),
      notRecorded,
    });

  it('counts an answer as its text as V8 holds it plus a fixed overhead, and a miss as less', () => {
    const c = cache(10, 1e9);
    c.set('a', { text: 'abc' });
    expect(c.bytes).toBe(ANSWER_ENTRY_BYTES + 3);
    c.set('b', { text: 'é€' });
    expect(c.bytes).toBe(ANSWER_ENTRY_BYTES + 3 + ANSWER_ENTRY_BYTES + 4);
    c.set('m', notRecorded);
    expect(c.bytes).toBe(2 * ANSWER_ENTRY_BYTES + 7 + MISS_ENTRY_BYTES);
  });

  it('evicts the least recently used entry past its byte bound', () => {
    const c = cache(100, 3 * (ANSWER_ENTRY_BYTES + 10));
    for (const key of ['a', 'b', 'c']) c.set(key, { text: '0123456789' });
    c.get('a');
    c.set('d', { text: '0123456789' });
    expect([c.has('a'), c.has('b'), c.has('c'), c.has('d')]).toEqual([true, false, true, true]);
    expect(c.size).toBe(3);
  });

  it('Latin-1 strings count one byte a character, others two', () => {
    expect(stringBytes('ÿ'.repeat(4))).toBe(4);
    expect(stringBytes('Ā')).toBe(2);
  });
});

describe('sameOutput', () => {
  it('compares JSON values, and JSON held in a string by its value', () => {
    expect(sameOutput('{"a": 1, "b": [2]}', '{"b":[2],"a":1}')).toBe(true);
    expect(sameOutput(JSON.stringify('{"a": 1}'), '{"a":1}')).toBe(true);
    expect(sameOutput('{"a": 1}', '{"a": 2}')).toBe(false);
  });

  it('numbers by exact decimal value: spelling does not matter, 64-bit ids do', () => {
    expect(sameOutput('{"n": 1.0}', '{"n": 1}')).toBe(true);
    expect(sameOutput('{"id": 9007199254740993}', '{"id": 9007199254740992}')).toBe(false);
  });
});

describe('transientMatcher', () => {
  it('recognizes infrastructure failures, not real tool errors, and takes extra patterns', () => {
    const matcher = transientMatcher(['quota exhausted']);
    // A short string recorded as the tool's answer (docs/log-format.md, "Recorded failures").
    const isTransient = (text: string): boolean => matcher({ text, isString: true, isError: false });
    expect(isTransient("HTTPSConnectionPool(host='api.example.com', port=443): Max retries exceeded")).toBe(true);
    expect(isTransient('Error: user not found')).toBe(false);
    expect(isTransient('QUOTA EXHAUSTED for today')).toBe(true);
    // Inside a successful JSON output it is content; in an error output it is the failure.
    expect(matcher({ text: '{"note":"quota exhausted"}', isString: false, isError: false })).toBe(false);
    expect(matcher({ text: '{"note":"quota exhausted"}', isString: false, isError: true })).toBe(true);
  });
});

describe('exact numbers for people', () => {
  it('writes canonical RawNumbers in plain decimal, and indented JSON with every digit', () => {
    expect(plainDecimal('59332234734060281e1')).toBe('593322347340602810');
    expect(plainDecimal('15e-20')).toBe('0.00000000000000000015');
    expect(plainDecimal('-123e-2')).toBe('-1.23');
    expect(plainDecimal('1e400')).toBe('1e400');
    const value = parseJson('{"id": 593322347340602811, "big": [1e400], "s": "\\u0000raw:0"}', 'value');
    expect(stringifyJsonIndented(value, 2)).toBe('{\n  "id": 593322347340602811,\n  "big": [\n    1e400\n  ],\n  "s": "\\u0000raw:0"\n}');
  });
});
