/**
 * Large bodies are read in slices (src/http/large-body.ts, src/core/json-steps.ts) with the same
 * results as the one-piece reader of small bodies (src/http/json.ts): the same values, the same
 * RawNumbers, the same 400s word for word, whatever the text and wherever the reading stops.
 * Through a real server: the threshold edge, many large bodies at once, and a client that leaves
 * while its body is being read.
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { parseArguments, parseArgumentsSteps } from '../src/core/canonical.js';
import { jsonExcess } from '../src/core/json-size.js';
import { jsonExcessSteps, parseJsonSteps, Slice, type Steps } from '../src/core/json-steps.js';
import { canonicalNumber, parseJson, RawNumber } from '../src/core/json-text.js';
import { createMetrics } from '../src/core/metrics.js';
import { excessRefusal, MAX_BODY_DEPTH, parseJsonBody } from '../src/http/json.js';
import { LARGE_BODY_BYTES, largeBodyReadings, MAX_READING, readLargeBody } from '../src/http/large-body.js';
import { InMemoryRolloutStore } from '../src/rollouts/memory-store.js';
import { Rollouts } from '../src/rollouts/rollouts.js';
import { Simulator } from '../src/simulator/simulator.js';
import { cacheOf, onCleanup } from './helpers.js';

/** A value as comparable data: key order kept, own `__proto__` keys kept, each RawNumber as its text and canonical form. */
function plain(value: unknown): unknown {
  if (value instanceof RawNumber) {
    let canonical: string;
    try {
      const form = canonicalNumber(value);
      canonical = form instanceof RawNumber ? `raw ${form.text}` : `number ${form}`;
    } catch (error) {
      canonical = `refused ${(error as Error).message}`;
    }
    return { raw: value.text, canonical };
  }
  if (Array.isArray(value)) return { array: value.map(plain) };
  if (typeof value === 'object' && value !== null)
    return { object: Object.keys(value).map((k) => [k, plain((value as Record<string, unknown>)[k])]) };
  if (typeof value === 'number' && Object.is(value, -0)) return '-0';
  return value;
}

/** What a reader gave: its value as plain data, or its error's class, code and message. */
function outcome(read: () => unknown): unknown {
  try {
    return { value: plain(read()) };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { error: [e.constructor.name, e.code, e.message] };
  }
}

async function outcomeAsync(read: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: plain(await read()) };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { error: [e.constructor.name, e.code, e.message] };
  }
}

/** Runs a reader that yields at every chance it has (its slice is always over). */
function runStopping<T>(steps: (slice: Slice) => Steps<T>): T {
  const slice = new Slice(1);
  slice.deadline = Number.NEGATIVE_INFINITY;
  const reader = steps(slice);
  for (;;) {
    const step = reader.next();
    if (step.done) return step.value;
  }
}

const limitsOf = (maxKeys: number) => ({
  depth: MAX_BODY_DEPTH,
  entries: maxKeys,
  refuse: (excess: Parameters<typeof excessRefusal>[0]) => excessRefusal(excess, maxKeys),
});

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
/** Number tokens: short and long, exact and not, with exponents short and long, and malformed ones. */
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc
    .tuple(
      fc.constantFrom('', '-'),
      digits(1, 3),
      digits(1, 420),
      fc.constantFrom('', 'e5', 'E-400', 'e+0', `e${'9'.repeat(20)}`, `e-${'0'.repeat(30)}7`),
    )
    .map(([sign, int, fraction, exponent]) => `${sign}${int.replace(/^0+(?=\d)/, '')}.${fraction}${exponent}`),
  digits(18, 300).map((d) => d.replace(/^0+(?=\d)/, '')),
  fc.constantFrom('-0', '0.0', '1.50', '1E+2', '1e21', '1e400', '0.1', '00', '1.', '-', '1e', '.5', '1.2.3', '--1', '1e+-2'),
);
/** Strings with every kind of escape, marker look-alikes and the forbidden names spelled several ways. */
const stringText = fc.oneof(
  fc.string().map((s) => JSON.stringify(s)),
  fc.string({ unit: 'binary' }).map((s) => JSON.stringify(s)),
  fc
    .array(fc.constantFrom('a', '\\"', '\\\\', '\\u0000', '\\u00001', '\\u0000:0', '\\n', '\\u005f', 'é', '𝄞', '"', '\\', '\\x'), {
      maxLength: 12,
    })
    .map((parts) => `"${parts.join('')}"`),
  fc.constantFrom('"__proto__"', '"\\u005f\\u005fproto__"', '"constructor"', '"prototype"', '"\\u0000"', '"\\u00000"'),
);
const keyText = fc.oneof(stringText, fc.constantFrom('"__proto__"', '"\\u005f_proto__"', '"constructor"', '"prototype"', '"a"', '"a"'));
const space = fc.constantFrom('', ' ', '\n', '\t ', '\r\n');
const json: fc.Arbitrary<string> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    numberText,
    stringText,
    fc.constantFrom('true', 'false', 'null'),
    fc.tuple(fc.array(tie('value') as fc.Arbitrary<string>, { maxLength: 5 }), space).map(([items, s]) => `[${s}${items.join(`,${s}`)}]`),
    fc
      .tuple(fc.array(fc.tuple(keyText, tie('value') as fc.Arbitrary<string>), { maxLength: 5 }), space)
      .map(([entries, s]) => `{${s}${entries.map(([k, v]) => `${k}${s}:${v}`).join(',')}}`),
  ),
})).value;
/** Deep nesting around a value, near the depth limit (128). */
const deep = fc
  .tuple(fc.integer({ min: 120, max: 135 }), json, fc.boolean())
  .map(([n, inner, arrays]) => (arrays ? `${'['.repeat(n)}${inner}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}${inner}${'}'.repeat(n)}`));
/** Texts broken in one place: a character dropped, doubled or replaced. */
const broken = fc
  .tuple(json, fc.nat(), fc.constantFrom('', '"', '\\', ',', ']', '}', '{', '0', '-', 'e', '\u0000'))
  .map(([text, at, c]) => {
    const i = text.length === 0 ? 0 : at % text.length;
    return text.slice(0, i) + c + text.slice(i + 1);
  });
const anyText = fc.oneof(
  { weight: 6, arbitrary: json },
  { weight: 1, arbitrary: deep },
  { weight: 3, arbitrary: broken },
  { weight: 1, arbitrary: space },
);

describe('large bodies read in slices', () => {
  it('property: the stepwise readers give what jsonExcess and parseJson give, stopping wherever they can', () => {
    fc.assert(
      fc.property(anyText, fc.constantFrom<'value' | 'text'>('value', 'text'), fc.integer({ min: 1, max: 60 }), (text, keep, entries) => {
        const limits = { depth: MAX_BODY_DEPTH, entries };
        expect(runStopping((slice) => jsonExcessSteps(text, limits, slice))).toEqual(jsonExcess(text, limits));
        expect(outcome(() => runStopping((slice) => parseJsonSteps(text, keep, slice)))).toEqual(outcome(() => parseJson(text, keep)));
      }),
      { numRuns: 3_000 },
    );
  });

  it('property: a JSON string of arguments read in steps is read as parseArguments reads it', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          json.map((t) => `{"a":${t},"b":${t}}`),
        ),
        fc.integer({ min: 1, max: 60 }),
        (text, maxKeys) => {
          const steps = runStopping((slice) => parseArgumentsSteps(text, maxKeys, slice));
          const once = parseArguments(text, maxKeys);
          expect(steps.ok ? { ok: true, value: plain(steps.value) } : steps).toEqual(
            once.ok ? { ok: true, value: plain(once.value) } : once,
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('property: a body read in slices is the body read in one piece, value or 400 word for word', async () => {
    await fc.assert(
      fc.asyncProperty(anyText, fc.integer({ min: 1, max: 10_000 }), async (text, maxKeys) => {
        const body = Buffer.from(text);
        const sliced = await outcomeAsync(async () => (await readLargeBody(body, limitsOf(maxKeys), () => false)).value);
        expect(sliced).toEqual(outcome(() => parseJsonBody(body, maxKeys)));
      }),
      { numRuns: 1_500 },
    );
  });

  it('two readers interleaved do not disturb each other', () => {
    const texts = ['{"a":[1.50,"x\\"y",123456789012345678901234567890]}', '[0.1,"\\u0000",1e400,{"b":-0.000}]'];
    const slices = texts.map(() => Object.assign(new Slice(1), { deadline: Number.NEGATIVE_INFINITY }));
    const readers = texts.map((text, i) => parseJsonSteps(text, 'value', slices[i]!));
    const results: unknown[] = [undefined, undefined];
    const done = [false, false];
    while (!done[0] || !done[1]) {
      for (let i = 0; i < 2; i++) {
        if (done[i]) continue;
        const step = readers[i]!.next();
        if (step.done) {
          done[i] = true;
          results[i] = step.value;
        }
      }
    }
    expect(results.map(plain)).toEqual(texts.map((t) => plain(parseJson(t, 'value'))));
  });

  it('reads at most MAX_READING bodies at a time, the others in their turn, each as if alone', async () => {
    const bodies = Array.from({ length: MAX_READING + 4 }, (_, i) =>
      Buffer.from(
        i % 5 === 4
          ? `{"a":[1,}${' '.repeat(300_000)}`
          : `{"i":${i},"q":${JSON.stringify('"'.repeat(150_000 + i))},"n":[1.50,0.1,12345678901234567890]}`,
      ),
    );
    const reads = bodies.map((body) => outcomeAsync(async () => (await readLargeBody(body, limitsOf(10_000), () => false)).value));
    expect(largeBodyReadings()).toMatchObject({ reading: MAX_READING, waiting: 4 });
    const results = await Promise.all(reads);
    expect(results).toEqual(bodies.map((body) => outcome(() => parseJsonBody(body, 10_000))));
    expect(largeBodyReadings()).toMatchObject({ reading: 0, waiting: 0 });
  });

  it('decodes UTF-8 across its chunks: characters split between two, bad bytes at the seams, a BOM', async () => {
    const chunk = 64 * 1024;
    const cases: Buffer[] = [];
    for (const char of ['é', '€', '𝄞']) {
      for (let shift = 0; shift < 4; shift++) {
        // The string's characters straddle the 64 KiB seams at every offset.
        const filler = 'a'.repeat(shift);
        cases.push(Buffer.from(JSON.stringify({ s: filler + char.repeat((3 * chunk) / Buffer.byteLength(char)) })));
      }
    }
    const valid = Buffer.from(JSON.stringify({ s: '€'.repeat(chunk) }));
    for (const at of [chunk - 1, chunk, chunk + 1, valid.length - 3]) {
      const bad = Buffer.from(valid);
      bad[at] = 0xff;
      cases.push(bad);
      // A sequence cut short at a seam.
      cases.push(Buffer.concat([valid.subarray(0, at), Buffer.from([0xe2, 0x82]), valid.subarray(at)]));
    }
    cases.push(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), valid]));
    cases.push(Buffer.concat([valid.subarray(0, valid.length - 2), Buffer.from([0xf0, 0x9d])]));
    for (const body of cases) {
      const sliced = await outcomeAsync(async () => (await readLargeBody(body, limitsOf(10_000), () => false)).value);
      expect(sliced).toEqual(outcome(() => parseJsonBody(body, 10_000)));
    }
  });
});

const records = [
  { server: 'shop', tool: 'lookup', arguments: { id: 1, note: 'one' }, output: { name: 'one' } },
  { server: 'shop', tool: 'lookup', arguments: { id: 2, note: 'two' }, output: { name: 'two' } },
];

interface Reply {
  status: number;
  body: string;
}

function post(port: number, body: Buffer | string, path = '/v1/call'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function serve(withRollouts = false): Promise<number> {
  const { store } = await cacheOf(records);
  const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
  const rollouts = withRollouts ? new Rollouts({ store: new InMemoryRolloutStore(), sweepMs: 0 }) : undefined;
  if (rollouts) onCleanup(() => rollouts.close());
  const simulator = new Simulator({ store, metrics, ...(rollouts ? { rollouts } : {}) });
  const app = await buildApp({ simulator: () => simulator, metrics });
  onCleanup(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

/** `text` padded with spaces (inside the body, before its last character) to exactly `bytes` bytes. */
function padded(text: string, bytes: number): Buffer {
  const pad = bytes - Buffer.byteLength(text);
  if (pad < 0) throw new Error('text longer than the size asked');
  return Buffer.from(text.slice(0, -1) + ' '.repeat(pad) + text.slice(-1));
}

describe('large bodies through a server', () => {
  it('answers bodies one byte under, at and over the threshold alike, answers and 400s', async () => {
    const port = await serve();
    const note = 'x'.repeat(1_000);
    const bodies: Record<string, string> = {
      exact: JSON.stringify({ server: 'shop', tool: 'lookup', arguments: { id: 2, note: 'two' } }),
      miss: `{"server":"shop","tool":"lookup","arguments":{"id":123456789012345678901234567890,"note":${JSON.stringify(note)}}}`,
      invalid: `{"server":"shop","tool":"lookup","arguments":{"id":1,}}`,
      'too many keys': `{"server":"shop","tool":"lookup","arguments":{"l":[${Array.from({ length: 10_001 }, () => '1').join(',')}]}}`,
      'too deep': `{"server":"shop","tool":"lookup","arguments":{"a":${'['.repeat(130)}${']'.repeat(130)}}}`,
      forbidden: `{"server":"shop","tool":"lookup","arguments":{"\\u005f_proto__":{"polluted":1}}}`,
      'bad exponent': `{"server":"shop","tool":"lookup","arguments":{"id":1e${'9'.repeat(20)}}}`,
    };
    // Past the threshold the call is also prepared in turns (src/simulator/simulator.ts), on /v1/call and /v1/explain.
    for (const [name, text, path] of [
      ...Object.entries(bodies).map(([name, text]) => [name, text, '/v1/call']),
      ['explain exact', bodies.exact!, '/v1/explain'],
      ['explain miss', bodies.miss!, '/v1/explain'],
      ['explain unknown tool', bodies.exact!.replace('lookup', 'lokup'), '/v1/explain'],
      ['unknown tool', bodies.exact!.replace('lookup', 'lokup'), '/v1/call'],
    ] as [string, string, string][]) {
      const replies: Reply[] = [];
      for (const size of [LARGE_BODY_BYTES - 1, LARGE_BODY_BYTES, LARGE_BODY_BYTES + 1, LARGE_BODY_BYTES + 64 * 1024 + 1]) {
        replies.push(await post(port, padded(text, size), path));
      }
      const first = replies[0]!;
      expect(first.status, name).toBe(/exact|miss|unknown tool/.test(name) ? 200 : 400);
      if (name === 'miss') expect(JSON.parse(first.body), name).toMatchObject({ tier: 'miss' });
      if (name === 'explain miss') expect(JSON.parse(first.body).key, name).toMatch(/^[0-9a-f]{64}$/);
      for (const reply of replies.slice(1)) {
        expect(reply.status, name).toBe(first.status);
        // The answer may carry a latency; everything else is the same.
        expect(reply.body.replace(/"(latency_ms|elapsed_ms)":[\d.]+/g, ''), name).toBe(
          first.body.replace(/"(latency_ms|elapsed_ms)":[\d.]+/g, ''),
        );
      }
    }
    // Invalid UTF-8 in the last byte, on both sides of the threshold.
    for (const size of [LARGE_BODY_BYTES, LARGE_BODY_BYTES + 1]) {
      const body = padded(bodies.exact!, size);
      body[body.length - 2] = 0xc3;
      const reply = await post(port, body);
      expect(reply.status).toBe(400);
      expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'invalid_utf8' } });
    }
  });

  it('answers a JSON string of arguments one character under, at and over the threshold alike', async () => {
    const port = await serve();
    // The arguments string is padded inside (spaces before its closing brace) to the size asked.
    const withArguments = (args: string, chars: number) =>
      JSON.stringify({ server: 'shop', tool: 'lookup', arguments: `${args.slice(0, -1)}${' '.repeat(chars - args.length)}}` });
    const cases: Record<string, string> = {
      exact: '{"id":2,"note":"two"}',
      miss: `{"id":123456789012345678901234567890,"note":"two"}`,
      'not JSON': '{"id":2,,"note":"two"}',
      'too many keys': `{"l":[${Array.from({ length: 10_001 }, () => '1').join(',')}]}`,
      'too deep': `{"a":${'['.repeat(70)}${']'.repeat(70)}}`,
      'bad exponent': `{"id":1e${'9'.repeat(20)}}`,
    };
    for (const [name, args] of Object.entries(cases)) {
      const replies: Reply[] = [];
      for (const chars of [LARGE_BODY_BYTES - 1, LARGE_BODY_BYTES, LARGE_BODY_BYTES + 1])
        replies.push(await post(port, withArguments(args, chars)));
      expect(replies[0]!.status, name).toBe(name === 'exact' || name === 'miss' ? 200 : 400);
      if (name === 'exact') expect(JSON.parse(replies[0]!.body), name).toMatchObject({ tier: 'exact' });
      for (const reply of replies.slice(1)) expect(reply, name).toEqual(replies[0]);
    }
  });

  it('records a large call of a rollout as it records a small one', async () => {
    const port = await serve(true);
    const call = (rollout: string, id: number) =>
      JSON.stringify({ server: 'shop', tool: 'lookup', arguments: { id, note: id === 1 ? 'one' : 'two' }, trajectory_id: rollout });
    const histories: unknown[] = [];
    for (const [rollout, size] of [
      ['small', LARGE_BODY_BYTES - 1],
      ['large', LARGE_BODY_BYTES + 1],
    ] as const) {
      for (const id of [2, 1, 7]) {
        const reply = await post(port, padded(call(rollout, id), size));
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.body)).toMatchObject({ tier: id === 7 ? 'miss' : 'exact' });
      }
      const view = await fetch(`http://127.0.0.1:${port}/v1/rollouts/${rollout}`);
      expect(view.status).toBe(200);
      const body = (await view.json()) as Record<string, unknown>;
      delete body.id;
      // Times differ; everything else (the calls, their canonical arguments, their answers) is the same.
      histories.push(
        JSON.stringify(body, (_key, value: unknown) => (typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? 'time' : value)),
      );
    }
    expect(histories[1]).toBe(histories[0]);
    expect(String(histories[0])).toContain('lookup');
  });

  it('answers many large bodies sent at once, each as if alone', async () => {
    const port = await serve();
    // Exact calls padded with spaces, misses with 2,000 long decimals, misses with a string of
    // escaped quotes: each tens of slices, so that more than MAX_READING are read at once.
    const bodies = Array.from({ length: MAX_READING + 4 }, (_, i) =>
      i % 3 === 0
        ? `{"server":"shop","tool":"lookup","arguments":{"id":${i % 2 === 0 ? 1 : 2},"note":"${i % 2 === 0 ? 'one' : 'two'}"}${' '.repeat(600_000 + i)}}`
        : i % 3 === 1
          ? `{"server":"shop","tool":"lookup","arguments":{"d":[${Array.from({ length: 2_000 }, (_, j) => `0.${String(i * 10_000 + j).padStart(300, '7')}`).join(',')}]}}`
          : JSON.stringify({ server: 'shop', tool: 'lookup', arguments: { id: i, note: '"'.repeat(400_000 + i) } }),
    );
    const alone: Reply[] = [];
    for (const body of bodies) alone.push(await post(port, body));
    // While they are all in flight, at most MAX_READING are read at a time.
    let reading = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = largeBodyReadings();
        reading = Math.max(reading, now.reading);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const together = await Promise.all(bodies.map((body) => post(port, body)));
    sampling = false;
    await sampler;
    expect(reading).toBeGreaterThan(1);
    expect(reading).toBeLessThanOrEqual(MAX_READING);
    const strip = (r: Reply) => ({ status: r.status, body: r.body.replace(/"(latency_ms|elapsed_ms)":[\d.]+/g, '') });
    expect(together.map(strip)).toEqual(alone.map(strip));
    expect(alone.map((r) => r.status)).toEqual(Array(MAX_READING + 4).fill(200));
    expect(largeBodyReadings()).toMatchObject({ reading: 0, waiting: 0 });
  });

  it('stops reading the body of a client that left, and keeps serving', async () => {
    const port = await serve();
    // 4 MB of escaped quotes: tens of milliseconds of slices.
    const body = Buffer.from(`{"server":"shop","tool":"lookup","arguments":{"q":${JSON.stringify('"'.repeat(1_990_000))}}}`);
    const before = largeBodyReadings();
    const errors: Error[] = [];
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/v1/call',
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': body.length },
    });
    req.on('error', (error) => errors.push(error));
    req.on('response', () => errors.push(new Error('answered a client that left')));
    req.end(body);
    // Leave as soon as the server has started reading.
    const started = Date.now();
    while (largeBodyReadings().reading === 0) {
      if (Date.now() - started > 10_000) throw new Error('the body was never read in slices');
      await new Promise((resolve) => setImmediate(resolve));
    }
    req.destroy();
    while (largeBodyReadings().reading > 0) {
      if (Date.now() - started > 10_000) throw new Error('the reading never stopped');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(largeBodyReadings().abandoned).toBe(before.abandoned + 1);
    expect(errors.filter((e) => e.message === 'answered a client that left')).toEqual([]);
    // The server goes on: the same body, sent by a client that waits, is answered.
    const reply = await post(port, body);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ tier: 'miss' });
    expect(largeBodyReadings()).toMatchObject({ reading: 0, waiting: 0, abandoned: before.abandoned + 1 });
  });
});
