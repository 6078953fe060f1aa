/**
 * canonicalJson is hand-written for speed; its text must stay what fast-json-stable-stringify with a
 * code-point comparator produced, or every recorded key would change.
 */
import { readFileSync } from 'node:fs';
import stringify from 'fast-json-stable-stringify';
import { describe, expect, it } from 'vitest';
import { canonicalJson, compareCodePoints, normalize, parseArguments } from '../../src/core/canonical.js';
import type { Json } from '../../src/core/types.js';
import { API_BANK, TAU_BENCH } from '../support/paths.js';

const reference = (value: Json): string =>
  (stringify as unknown as (v: Json, o: { cmp: (a: { key: string }, b: { key: string }) => number }) => string)(value, {
    cmp: (a, b) => compareCodePoints(a.key, b.key),
  });

function normalized(value: unknown): Json {
  const result = normalize(value);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

describe('canonicalJson', () => {
  it('matches the reference on every sample call', () => {
    let checked = 0;
    for (const file of [TAU_BENCH, API_BANK]) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as { arguments?: unknown; output?: unknown };
        if (record.arguments === undefined) continue;
        const args = parseArguments(record.arguments);
        if (!args.ok) continue;
        expect(canonicalJson(args.value)).toBe(reference(args.value));
        const output = normalized(record.output ?? null);
        expect(canonicalJson(output)).toBe(reference(output));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(2000);
  });

  it('matches the reference on awkward values', () => {
    const values: unknown[] = [
      {},
      [],
      null,
      true,
      false,
      0,
      -0,
      1e21,
      1.5e-7,
      -3.25,
      'a"b\\c\n\u2028',
      '\ud83d\ude00',
      { b: 1, a: [3, { d: null, c: 'x' }], '': 0 },
      { '10': 1, '9': 2, '1': 3, a: 4, A: 5 },
      { '\uffff': 1, '\ud83d\ude00': 2, '\ue000': 3, z: 4 },
      { nested: [[[]], [{}], [null, 1, 'two', false]] },
      JSON.parse('{"__proto__": {"x": 1}, "constructor": 2}'),
      { 'e\u0301': 'caf\u00e9' },
    ];
    for (const value of values) {
      const n = normalized(value);
      expect(canonicalJson(n)).toBe(reference(n));
    }
  });
});
