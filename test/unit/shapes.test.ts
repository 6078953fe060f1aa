/** Output shapes learnt from answers, and the guard, without a server (src/shapes/). */
import { describe, expect, it } from 'vitest';
import {
  compileSchema,
  disagreements,
  EMBEDDED_CHARS,
  type Json,
  learnFromStored,
  learnShape,
  MAX_DEPTH,
  MAX_MISFITS,
  MAX_NODES,
  MISFIT_CHARS,
  misfits,
  type OutputShape,
  promptShape,
  readEmbedded,
  readPython,
  shapeJson,
  shapeSchema,
} from '../support/units.js';

const learn = (...outputs: Json[]): OutputShape => learnShape(outputs.map((output) => ({ output, isError: false })));
const misfitsOf = (shape: OutputShape, output: Json, isError = false): string[] => misfits({ shape }, { output, isError });

describe('learnt shapes', () => {
  const shape = learn(
    {
      id: 'a1',
      total: 10.5,
      status: 'paid',
      items: [
        { sku: 'x', qty: 1 },
        { sku: 'y', qty: 2, gift: true },
      ],
    },
    { id: 'a2', total: 3, status: 'open', items: [], note: 'leave at door' },
    { id: 'a3', total: 7, status: 'open', items: [{ sku: 'z', qty: 5 }], note: null },
  );

  it('lets the recorded answers and answers like them through, optional keys left out and new keys added', () => {
    expect(misfitsOf(shape, { id: 'a4', total: 1, status: 'paid', items: [{ sku: 'q', qty: 9 }] })).toEqual([]);
    expect(misfitsOf(shape, { id: 'a4', total: 1, status: 'paid', items: [], extra: { any: 'thing' } })).toEqual([]);
    // A key recorded as a string and as null takes either.
    expect(misfitsOf(shape, { id: 'a4', total: 1, status: 'paid', items: [], note: null })).toEqual([]);
  });

  it('refuses a missing required key, a value of a kind never recorded there, and list items missing a key', () => {
    expect(misfitsOf(shape, { total: 1, status: 'paid', items: [] })).toEqual(['$ has no key "id", which every recorded answer has there']);
    expect(misfitsOf(shape, { id: 'a4', total: '1', status: 'paid', items: [] })).toEqual([
      '$.total is a string, but the recorded answers have a number there',
    ]);
    expect(misfitsOf(shape, { id: 'a4', total: 1, status: 'paid', items: [{ qty: 1 }, { qty: 2 }] })).toEqual([
      '$.items[0] has no key "sku", which every recorded item has there',
      '$.items[1] has no key "sku", which every recorded item has there',
    ]);
    expect(misfitsOf(shape, [{ id: 'a4' }])).toEqual(['$ is a list, but the recorded answers have an object there']);
  });

  it('keeps successes and errors apart; an error may always be a plain message', () => {
    const both = learnShape([
      { output: { ok: true, rows: [1, 2] }, isError: false },
      { output: { code: 404, message: 'not found' }, isError: true },
    ]);
    expect(misfitsOf(both, { ok: true, rows: [] })).toEqual([]);
    expect(misfitsOf(both, { code: 500, message: 'boom' }, true)).toEqual([]);
    expect(misfitsOf(both, 'Error: user not found', true)).toEqual([]);
    expect(misfitsOf(both, { message: 'boom' }, true)).toEqual(['$ has no key "code", which every recorded answer has there']);
    // A success that looks like the recorded errors is not a success.
    expect(misfitsOf(both, { code: 500, message: 'boom' })).toHaveLength(2);
    // No recorded error: nothing to hold an error to.
    expect(misfitsOf(learn({ ok: true }), { anything: 1 }, true)).toEqual([]);
  });

  it('reads JSON text inside strings where every recording holds some (tau-bench), and Python literals (T-Eval)', () => {
    const tau = learn(JSON.stringify({ user_id: 'u1', orders: ['#1'] }), JSON.stringify({ user_id: 'u2', orders: [] }));
    expect(misfitsOf(tau, JSON.stringify({ user_id: 'u3', orders: ['#9'] }))).toEqual([]);
    expect(misfitsOf(tau, JSON.stringify({ orders: ['#9'] }))).toEqual([
      'the JSON text of the answer has no key "user_id", which every recorded answer has there',
    ]);
    expect(misfitsOf(tau, 'user u3 has orders #9')).toEqual(['$ is plain text, but every recorded answer holds JSON text there']);
    expect(misfitsOf(tau, { user_id: 'u3', orders: [] })).toEqual([
      '$ is an object, but the recorded answers have a string there, holding the object as JSON text',
    ]);
    const teval = learn({ text: "{'status': 0, 'ok': True, 'name': None}" }, { text: "{'status': 1, 'ok': False, 'name': 'x'}" });
    expect(misfitsOf(teval, { text: "{'status': 2, 'ok': True, 'name': 'y'}" })).toEqual([]);
    expect(misfitsOf(teval, { text: "{'ok': True, 'name': None}" })).toEqual([
      'the JSON text of $.text has no key "status", which every recorded answer has there',
    ]);
    expect(misfitsOf(teval, { text: "{'status': 'two', 'ok': True, 'name': 'z'}" })).toEqual([
      '$.status in the JSON text of $.text is a string, but the recorded answers have a number there',
    ]);
    // Where some recorded strings are plain text, strings are plain text.
    const mixed = learn(JSON.stringify({ a: 1 }), 'Transfer successful');
    expect(misfitsOf(mixed, 'anything at all')).toEqual([]);
    expect(mixed.success?.text).toBeUndefined();
  });

  it('allows each recorded shape where the recordings disagree, and says so', () => {
    const two = learn(
      { temperature: 21, unit: 'C', city: 'Paris' },
      { temperature: 25, unit: 'C', city: 'Rome' },
      { error_code: 4, message: 'unknown city' },
      [{ city: 'Paris' }],
    );
    expect(misfitsOf(two, { temperature: 3, unit: 'F', city: 'Oslo' })).toEqual([]);
    expect(misfitsOf(two, { error_code: 7, message: 'rate limited' })).toEqual([]);
    expect(misfitsOf(two, [{ city: 'Oslo' }])).toEqual([]);
    // A mix of the two objects fits neither; it is told against the closest.
    expect(misfitsOf(two, { temperature: 3, unit: 'F' })).toEqual(['$ has no key "city", which every recorded answer has there']);
    expect(misfitsOf(two, { something: 'else' }).length).toBeGreaterThan(0);
    const said = disagreements(two);
    expect(said.join('\n')).toContain('successes $: the recordings disagree on its kind: 1 lists, 3 objects');
    expect(said.join('\n')).toMatch(/objects are of 2 kinds.*\{temperature, unit, city\} \(2\).*\{error_code, message\} \(1\)/);
  });

  it('treats objects keyed by data (ids, dates) as maps: any key, each value of the recorded shape', () => {
    const users = learn(
      { payment_methods: { credit_card_7815826: { source: 'credit_card', last4: '1234' } } },
      { payment_methods: { gift_card_3091: { source: 'gift_card', balance: 40 }, paypal_5694: { source: 'paypal' } } },
    );
    expect(misfitsOf(users, { payment_methods: { credit_card_1111111: { source: 'credit_card' } } })).toEqual([]);
    expect(misfitsOf(users, { payment_methods: { paypal_0000001: { kind: 'paypal' } } })).toEqual([
      '$.payment_methods.paypal_0000001 has no key "source", which every recorded answer has there',
    ]);
    const registrations = learn({ '23456789': { patient_name: 'Jane', date: '2023-05-20' } });
    expect(misfitsOf(registrations, { '98765432': { patient_name: 'John', date: '2023-06-01' } })).toEqual([]);
  });

  it('gives a tool with one recording the guard of that answer: its keys required, its kinds', () => {
    const one = learn({ token: 'abc', expires: 3600 });
    expect(misfitsOf(one, { token: 'xyz', expires: 60 })).toEqual([]);
    expect(misfitsOf(one, { token: 'xyz' })).toEqual(['$ has no key "expires", which every recorded answer has there']);
  });

  it('takes any value where every recording had null, and where lists were always empty', () => {
    const nulls = learn({ middle_name: null, tags: [] }, { middle_name: null, tags: [] });
    expect(misfitsOf(nulls, { middle_name: 'Ann', tags: [{ any: 1 }, 'x'] })).toEqual([]);
  });

  it('is bounded: deep answers are learnt to MAX_DEPTH, wide ones to MAX_NODES, and misfits are few and short', () => {
    let deep: Json = 'bottom';
    for (let i = 0; i < 50; i++) deep = { down: deep };
    const deepShape = learn(deep);
    expect(deepShape.bounded).toBe(true);
    let other: Json = 42;
    for (let i = 0; i < 50; i++) other = { down: other };
    // Past MAX_DEPTH nothing is known: a different bottom fits; a change above it does not.
    expect(misfitsOf(deepShape, other)).toEqual([]);
    let changed: Json = 42;
    for (let i = 0; i < MAX_DEPTH - 2; i++) changed = { down: changed };
    expect(misfitsOf(deepShape, changed)).toHaveLength(1);

    // Past MAX_NODES positions, the rest is open: what was learnt still guards.
    const inner = Object.fromEntries(Array.from({ length: 30 }, (_, j) => [`g${String.fromCharCode(97 + j)}`, j]));
    const wide: Record<string, Json> = { first: 1 };
    for (let i = 0; i < 200; i++)
      wide[`field_${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`] = inner;
    const wideShape = learn(wide, wide);
    expect(wideShape.bounded).toBe(true);
    expect(200 * 30).toBeGreaterThan(MAX_NODES);
    expect(misfitsOf(wideShape, { ...wide, first: 'one' })).toHaveLength(1);

    const many = learn(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${String.fromCharCode(97 + (i % 26))}x${i}`, 1])));
    const found = misfitsOf(many, {});
    expect(found).toHaveLength(MAX_MISFITS);
    const long = learn({ [`${'k'.repeat(5000)}`]: 1 }, { [`${'k'.repeat(5000)}`]: 2 });
    for (const m of misfitsOf(long, { other: 1 })) expect(m.length).toBeLessThanOrEqual(MISFIT_CHARS);
  });

  it('checks a huge improvised answer within its bounds: at most MAX_MISFITS misfits, the rest unread', () => {
    const shape = learn({ rows: [{ id: 1, name: 'a' }] }, { rows: [{ id: 2, name: 'b' }] });
    const rows = Array.from({ length: 200_000 }, (_, i) => ({ id: i }));
    const found = misfitsOf(shape, { rows });
    expect(found).toHaveLength(MAX_MISFITS);
    expect(found[0]).toBe('$.rows[0] has no key "name", which every recorded item has there');
  });

  it('learns a 100k-answer tool in bounded memory, from answers with weights', () => {
    const answers = (function* () {
      for (let i = 0; i < 100_000; i++)
        yield { outputJson: JSON.stringify({ id: i, name: `n${i}`, tags: ['a', 'b'] }), isError: false, calls: 2 };
    })();
    const shape = learnFromStored(answers);
    expect(shape.answers).toBe(200_000);
    expect(misfitsOf(shape, { id: 1, name: 'x', tags: [] })).toEqual([]);
    expect(JSON.stringify(shapeJson(shape)).length).toBeLessThan(2_000);
  });

  it('survives hostile answers: __proto__ keys, huge strings, non-JSON text', () => {
    const shape = learn(JSON.parse('{"__proto__": {"a": 1}, "constructor": 1}') as Json);
    expect(misfitsOf(shape, JSON.parse('{"__proto__": {"a": 2}, "constructor": 3}') as Json)).toEqual([]);
    expect(misfitsOf(shape, {})).toHaveLength(2);
    expect(JSON.stringify(shapeSchema(shape.success!, false))).toContain('"__proto__":{"type":"object"');
    expect(readEmbedded(`[${'1,'.repeat(EMBEDDED_CHARS)}1]`)).toBeUndefined();
    expect(readEmbedded('2023-03-31')).toBeUndefined();
    expect(readEmbedded('00123')).toBeUndefined();
    // Numbers in strings stay text: "10001" recorded does not make "02139" wrong.
    expect(readEmbedded('42.0')).toBeUndefined();
    expect(misfitsOf(learn({ zip: '10001' }, { zip: '94110' }), { zip: '02139' })).toEqual([]);
    expect(readPython("{'a': [1, 2.5, (3, 4)], 'b': \"it's\", 'c': None,}")).toEqual({ a: [1, 2.5, [3, 4]], b: "it's", c: null });
    expect(readPython("{'a': 1")).toBeUndefined();
    expect(readPython(`${'['.repeat(100)}${']'.repeat(100)}`)).toBeUndefined();
  });
});

describe('shapes written out', () => {
  it('as a JSON Schema with required keys, items, JSON text and counts', () => {
    const shape = learn(JSON.stringify({ id: 1, rows: [{ a: 'x' }] }), JSON.stringify({ id: 2, rows: [], more: true }));
    expect(shapeSchema(shape.success!, false)).toEqual({
      type: 'string',
      contentMediaType: 'application/json',
      contentSchema: {
        type: 'object',
        properties: {
          id: { type: 'number' },
          rows: { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } },
          more: { type: 'boolean' },
        },
        required: ['id', 'rows'],
      },
    });
    expect(shapeJson(shape)).toMatchObject({ answers: 2, success: { 'x-seen': 2 } });
    // The prompt's form fits its budget by leaving deep positions open.
    const text = promptShape(shape.success!, 120)!;
    expect(text.length).toBeLessThanOrEqual(120);
    expect(promptShape(shape.success!, 5)).toBeUndefined();
  });
});

describe('declared output schemas', () => {
  const declared = {
    type: 'object',
    properties: {
      temperature: { type: 'number' },
      unit: { type: 'string', enum: ['C', 'F'] },
      at: { type: 'string', format: 'date-time' },
    },
    required: ['temperature', 'unit'],
    additionalProperties: false,
  };
  const compiled = compileSchema(declared);
  if (!compiled.ok) throw new Error(compiled.reason);
  const schema = compiled.schema;

  it('win over the learnt shape for successes, in words with paths', () => {
    const shape = learn({ temperature: 1, unit: 'C', station: 'x' });
    expect(misfits({ schema, shape }, { output: { temperature: 20, unit: 'C' }, isError: false })).toEqual([]);
    expect(misfits({ schema, shape }, { output: { temperature: '20', unit: 'K', station: 'y' }, isError: false })).toEqual([
      '$ has the key "station", which the declared output schema does not allow',
      '$.temperature must be number (declared output schema)',
      '$.unit must be equal to one of the allowed values (declared output schema)',
    ]);
    expect(misfits({ schema }, { output: { temperature: 1, unit: 'C', at: 'yesterday' }, isError: false })).toEqual([
      '$.at must match format "date-time" (declared output schema)',
    ]);
    // Errors are held to the recorded errors, not to the schema of successes.
    expect(misfits({ schema, shape }, { output: 'Error: no station', isError: true })).toEqual([]);
  });

  it('check the structuredContent of an MCP tool result', () => {
    const result = (structured?: Json): Json => ({
      content: [{ type: 'text', text: 'x' }],
      ...(structured === undefined ? {} : { structuredContent: structured }),
    });
    expect(misfits({ schema }, { output: result({ temperature: 1, unit: 'F' }), isError: false })).toEqual([]);
    expect(misfits({ schema }, { output: result({ unit: 'F' }), isError: false })).toEqual([
      'structuredContent: $ has no key "temperature", which the declared output schema requires',
    ]);
    expect(misfits({ schema }, { output: result(), isError: false })).toEqual([
      'the answer is an MCP tool result without "structuredContent", which the declared output schema describes',
    ]);
  });

  it('read the draft named in $schema, and say why a schema cannot be compiled', () => {
    const d2020 = compileSchema({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'array',
      prefixItems: [{ type: 'string' }],
    });
    expect(d2020.ok && d2020.schema.misfits([1], 4)).toEqual(['$[0] must be string (declared output schema)']);
    const broken = compileSchema({ type: 'object', properties: { a: { $ref: '#/nowhere' } } });
    expect(broken).toMatchObject({ ok: false, reason: expect.stringContaining('cannot be compiled') });
  });
});
