/**
 * Fuzzy eligibility by structure: a call whose argument names or types fit neither the tool's schema
 * nor any recording of it, or that lacks a required argument, is a miss `invalid_arguments` naming
 * what the tool takes; a call that fits goes on to the fuzzy tier.
 */
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../src/core/types.js';
import { NeighborIndex } from '../src/neighbors/neighbor-index.js';
import { checkArguments, EligibilityTier, type ShapeSource, toolShape } from '../src/tiers/eligibility.js';
import { appOf, cacheOf, type TestApp } from './helpers.js';

const USER_SCHEMA = {
  kind: 'tool',
  server: 'retail',
  tool: 'get_user_details',
  input_schema: { type: 'object', properties: { user_id: { type: 'string' } }, required: ['user_id'] },
};
const HOTEL_SCHEMA = {
  kind: 'tool',
  server: 'bank',
  tool: 'BookHotel',
  input_schema: {
    type: 'object',
    properties: {
      hotel_name: { type: 'string' },
      room_count: { type: 'integer' },
      breakfast: { type: 'boolean' },
      note: { type: 'string' },
    },
    required: ['hotel_name', 'room_count'],
  },
};
const RECORDS = [
  USER_SCHEMA,
  { server: 'retail', tool: 'get_user_details', arguments: { user_id: 'sara_doe_496' }, output: { name: 'Sara' } },
  { server: 'retail', tool: 'get_order_details', arguments: { order_id: '#W2378156' }, output: { status: 'pending' } },
  { server: 'retail', tool: 'get_order_details', arguments: { order_id: '#W1111111' }, output: { status: 'delivered' } },
  HOTEL_SCHEMA,
  // As API-Bank recorded it: an integer parameter passed as a string, and answered.
  { server: 'bank', tool: 'BookHotel', arguments: { hotel_name: 'Hilton', room_count: 1 }, output: 'booked' },
  // A call the declared schema does not describe (API-Bank's TimedSwitch): the recording stands.
  { server: 'bank', tool: 'TimedSwitch', arguments: { device_id: 'lamp', on: 'true' }, output: 'ok' },
  {
    kind: 'tool',
    server: 'bank',
    tool: 'TimedSwitch',
    input_schema: { type: 'object', properties: { name: { type: 'string' }, on: { type: 'boolean' } }, required: ['name', 'on'] },
  },
];

async function call(app: TestApp, server: string, tool: string, args: JsonObject) {
  const response = await app.app.inject({ method: 'POST', url: '/v1/call', payload: { server, tool, arguments: args } });
  expect(response.statusCode).toBe(200);
  return response.json() as { tier: string; reason?: string; output: unknown; is_error: boolean; match: { neighbors?: unknown[] } };
}

describe('fuzzy eligibility', () => {
  it('refuses a misspelt argument with a text naming what the tool takes, and lists the neighbours', async () => {
    const { store } = await cacheOf(RECORDS);
    const app = await appOf(store);
    const answer = await call(app, 'retail', 'get_user_details', { userId: 'sara_doe_497' });
    expect(answer).toMatchObject({
      tier: 'miss',
      reason: 'invalid_arguments',
      is_error: true,
      output:
        'Error: get_user_details: unknown argument "userId"; missing required argument "user_id"; it takes user_id (string, required)',
    });
    expect(answer.match.neighbors).toHaveLength(1);
    const metrics = await app.metrics.registry.metrics();
    expect(metrics).toContain('toolsim_misses_total{reason="invalid_arguments"} 1');
  });

  it('passes a call that fits on to the fuzzy tier, even when no recording is close', async () => {
    const { store } = await cacheOf(RECORDS);
    const app = await appOf(store);
    expect(await call(app, 'retail', 'get_user_details', { user_id: 'zz_top_1' })).toMatchObject({
      tier: 'miss',
      reason: 'fuzzy_disabled',
    });
    // Names only recordings use (no schema for this tool): a new order id fits.
    expect(await call(app, 'retail', 'get_order_details', { order_id: '#W9999999' })).toMatchObject({ reason: 'fuzzy_disabled' });
    expect(await call(app, 'retail', 'get_order_details', { orderId: '#W9999999' })).toMatchObject({ reason: 'invalid_arguments' });
    // Present in every recording of a tool without a schema: required.
    expect(await call(app, 'retail', 'get_order_details', {})).toMatchObject({
      reason: 'invalid_arguments',
      output: 'Error: get_order_details: missing required argument "order_id"; it takes order_id (string, required)',
    });
  });

  it('is lenient where real APIs were: numeric strings for numbers, optional nulls, what recordings used', async () => {
    const { store } = await cacheOf(RECORDS);
    const app = await appOf(store);
    const book = (args: JsonObject) => call(app, 'bank', 'BookHotel', { hotel_name: 'Ritz', ...args });
    expect(await book({ room_count: '2' })).toMatchObject({ reason: 'fuzzy_disabled' });
    expect(await book({ room_count: 3, breakfast: 'false', note: null })).toMatchObject({ reason: 'fuzzy_disabled' });
    expect(await book({ room_count: 'two' })).toMatchObject({
      reason: 'invalid_arguments',
      output:
        'Error: BookHotel: argument "room_count" must be integer, not string; it takes hotel_name (string, required), room_count (integer, required), breakfast (boolean), note (string)',
    });
    expect(await book({ room_count: 2.5 })).toMatchObject({ reason: 'invalid_arguments' });
    expect(await book({ room_count: null })).toMatchObject({ reason: 'invalid_arguments' });
    expect(await book({ room_count: [2] })).toMatchObject({ reason: 'invalid_arguments' });
    // Recorded without "name" and with "device_id": the recording shows what the API took.
    expect(await call(app, 'bank', 'TimedSwitch', { device_id: 'fan', on: false })).toMatchObject({ reason: 'fuzzy_disabled' });
    expect(await call(app, 'bank', 'TimedSwitch', { device_id: 'lamp', on: 'true' })).toMatchObject({ tier: 'exact' });
    expect(await call(app, 'bank', 'TimedSwitch', { on: true })).toMatchObject({ reason: 'fuzzy_disabled' });
    expect(await call(app, 'bank', 'TimedSwitch', { device_id: 'fan' })).toMatchObject({ reason: 'invalid_arguments' });
  });

  it('never counts an ignored argument as missing', async () => {
    const schema = {
      ...USER_SCHEMA,
      input_schema: {
        type: 'object',
        properties: { user_id: { type: 'string' }, session: { type: 'string' } },
        required: ['user_id', 'session'],
      },
    };
    const { store } = await cacheOf([schema, RECORDS[1]!], ['session']);
    const app = await appOf(store);
    expect(await call(app, 'retail', 'get_user_details', { user_id: 'x_1', session: 's1' })).toMatchObject({ reason: 'fuzzy_disabled' });
    expect(await call(app, 'retail', 'get_user_details', { user_id: 'x_1' })).toMatchObject({ reason: 'fuzzy_disabled' });
  });

  it('is what `explain` reports', async () => {
    const { store } = await cacheOf(RECORDS);
    const app = await appOf(store);
    expect(app.simulator.explain({ server: 'retail', tool: 'get_user_details', arguments: { userId: 'a' } })).toMatchObject({
      tier: 'miss',
      reason: 'invalid_arguments',
      why: 'unknown argument "userId"; missing required argument "user_id"',
    });
  });

  it('reads type lists, anyOf and additionalProperties from the schema', () => {
    const schema = {
      type: 'object',
      properties: { q: { type: ['string', 'null'] }, limit: { anyOf: [{ type: 'integer' }, { type: 'string' }] }, any: {} },
      required: ['q'],
    };
    const shape = toolShape(schema, [], new Set());
    expect(checkArguments('search', shape, { q: null, limit: 'ten', any: [1] }).ok).toBe(true);
    expect(checkArguments('search', shape, { q: 1 })).toMatchObject({
      ok: false,
      problems: ['argument "q" must be string or null, not integer'],
    });
    expect(checkArguments('search', shape, { q: 'x', extra: 1 }).ok).toBe(false);
    const open = toolShape({ ...schema, additionalProperties: true }, [], new Set());
    expect(checkArguments('search', open, { q: 'x', extra: 1 }).ok).toBe(true);
    // Neither a schema nor a recording: nothing to hold a call to.
    expect(checkArguments('t', toolShape(undefined, [], new Set()), { anything: 1 }).ok).toBe(true);
    expect(checkArguments('t', toolShape(undefined, [{}], new Set()), {})).toEqual({ ok: true });
  });

  it("summarises a tool's shape once per snapshot, with its neighbour index, not per call", () => {
    let reads = 0;
    const index = new NeighborIndex(
      {
        catalog: () => [{ server: 's', tool: 't', input_schema: { type: 'object', properties: { a: { type: 'string' } } } }],
        argumentsOf: () => {
          reads++;
          return [{ key: 'k', arguments: '{"a":"x"}' }];
        },
        ignoredArguments: [],
      },
      { worker: false },
    );
    const source: ShapeSource = { index };
    const tier = new EligibilityTier(source);
    const call = (args: JsonObject) => ({ server: 's', tool: 't', arguments: args, canonical: '', key: '' });
    for (let i = 0; i < 100; i++) expect(tier.check(call({ a: `v${i}` })).ok).toBe(true);
    expect(tier.check(call({ b: 1 })).ok).toBe(false);
    expect(reads).toBe(1);
  });
});
