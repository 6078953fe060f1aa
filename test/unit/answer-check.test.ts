import { describe, expect, it } from 'vitest';
import { checkAnswer, jsonType, learnShape, MIN_LIMIT, type Observation } from '../support/units.js';

const seen = (...outputs: unknown[]): Observation[] => outputs.map((o) => ({ outputJson: JSON.stringify(o), isError: false }));

describe('the improvised answer check', () => {
  it('accepts the JSON type of the recorded outputs and serializes it', () => {
    expect(checkAnswer({ a: 1 }, false, seen({ b: 2 }))).toEqual({ ok: true, outputJson: '{"a":1}', isError: false });
    expect(checkAnswer('text', undefined, seen('other', 3))).toMatchObject({ ok: true, isError: false });
  });

  it('refuses another type, naming both; an error may be a plain message', () => {
    expect(checkAnswer([1], false, seen({ b: 2 }))).toEqual({
      ok: false,
      reason: 'the output is an array, but the recorded outputs are an object',
      misfits: [{ reason: 'wrong_kind', text: 'the output is an array, but the recorded outputs are an object' }],
    });
    expect(checkAnswer('not found', true, seen({ b: 2 }))).toMatchObject({ ok: true, isError: true });
    expect(checkAnswer(null, false, seen(1, 'x'))).toMatchObject({
      ok: false,
      reason: 'the output is null, but the recorded outputs are a number or a string',
    });
  });

  it('refuses a missing output and a non-boolean is_error', () => {
    expect(checkAnswer(undefined, false, [])).toMatchObject({ ok: false, reason: 'the respond input has no "output"' });
    expect(checkAnswer(1, 'yes', [])).toMatchObject({ ok: false, reason: '"is_error" must be a boolean' });
  });

  it('bounds the size at four times the largest recording, never under MIN_LIMIT', () => {
    const big = 'x'.repeat(MIN_LIMIT - 2); // 16384 bytes of JSON with its quotes
    expect(checkAnswer(big, false, seen('s')).ok).toBe(true);
    expect(checkAnswer(`${big}x`, false, seen('s'))).toMatchObject({ ok: false, reason: expect.stringMatching(/over the limit of 16384/) });
    const recorded = 'r'.repeat(10_000);
    expect(checkAnswer('y'.repeat(39_000), false, seen(recorded)).ok).toBe(true);
    expect(checkAnswer('y'.repeat(41_000), false, seen(recorded)).ok).toBe(false);
  });

  it('holds the answer to the guide (declared schema or learnt shape), with each misfit and its reason', () => {
    const shape = learnShape([{ output: { a: 1, b: 'x' }, isError: false }]);
    expect(checkAnswer({ a: 2, b: 'y' }, false, seen({ a: 1, b: 'x' }), { shape })).toMatchObject({ ok: true });
    expect(checkAnswer({ a: 'two' }, false, seen({ a: 1, b: 'x' }), { shape })).toEqual({
      ok: false,
      reason: '$ has no key "b", which every recorded answer has there; $.a is a string, but the recorded answers have a number there',
      misfits: [
        { reason: 'missing_key', text: '$ has no key "b", which every recorded answer has there' },
        { reason: 'wrong_kind', text: '$.a is a string, but the recorded answers have a number there' },
      ],
    });
  });

  it('names JSON types', () => {
    expect([null, true, 1, 's', [], {}].map((v) => jsonType(v as never))).toEqual([
      'null',
      'boolean',
      'number',
      'string',
      'array',
      'object',
    ]);
  });
});
