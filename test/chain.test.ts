/** The tier chain: one walk for resolve and explain, the request memo in front of every protocol, one log reader for replay. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/core/metrics.js';
import type { Answer } from '../src/core/types.js';
import { replay } from '../src/replay/replay.js';
import { SimulatorTarget } from '../src/replay/targets.js';
import { Simulator } from '../src/simulator/simulator.js';
import { appOf, cacheOf, ROOT } from './helpers.js';

const FIXTURES = join(ROOT, 'test/fixtures/transcripts');
const metrics = () => createMetrics({ cacheCalls: () => 0, processMetrics: false });

const RECORDS = [
  {
    kind: 'tool',
    server: 's',
    tool: 't',
    input_schema: { type: 'object', properties: { id: { type: 'integer' }, q: { type: 'string' } } },
  },
  { server: 's', tool: 't', arguments: { id: 1, q: 'a' }, output: 'one' },
  // Two ids no double tells apart (JSON text, as a log holds them): the request memo must not either.
  '{"server":"s","tool":"t","arguments":{"id":9007199254740993},"output":"odd"}',
  '{"server":"s","tool":"t","arguments":{"id":9007199254740992},"output":"even"}',
];

describe('the tier chain', () => {
  it('answers an exact call synchronously and every other call with a promise', async () => {
    const { store } = await cacheOf(RECORDS);
    const simulator = new Simulator({ store, metrics: metrics() });
    const exact = simulator.resolve({ server: 's', tool: 't', arguments: { id: 1, q: 'a' } });
    expect(exact).not.toBeInstanceOf(Promise);
    expect((exact as Answer).tier).toBe('exact');
    const unknown = simulator.resolve({ server: 's', tool: 'nope', arguments: {} });
    expect(unknown).not.toBeInstanceOf(Promise);
    expect((unknown as Answer).reason).toBe('unknown_tool');
    const near = simulator.resolve({ server: 's', tool: 't', arguments: { id: 2, q: 'a' } });
    expect(near).toBeInstanceOf(Promise);
    expect(await near).toMatchObject({ tier: 'miss', reason: 'fuzzy_disabled' });
    const invalid = await simulator.resolve({ server: 's', tool: 't', arguments: { id: 'x' } });
    expect(invalid).toMatchObject({ tier: 'miss', reason: 'invalid_arguments' });
    expect(invalid.match.neighbors?.length).toBeGreaterThan(0);
    // The snapshot it serves is closed with it.
    await simulator.idle();
    simulator.close();
    expect(simulator.closed).toBe(true);
  });

  it('explains by the same walk: the deciding tier, its reason, and the neighbours its answer would list', async () => {
    const { store } = await cacheOf(RECORDS);
    const simulator = new Simulator({ store, metrics: metrics() });
    expect(simulator.explain({ server: 's', tool: 't', arguments: { id: 1, q: 'a' } })).toMatchObject({ tier: 'exact', neighbors: [] });
    const invalid = simulator.explain({ server: 's', tool: 't', arguments: { id: 'x' } });
    expect(invalid).toMatchObject({ tier: 'miss', reason: 'invalid_arguments' });
    expect(invalid.neighbors.length).toBeGreaterThan(0);
    const near = simulator.explain({ server: 's', tool: 't', arguments: { id: 2, q: 'a' } });
    expect(near).toMatchObject({ tier: 'miss', reason: 'fuzzy_disabled' });
    // What explain lists is what the answer lists.
    const answered = await simulator.resolve({ server: 's', tool: 't', arguments: { id: 2, q: 'a' } });
    expect(near.neighbors).toEqual(answered.match.neighbors);
  });

  it('remembers batch items by their text, without ever mixing two numbers a double cannot tell apart', async () => {
    const { store } = await cacheOf(RECORDS);
    const { app, simulator } = await appOf(store);
    const body =
      '{"calls":[{"server":"s","tool":"t","arguments":{"id":9007199254740993}},{"server":"s","tool":"t","arguments":{"id":9007199254740992}}]}';
    const post = () => app.inject({ method: 'POST', url: '/v1/calls', headers: { 'content-type': 'application/json' }, payload: body });
    for (let i = 0; i < 3; i++) {
      const results = (await post()).json().results as { output: string }[];
      expect(results.map((r) => r.output)).toEqual(['odd', 'even']);
    }
    // Both items remembered (from their second answer on), each as its own call.
    expect(simulator.remembered.entries).toBe(2);
  });

  it('remembers MCP calls too', async () => {
    const { store } = await cacheOf(RECORDS);
    const { app, simulator } = await appOf(store);
    const call = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 't', arguments: { id: 1, q: 'a' } },
    };
    for (let i = 0; i < 3; i++) {
      const response = await app.inject({
        method: 'POST',
        url: '/mcp/s',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        payload: call,
      });
      expect(response.json().result.content[0].text).toBe('one');
    }
    expect(simulator.remembered.entries).toBe(1);
  });
});

describe('replay reads what ingest reads', () => {
  it('replays an Anthropic transcript against the cache of the native log: every call exact', async () => {
    const { store } = await cacheOf([join(FIXTURES, 'native.jsonl')]);
    const problems: string[] = [];
    const report = await replay({
      inputs: [join(FIXTURES, 'anthropic.jsonl')],
      target: new SimulatorTarget(new Simulator({ store, metrics: metrics() }), 'cache'),
      onProblem: (p) => problems.push(p),
    });
    expect(report.overall).toMatchObject({ calls: 2, exact: 2, compared: 2 });
    // The call without a result is reported, not replayed.
    expect(problems).toHaveLength(1);
  });
});
