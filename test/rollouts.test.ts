/**
 * State within a rollout, through every protocol surface, with the real fuzzy tier (real SDK)
 * against the stand-in Messages API: a write no recording has diverges the rollout's server, and
 * its later calls there are improvised with its history (never a recording), deterministically;
 * rollouts that never diverge get today's answers; TTL and every way of ending one; PostgreSQL-kept
 * rollouts crossing replicas, and a labelled miss while PostgreSQL is down.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { replay } from '../src/replay/replay.js';
import { HttpTarget } from '../src/replay/targets.js';
import { InMemoryRolloutStore } from '../src/rollouts/memory-store.js';
import { PostgresRolloutStore } from '../src/rollouts/postgres-store.js';
import type { RolloutStore } from '../src/rollouts/rollout-store.js';
import { Rollouts } from '../src/rollouts/rollouts.js';
import { startServer } from '../src/server.js';
import { createFuzzy, type FuzzyConfig } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, cacheOf, metricValue, onCleanup, type TestApp, tempDir, writeLog } from './helpers.js';
import { serveConfig } from './server-process.js';
import { runCli } from './support/cli.js';
import { type FakeAnthropic, type SeenRequest, startFakeAnthropic } from './support/fake-anthropic.js';
import { startPostgres } from './support/postgres.js';

const postgres = await startPostgres();
afterAll(async () => {
  await postgres?.close();
});

// Plain text answers: the stand-in's improvisations below are plain text too, so they fit the
// output shape learnt from these recordings (a string) and pass the guard.
const order = (id: string, status: string): string => `order ${id}: ${status}`;
const RECORDS = [
  { server: 'shop', tool: 'get_order', arguments: { order_id: '#1' }, output: order('#1', 'pending'), trajectory_id: 't1' },
  {
    server: 'shop',
    tool: 'cancel_order',
    arguments: { order_id: '#1', reason: 'no longer needed' },
    output: order('#1', 'cancelled'),
    trajectory_id: 't1',
  },
  { server: 'shop', tool: 'get_order', arguments: { order_id: '#1' }, output: order('#1', 'cancelled'), trajectory_id: 't1' },
  { server: 'shop', tool: 'get_order', arguments: { order_id: '#2' }, output: order('#2', 'pending'), trajectory_id: 't2' },
  {
    server: 'shop',
    tool: 'cancel_order',
    arguments: { order_id: '#3', reason: 'ordered by mistake' },
    output: order('#3', 'cancelled'),
    trajectory_id: 't3',
  },
  { server: 'mail', tool: 'list_messages', arguments: { folder: 'inbox' }, output: '[]', trajectory_id: 't1' },
  // A 64-bit number in arguments and output (as raw log text below): kept digit for digit in the rollout's history.
  '{"server": "shop", "tool": "get_order", "arguments": {"order_id": "#9", "n": 593322347340602809}, "output": {"order_id": "#9", "item": 593322347340602811}}',
];
const GET_2 = { server: 'shop', tool: 'get_order', arguments: { order_id: '#2' } };
const CANCEL_2 = { server: 'shop', tool: 'cancel_order', arguments: { order_id: '#2', reason: 'no longer needed' } };

/** The stand-in's answer: what the prompt knows. A prompt holding the rollout's history says so. */
function improvise(request: SeenRequest): string {
  const messages = request.body['messages'] as { content: string }[];
  const user = messages[0]?.content ?? '';
  const system = String((request.body['system'] as { text: string }[])[0]?.text ?? '');
  const tool = /Tool: (\S+)/.exec(system)?.[1] ?? '?';
  const knows = /Call (\d+) \(the write no recording has\): (\S+)\narguments: (.*)/.exec(user);
  return knows ? `${tool} after call ${knows[1]} (${knows[2]} ${knows[3]})` : `${tool} improvised`;
}

async function stand(): Promise<FakeAnthropic> {
  const fake = await startFakeAnthropic({ kind: 'answer', output: (r: SeenRequest) => improvise(r) });
  onCleanup(() => fake.close());
  return fake;
}

function fuzzyOf(fake: FakeAnthropic, overrides: Partial<FuzzyConfig> = {}): ReturnType<typeof createFuzzy> {
  const defaults = resolveConfig(FUZZY_OPTIONS, {}, {});
  const fuzzy = createFuzzy({ ...defaults, apiKey: 'sk-test', baseUrl: fake.url, llmRetries: 0, ...overrides });
  onCleanup(() => fuzzy.close());
  return fuzzy;
}

function registry(store: RolloutStore = new InMemoryRolloutStore()): Rollouts {
  const rollouts = new Rollouts({ store, sweepMs: 0 });
  onCleanup(() => rollouts.close());
  return rollouts;
}

interface Result {
  tier: string;
  output: unknown;
  is_error: boolean;
  reason?: string;
  match: { rollout?: { diverged_since: number; history: number }; chosen_by?: string; memoized?: boolean };
}

async function call(app: TestApp, body: object, rollout?: string): Promise<Result> {
  const response = await app.app.inject({
    method: 'POST',
    url: '/v1/call',
    payload: { ...body, ...(rollout === undefined ? {} : { trajectory_id: rollout }) },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

async function shop(fake: FakeAnthropic, rollouts = registry()): Promise<TestApp & { rollouts: Rollouts }> {
  const { store } = await cacheOf(RECORDS);
  const app = await appOf(store, { fuzzy: fuzzyOf(fake).tier, rollouts });
  return { ...app, rollouts };
}

describe('a rollout over POST /v1/call', () => {
  it('after a write no recording has, improvises the later calls on that server with its history, never a recording', async () => {
    const fake = await stand();
    const app = await shop(fake);
    expect((await call(app, GET_2, 'r1')).tier).toBe('exact');
    const cancel = await call(app, CANCEL_2, 'r1');
    expect(cancel).toMatchObject({ tier: 'fuzzy', output: 'cancel_order improvised' });
    // The write itself was improvised as today: no history in its prompt, no match.rollout.
    expect(cancel.match.rollout).toBeUndefined();
    const read = await call(app, GET_2, 'r1');
    expect(read.tier).toBe('fuzzy');
    expect(read.output).toBe('get_order after call 2 (cancel_order {"order_id":"#2","reason":"no longer needed"})');
    expect(read.match.rollout).toEqual({ diverged_since: 2, history: 2 });
    // The prompt lists the rollout's calls there, most recent first, beside the recorded examples.
    const prompt = (fake.requests.at(-1)!.body['messages'] as { content: string }[])[0]!.content;
    expect(prompt.indexOf('Call 2 (the write no recording has): cancel_order')).toBeLessThan(prompt.indexOf('Call 1: get_order'));
    expect(prompt).toContain('Example 1');
    // Another server of the same rollout is untouched; another rollout too.
    expect((await call(app, { server: 'mail', tool: 'list_messages', arguments: { folder: 'inbox' } }, 'r1')).tier).toBe('exact');
    expect((await call(app, GET_2, 'r2')).tier).toBe('exact');
    expect((await call(app, GET_2)).tier).toBe('exact');
    const metrics = await app.metrics.registry.metrics();
    expect(metricValue(metrics, 'toolsim_rollouts_diverged_total')).toBe(1);
    expect(metricValue(metrics, 'toolsim_diverged_calls_total{tier="fuzzy"}')).toBe(1);
  });

  it('gives a second rollout that makes the same calls the same answers without asking again, and another history another answer', async () => {
    const fake = await stand();
    const app = await shop(fake);
    const run = async (id: string, reason: string): Promise<unknown[]> => {
      const out: unknown[] = [];
      for (const body of [GET_2, { ...CANCEL_2, arguments: { ...CANCEL_2.arguments, reason } }, GET_2, GET_2])
        out.push((await call(app, body, id)).output);
      return out;
    };
    const first = await run('a', 'no longer needed');
    const asked = fake.requests.length;
    expect(asked).toBe(3);
    expect(await run('b', 'no longer needed')).toEqual(first);
    expect(fake.requests.length).toBe(asked);
    const other = await run('c', 'found it cheaper');
    expect(other[2]).not.toEqual(first[2]);
    expect(fake.requests.length).toBe(asked + 3);
  });

  it('stays recorded through writes answered from recordings and writes that missed', async () => {
    const fake = await stand();
    const app = await shop(fake);
    const recordedCancel = { server: 'shop', tool: 'cancel_order', arguments: { order_id: '#1', reason: 'no longer needed' } };
    const get1 = { server: 'shop', tool: 'get_order', arguments: { order_id: '#1' } };
    // As its source trajectory recorded it: the rollout's world is still the recorded one.
    const scoped = async (body: object): Promise<Result> => call(app, { ...body, source_trajectory_id: 't1' }, 'scoped');
    expect((await scoped(get1)).tier).toBe('exact');
    expect((await scoped(recordedCancel)).tier).toBe('exact');
    expect(await scoped(get1)).toMatchObject({ tier: 'exact', match: { chosen_by: 'source_trajectory' } });
    // A write that is a miss (its arguments are not the tool's) changed nothing.
    const bad = await call(app, { server: 'shop', tool: 'cancel_order', arguments: { order_id: 7 } }, 'missed');
    expect(bad).toMatchObject({ tier: 'miss', reason: 'invalid_arguments' });
    expect((await call(app, GET_2, 'missed')).tier).toBe('exact');
    expect(fake.requests.length).toBe(0);
    const view = await app.app.inject({ method: 'GET', url: '/v1/rollouts/missed' });
    expect(view.json()).toMatchObject({ id: 'missed', calls: 2, servers: [{ server: 'shop', state: 'recorded', answered: 1 }] });
  });

  it('answers a rollout that never diverges byte for byte as a call without one', async () => {
    const fake = await stand();
    const app = await shop(fake);
    for (const record of RECORDS) {
      if (typeof record === 'string') continue;
      const body = { server: record.server, tool: record.tool, arguments: record.arguments };
      const plain = await app.app.inject({ method: 'POST', url: '/v1/call', payload: body });
      const named = await app.app.inject({ method: 'POST', url: '/v1/call', payload: { ...body, trajectory_id: 'reads' } });
      expect(named.body).toBe(plain.body);
    }
  });
});

describe('a rollout through the other protocols', () => {
  it('keeps the order of one rollout within a batch, and names it per item', async () => {
    const fake = await stand();
    const app = await shop(fake);
    const items = [GET_2, CANCEL_2, GET_2].map((c) => ({ ...c, trajectory_id: 'batched' }));
    const response = await app.app.inject({
      method: 'POST',
      url: '/v1/calls',
      payload: { calls: [...items, { ...GET_2, trajectory_id: 'other' }] },
    });
    const results = (response.json() as { results: Result[] }).results;
    expect(results.map((r) => r.tier)).toEqual(['exact', 'fuzzy', 'fuzzy', 'exact']);
    expect(results[2]!.match.rollout).toEqual({ diverged_since: 2, history: 2 });
  });

  it('takes trajectory_id as a query parameter of POST /v1/servers/{server}/tools/{tool}', async () => {
    const fake = await stand();
    const app = await shop(fake);
    const post = (tool: string, args: object): Promise<Result> =>
      app.app.inject({ method: 'POST', url: `/v1/servers/shop/tools/${tool}?trajectory_id=path`, payload: args }).then((r) => r.json());
    await post('cancel_order', CANCEL_2.arguments);
    expect((await post('get_order', GET_2.arguments)).match.rollout).toEqual({ diverged_since: 1, history: 1 });
  });

  it("takes verl-tool's trajectory_ids, and ends the rollout when verl finishes it", async () => {
    const fake = await stand();
    const app = await shop(fake);
    const action = (c: { tool: string; arguments: object }): string =>
      `<tool_call>${JSON.stringify({ name: c.tool, arguments: c.arguments, server: 'shop' })}</tool_call>`;
    const observe = (actions: string[], finish?: boolean[]): Promise<{ observations: unknown[]; tiers: string[] }> =>
      app.app
        .inject({
          method: 'POST',
          url: '/get_observation',
          payload: { trajectory_ids: actions.map(() => 'verl-1'), actions, ...(finish ? { finish } : {}) },
        })
        .then((r) => r.json());
    await observe([action(CANCEL_2)]);
    const after = await observe([action(GET_2)]);
    expect(after.tiers).toEqual(['fuzzy']);
    expect(String(after.observations[0])).toContain('after call 1');
    expect((await app.app.inject({ method: 'GET', url: '/v1/rollouts/verl-1' })).statusCode).toBe(200);
    await observe([''], [true]);
    expect((await app.app.inject({ method: 'GET', url: '/v1/rollouts/verl-1' })).statusCode).toBe(404);
    expect((await observe([action(GET_2)])).tiers).toEqual(['exact']);
  });

  it('makes an MCP session a rollout (or _meta["toolsim/trajectory_id"]), ended by DELETE with its session id', async () => {
    const fake = await stand();
    const app = await shop(fake);
    const url = await app.app.listen({ host: '127.0.0.1', port: 0 });
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp/shop`));
    const client = new Client({ name: 'rollout-test', version: '1.0.0' });
    await client.connect(transport);
    onCleanup(() => client.close());
    const session = transport.sessionId;
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    await client.callTool({ name: 'cancel_order', arguments: CANCEL_2.arguments });
    const read = await client.callTool({ name: 'get_order', arguments: GET_2.arguments });
    expect(read._meta).toMatchObject({ 'toolsim/tier': 'fuzzy' });
    expect(JSON.stringify(read.content)).toContain('after call 1');
    // A call naming its own rollout in _meta is in that one, not the session's.
    const named = await client.callTool({ name: 'get_order', arguments: GET_2.arguments, _meta: { 'toolsim/trajectory_id': 'mine' } });
    expect(named._meta?.['toolsim/tier']).toBeUndefined();
    expect((await app.app.inject({ method: 'GET', url: `/v1/rollouts/${session}` })).json()).toMatchObject({
      calls: 2,
      servers: [{ server: 'shop', state: 'diverged', diverged_since: 1 }],
    });
    await transport.terminateSession();
    expect((await app.app.inject({ method: 'GET', url: `/v1/rollouts/${session}` })).statusCode).toBe(404);
    // Without a session id, DELETE is still not offered.
    expect((await fetch(`${url}/mcp/shop`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('rollouts seen from outside', () => {
  it('counts them in /v1/report, in toolsim replay, and explains a call in its rollout state', async () => {
    const fake = await stand();
    const app = await shop(fake);
    await call(app, CANCEL_2, 'seen');
    await call(app, GET_2, 'seen');
    const report = await app.app.inject({ method: 'GET', url: '/v1/report' });
    expect(report.json().rollouts).toEqual({ diverged: 1, fuzzy: 1, miss: 0 });
    const explained = await app.app.inject({ method: 'POST', url: '/v1/explain', payload: { ...GET_2, trajectory_id: 'seen' } });
    expect(explained.json()).toMatchObject({
      tier: 'fuzzy',
      rollout: { diverged_since: 1, history: 2 },
      writes: { writes: false, why: 'its name starts with "get", a reading verb' },
      why: expect.stringMatching(
        /^the call's rollout diverged on this server at its call 1 \(a write no recording has\), so no recording is served; /,
      ),
    });
    expect(explained.json().prompt.user).toContain('Call 1 (the write no recording has): cancel_order');
    // Without its rollout, the same call is the recording.
    const alone = await app.app.inject({ method: 'POST', url: '/v1/explain', payload: CANCEL_2 });
    expect(alone.json()).toMatchObject({ tier: 'fuzzy', writes: { writes: true, why: 'its name holds "cancel", a writing verb' } });
    // toolsim replay of a test set whose trajectory writes what no recording has, then reads.
    const dir = tempDir();
    const testSet = writeLog(dir, 'test.jsonl', [
      { ...GET_2, output: order('#2', 'pending'), trajectory_id: 'held-out' },
      { ...CANCEL_2, output: order('#2', 'cancelled'), trajectory_id: 'held-out' },
      { ...GET_2, output: order('#2', 'cancelled'), trajectory_id: 'held-out' },
    ]);
    const url = await app.app.listen({ host: '127.0.0.1', port: 0 });
    const replayed = await replay({ inputs: [testSet], target: new HttpTarget(url), batchSize: 1, concurrency: 1 });
    expect(replayed.overall).toMatchObject({ calls: 3, exact: 1, fuzzy: 2, diverged: 1 });
  });

  it('serves a repeated request of a rollout in recorded state from the request memo, and still records it', async () => {
    const fake = await stand();
    const app = await shop(fake);
    const bodies = [GET_2, GET_2, GET_2, GET_2].map(() => ({ ...GET_2, trajectory_id: 'memo' }));
    const texts: string[] = [];
    for (const body of bodies) texts.push((await app.app.inject({ method: 'POST', url: '/v1/call', payload: body })).body);
    expect(new Set(texts).size).toBe(1);
    expect(app.simulator.remembered.entries).toBe(1);
    const view = (await app.app.inject({ method: 'GET', url: '/v1/rollouts/memo' })).json();
    expect(view).toMatchObject({ calls: 4, servers: [{ server: 'shop', state: 'recorded', answered: 4 }] });
    // Once diverged, the remembered text no longer answers: the call is improvised.
    await call(app, CANCEL_2, 'memo');
    expect((await call(app, GET_2, 'memo')).tier).toBe('fuzzy');
  });
});

describe('the never-diverged path', () => {
  const post = (app: TestApp, payload: string) =>
    app.app.inject({ method: 'POST', url: '/v1/call', headers: { 'content-type': 'application/json' }, payload });

  it("gives a rollout's call the same answer object as the call without one, and sibling rollouts one memo entry", async () => {
    const fake = await stand();
    const app = await shop(fake);
    const plain = app.simulator.resolve(GET_2, JSON.stringify(GET_2));
    expect(app.simulator.resolve(GET_2, JSON.stringify(GET_2))).toBe(plain);
    const text = JSON.stringify(GET_2);
    // Eight sibling rollouts of one task, each body naming its rollout last (JSON.stringify) or first.
    for (let i = 0; i < 8; i++) {
      const body = i % 2 === 0 ? `${text.slice(0, -1)},"trajectory_id":"sib-${i}"}` : `{"trajectory_id":"sib-${i}",${text.slice(1)}`;
      const answer = app.simulator.resolve({ ...GET_2, trajectory_id: `sib-${i}` }, body);
      expect(answer, body).toBe(plain);
      expect((await post(app, body.replace(`sib-${i}`, `http-${i}`))).body).toBe((await post(app, text)).body);
    }
    // The plain call's text and every sibling's: one entry.
    expect(app.simulator.remembered.entries).toBe(1);
    for (const id of ['sib-0', 'sib-7', 'http-3']) {
      const view = (await app.app.inject({ method: 'GET', url: `/v1/rollouts/${id}` })).json();
      expect(view, id).toMatchObject({ calls: 1, servers: [{ server: 'shop', state: 'recorded', answered: 1 }] });
      expect(view.servers[0].history).toEqual([
        {
          call: 1,
          tool: 'get_order',
          arguments: { order_id: '#2' },
          output: 'order #2: pending',
          is_error: false,
          tier: 'exact',
          writes: false,
        },
      ]);
    }
    // json.dumps' spacing is cut too (one more text: its spacing is its own); a name in the middle is
    // remembered by the call's own JSON text, one entry for all such bodies.
    const dumped = '{"server": "shop", "tool": "get_order", "arguments": {"order_id": "#2"}';
    for (const id of ['p1', 'p2'])
      expect(app.simulator.resolve({ ...GET_2, trajectory_id: id }, `${dumped}, "trajectory_id": "${id}"}`)).toBe(plain);
    for (const id of ['m1', 'm2', 'm3'])
      expect(
        app.simulator.resolve(
          { ...GET_2, trajectory_id: id },
          `{"server":"shop","trajectory_id":"${id}","tool":"get_order","arguments":{"order_id":"#2"}}`,
        ),
      ).toBe(plain);
    expect(app.simulator.remembered.entries).toBe(3);
    expect(fake.requests.length).toBe(0);
    const metrics = await app.metrics.registry.metrics();
    expect(metricValue(metrics, 'toolsim_calls_total{tier="exact",server="shop",tool="get_order"}')).toBe(2 + 8 + 16 + 2 + 3);
  });

  it("never serves a diverged rollout the recording its recorded siblings' shared memo entry points to", async () => {
    const fake = await stand();
    const app = await shop(fake);
    const body = (id: string): string => JSON.stringify({ ...GET_2, trajectory_id: id });
    for (const id of ['s1', 's2', 'd']) expect(JSON.parse((await post(app, body(id))).body).tier).toBe('exact');
    expect(app.simulator.remembered.entries).toBe(1);
    expect((await call(app, CANCEL_2, 'd')).tier).toBe('fuzzy');
    // The same text, remembered with its recording: the diverged rollout is improvised with its history.
    const read = JSON.parse((await post(app, body('d'))).body) as Result;
    expect(read).toMatchObject({ tier: 'fuzzy', match: { rollout: { diverged_since: 2, history: 2 } } });
    expect(fake.requests.length).toBe(2);
    // Its improvisation is not remembered for the others: siblings and plain calls still get the recording.
    for (const id of ['s1', 's3']) expect(JSON.parse((await post(app, body(id))).body).tier).toBe('exact');
    expect((await call(app, GET_2)).tier).toBe('exact');
    expect(fake.requests.length).toBe(2);
    const view = (await app.app.inject({ method: 'GET', url: '/v1/rollouts/d' })).json();
    expect(view.servers[0]).toMatchObject({ state: 'diverged', diverged_since: 2, answered: 3 });
    expect(view.servers[0].history.map((e: { tier: string }) => e.tier)).toEqual(['fuzzy', 'fuzzy', 'exact']);
  });

  it('records an exact answer in one step in memory, and nothing once the server diverged', async () => {
    const store = new InMemoryRolloutStore();
    const read = { tool: 'get_order', arguments: '{"order_id":"#2"}', writes: false };
    const answer = { outputJson: '"order #2: pending"', isError: false };
    expect(store.recordExact('r', 'shop', read, answer)).toBe(true);
    expect(
      store.recordExact('r', 'mail', { tool: 'list_messages', arguments: '{}', writes: false }, { outputJson: '[]', isError: false }),
    ).toBe(true);
    expect(
      store.record('r', 'shop', { ...read, tool: 'cancel_order', outputJson: '"ok"', isError: false, tier: 'fuzzy', writes: true }),
    ).toEqual({
      kind: 'ok',
      call: 3,
      diverged: true,
    });
    expect(store.recordExact('r', 'shop', read, answer)).toBe(false);
    expect(
      store.recordExact('r', 'mail', { tool: 'list_messages', arguments: '{}', writes: false }, { outputJson: '[]', isError: false }),
    ).toBe(true);
    const view = store.view('r')!;
    expect(view.calls).toBe(4);
    expect(view.servers.map((s) => [s.server, s.state, s.answered])).toEqual([
      ['shop', 'diverged', 2],
      ['mail', 'recorded', 2],
    ]);
    expect(view.servers[0]!.history.map((e) => [e.call, e.tier])).toEqual([
      [3, 'fuzzy'],
      [1, 'exact'],
    ]);
    // A store that answers later has no one-step path: the registry says so, and the caller takes the long way.
    const later = registry(new PostgresRolloutStore({ url: 'postgres://127.0.0.1:1/none' }));
    expect(later.recordExact('r', 'shop', read, answer)).toBe(false);
  });

  it("serves today's answers without rollout state when the server is started without it (the bench's baseline)", async () => {
    const { path } = await cacheOf(RECORDS);
    const server = await startServer(serveConfig({ db: path }), { rollouts: false });
    onCleanup(() => server.close());
    const send = (payload: object) =>
      fetch(`${server.url}/v1/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      }).then((r) => r.json());
    expect(await send({ ...CANCEL_2, trajectory_id: 'x' })).toMatchObject({ tier: 'miss' });
    expect(await send({ ...GET_2, trajectory_id: 'x' })).toMatchObject({ tier: 'exact' });
    expect((await fetch(`${server.url}/v1/rollouts/x`)).status).toBe(404);
  });
});

describe('GET and DELETE /v1/rollouts/{id}', () => {
  it("shows a rollout's state and history with exact numbers, ends it, and says 404 for one it does not know", async () => {
    const fake = await stand();
    const app = await shop(fake);
    const big = await call(app, { server: 'shop', tool: 'get_order', arguments: '{"order_id": "#9", "n": 593322347340602809}' }, 'shown');
    expect(big.tier).toBe('exact');
    await call(app, CANCEL_2, 'shown');
    const view = await app.app.inject({ method: 'GET', url: '/v1/rollouts/shown' });
    expect(view.statusCode).toBe(200);
    expect(view.body).toContain(
      '"arguments":{"n":593322347340602809,"order_id":"#9"},"output":{"order_id":"#9","item":593322347340602811}',
    );
    expect(view.json()).toMatchObject({
      id: 'shown',
      calls: 2,
      servers: [
        {
          server: 'shop',
          state: 'diverged',
          diverged_since: 2,
          diverged_by: { tool: 'cancel_order', arguments: CANCEL_2.arguments },
          answered: 2,
          history: [
            { call: 2, tool: 'cancel_order', tier: 'fuzzy', writes: true, output: 'cancel_order improvised' },
            { call: 1, tool: 'get_order', tier: 'exact', writes: false },
          ],
        },
      ],
    });
    const ended = await app.app.inject({ method: 'DELETE', url: '/v1/rollouts/shown' });
    expect(ended.json()).toEqual({ id: 'shown', ended: true });
    for (const method of ['GET', 'DELETE'] as const) {
      const gone = await app.app.inject({ method, url: '/v1/rollouts/shown' });
      expect(gone.statusCode).toBe(404);
      expect(gone.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await call(app, GET_2, 'shown')).tier).toBe('exact');
    expect(metricValue(await app.metrics.registry.metrics(), 'toolsim_rollouts_ended_total{how="deleted"}')).toBe(1);
    // An id holding a slash (tau-bench's trajectory ids do) is percent-encoded.
    await call(app, CANCEL_2, 'task-0/trial-1');
    const slashed = await app.app.inject({ method: 'GET', url: '/v1/rollouts/task-0%2Ftrial-1' });
    expect(slashed.json()).toMatchObject({ id: 'task-0/trial-1', calls: 1 });
    const long = await app.app.inject({ method: 'GET', url: `/v1/rollouts/${'x'.repeat(2000)}` });
    expect(long.statusCode).toBe(414);
    expect(long.json()).toMatchObject({ error: { code: 'uri_too_long' } });
  });

  it('forgets a rollout silent past its TTL', async () => {
    const fake = await stand();
    let now = 0;
    const app = await shop(fake, registry(new InMemoryRolloutStore({ ttlMs: 60_000, now: () => now })));
    await call(app, CANCEL_2, 'ttl');
    now += 30_000;
    expect((await call(app, GET_2, 'ttl')).tier).toBe('fuzzy');
    now += 59_000;
    expect((await call(app, GET_2, 'ttl')).tier).toBe('fuzzy');
    now += 61_000;
    expect((await call(app, GET_2, 'ttl')).tier).toBe('exact');
  });
});

describe.skipIf(!postgres)('rollouts kept in PostgreSQL', () => {
  let databases = 0;
  async function database(): Promise<string> {
    const name = `rollouts_${++databases}`;
    const admin = new pg.Client({ connectionString: postgres!.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    return postgres!.url.replace(/\/postgres$/, `/${name}`);
  }

  /** A replica: its own cache file of the same recordings, the shared memo and the shared rollouts. */
  async function replica(fake: FakeAnthropic, url: string): Promise<TestApp> {
    const store = new PostgresRolloutStore({ url, retryMs: 200, timeoutMs: 1000 });
    await store.start();
    const fuzzy = fuzzyOf(fake, { memoUrl: url });
    await fuzzy.start();
    const { store: cache } = await cacheOf(RECORDS);
    return appOf(cache, { fuzzy: fuzzy.tier, rollouts: registry(store) });
  }

  it('lets consecutive calls of one rollout land on different replicas, with one answer for one history', async () => {
    const fake = await stand();
    const url = await database();
    const [a, b] = [await replica(fake, url), await replica(fake, url)] as const;
    await call(a, GET_2, 'fleet');
    await call(b, CANCEL_2, 'fleet');
    const read = await call(a, GET_2, 'fleet');
    expect(read).toMatchObject({ tier: 'fuzzy', match: { rollout: { diverged_since: 2, history: 2 } } });
    expect(read.output).toContain('after call 2');
    const asked = fake.requests.length;
    // The same calls as another rollout, the other way round: the same answers, no new request.
    await call(b, GET_2, 'again');
    await call(a, CANCEL_2, 'again');
    expect((await call(b, GET_2, 'again')).output).toBe(read.output);
    expect(fake.requests.length).toBe(asked);
  });

  it('answers a call of a named rollout with a labelled miss while PostgreSQL is down, never a recording', async () => {
    const fake = await stand();
    const url = await database();
    const app = await replica(fake, url);
    await call(app, CANCEL_2, 'down');
    await postgres!.stop();
    try {
      const diverged = await call(app, GET_2, 'down');
      expect(diverged).toMatchObject({ tier: 'miss', reason: 'state_unavailable', is_error: true });
      // Unnamed calls go on from the recordings.
      expect((await call(app, GET_2)).tier).toBe('exact');
      const view = await app.app.inject({ method: 'GET', url: '/v1/rollouts/down' });
      expect(view.statusCode).toBe(503);
      expect(view.json()).toMatchObject({ error: { code: 'state_unavailable' } });
      const ready = await app.app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ rollouts: { backend: 'postgres', state: 'unavailable' } });
    } finally {
      await postgres!.start();
    }
    await expect.poll(async () => (await call(app, GET_2, 'down')).tier, { timeout: 15_000, interval: 200 }).toBe('fuzzy');
  });
});

describe('toolsim tools --writes', () => {
  it('lists which tools write and why, the flags winning over the names', async () => {
    const { path } = await cacheOf(RECORDS);
    const plain = await runCli(['tools', '--db', path, '--writes', '--json']);
    expect(plain.code, plain.stderr).toBe(0);
    const rows = (JSON.parse(plain.stdout) as { tools: { tool: string; writes: boolean; rule: string }[] }).tools;
    expect(rows.map((r) => [r.tool, r.writes, r.rule])).toEqual([
      ['list_messages', false, 'name'],
      ['cancel_order', true, 'name'],
      ['get_order', false, 'name'],
    ]);
    const flagged = await runCli(['tools', '--db', path, '--writes', '--read-only-tools', '^cancel_']);
    expect(flagged.stdout).toMatch(/cancel_order\s+no\s+it matches --read-only-tools \^cancel_/);
    const bad = await runCli(['tools', '--db', path, '--writes', '--write-tools', '(']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--write-tools "(" is not a regular expression');
  });
});

describe('rollout options', () => {
  it('refuses a --rollout-ttl that is not a duration, naming the flag', async () => {
    const { path } = await cacheOf(RECORDS);
    for (const ttl of ['soon', '0s', '500ms', '-1h']) {
      const result = await runCli(['serve', '--db', path, '--port', '0', `--rollout-ttl=${ttl}`]);
      expect(result.code, ttl).not.toBe(0);
      expect(result.stderr, ttl).toContain('--rollout-ttl must be a duration of at least 1s');
    }
  });
});
