/**
 * The MCP endpoint against the SDK's own client over a real socket: identity, tools, each tier,
 * an unknown tool, byte-faithful replay, and the methods a stateless server refuses. The fuzzy call
 * goes through the real fuzzy tier and SDK to a stand-in Messages API on 127.0.0.1.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { ingest } from '../src/ingest/ingest.js';
import { Store } from '../src/store/store.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, metricValue, onCleanup, ROOT, TAU_BENCH, TAU_BENCH_TOOLS, tempDir } from './helpers.js';
import { type FakeAnthropic, startFakeAnthropic } from './support/fake-anthropic.js';

const FIXTURES = join(ROOT, 'test/fixtures/transcripts');

/** What the stand-in Messages API improvises for a near call: a CallToolResult in the recordings' shape (structuredContent too). */
const IMPROVISED = {
  content: [{ type: 'text', text: 'Paris: 18°C sunny, 15°C rain, then 16°C cloudy' }],
  structuredContent: {
    city: 'Paris',
    days: [
      { high: 18, sky: 'sunny' },
      { high: 15, sky: 'rain' },
      { high: 16, sky: 'cloudy' },
    ],
  },
  isError: false,
};

/** The real fuzzy tier (real SDK) pointed at a stand-in Messages API on 127.0.0.1. */
function fuzzyAgainst(stand: FakeAnthropic): ReturnType<typeof createFuzzy>['tier'] {
  const defaults = resolveConfig(FUZZY_OPTIONS, {}, {});
  const fuzzy = createFuzzy({ ...defaults, apiKey: 'sk-test-secret', baseUrl: stand.url, llmRetries: 0 });
  onCleanup(() => fuzzy.close());
  return fuzzy.tier;
}

async function serving(): Promise<{ url: string; metrics: () => Promise<string>; stand: FakeAnthropic }> {
  const stand = await startFakeAnthropic({ kind: 'answer', output: IMPROVISED });
  onCleanup(() => stand.close());
  const store = Store.open(join(tempDir(), 'cache.db'));
  onCleanup(() => store.close());
  await ingest({ store, inputs: [join(FIXTURES, 'mcp-jsonrpc.jsonl'), join(FIXTURES, 'anthropic.jsonl')] });
  // A second server without a recorded identity, whose output is plain JSON rather than a CallToolResult.
  await ingest({ store, inputs: [writeNative()] });
  const { app, metrics } = await appOf(store, { fuzzy: fuzzyAgainst(stand) });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, metrics: () => metrics.registry.metrics(), stand };
}

function writeNative(): string {
  const dir = tempDir();
  const path = join(dir, 'geo.jsonl');
  const lines = [
    { server: 'geo', tool: 'locate', arguments: { city: 'Paris' }, output: { lat: 48.8566, lon: 2.3522 } },
    // A schema without "type": MCP clients refuse a tools/list holding one, so it is listed as an object schema.
    { kind: 'tool', server: 'geo', tool: 'distance', input_schema: { properties: { from: { type: 'string' } } } },
  ];
  writeFileSync(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return path;
}

async function connect(url: string, server: string): Promise<Client> {
  const client = new Client({ name: 'toolsim-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp/${server}`)));
  onCleanup(() => client.close());
  return client;
}

const rpc = (url: string, body: unknown, accept = 'application/json, text/event-stream'): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) });

describe('POST /mcp/{server}', () => {
  it('speaks MCP to the SDK client: identity, tools, exact, fuzzy, miss, unknown tool', async () => {
    const { url, metrics, stand } = await serving();
    const client = await connect(url, 'weather');

    expect(client.getServerVersion()).toEqual({ name: 'weather', version: '1.4.2' });
    expect(client.getInstructions()).toBe('Forecasts and alerts. Cities by name, US states by two-letter code.');

    const { tools } = await client.listTools();
    expect(tools).toEqual([
      {
        name: 'get_alerts',
        description: 'Active weather alerts for a US state',
        inputSchema: { type: 'object', properties: { state: { type: 'string' } }, required: ['state'] },
      },
      {
        name: 'get_forecast',
        description: 'Weather forecast for a city',
        inputSchema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
      },
    ]);

    const exact = await client.callTool({ name: 'get_forecast', arguments: { days: 2, city: 'Paris' } });
    expect(exact).toEqual({
      content: [{ type: 'text', text: 'Paris: 18°C sunny, then 15°C rain' }],
      structuredContent: {
        city: 'Paris',
        days: [
          { high: 18, sky: 'sunny' },
          { high: 15, sky: 'rain' },
        ],
      },
      isError: false,
    });
    expect(exact._meta).toBeUndefined();

    // A near call goes through the LLM (the stand-in), once; the same call again is memoized.
    const nearCall = { name: 'get_forecast', arguments: { city: 'Paris', days: 3 } };
    const fuzzy = await client.callTool(nearCall);
    expect(fuzzy._meta).toMatchObject({ 'toolsim/tier': 'fuzzy' });
    expect(fuzzy.content).toEqual(IMPROVISED.content);
    expect(fuzzy.isError).toBe(false);
    expect(stand.requests).toHaveLength(1);
    const user = (stand.requests[0]!.body['messages'] as { content: string }[])[0]!.content;
    expect(user).toContain('arguments: {"city":"Paris","days":3}');
    const again = await client.callTool(nearCall);
    expect(again).toEqual(fuzzy);
    expect(stand.requests).toHaveLength(1);

    const miss = await client.callTool({ name: 'get_alerts', arguments: { region: 'Bretagne', zoom: 4 } });
    expect(miss.isError).toBe(true);
    expect(miss._meta).toMatchObject({ 'toolsim/tier': 'miss', 'toolsim/reason': 'invalid_arguments' });
    expect(miss.content).toEqual([
      {
        type: 'text',
        text: 'Error: get_alerts: unknown argument "region"; unknown argument "zoom"; missing required argument "state"; it takes state (string, required)',
      },
    ]);

    const unknown = client.callTool({ name: 'get_tides', arguments: { port: 'Brest' } });
    await expect(unknown).rejects.toBeInstanceOf(McpError);
    // The closest known names come with it, as on /v1/call.
    await expect(unknown).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
      message: expect.stringMatching(/^MCP error -32602: Unknown tool: get_tides\. Available tools with similar names: \w/),
    });

    const text = await metrics();
    expect(metricValue(text, 'toolsim_calls_total{tier="exact",server="weather",tool="get_forecast"}')).toBe(1);
    expect(metricValue(text, 'toolsim_calls_total{tier="fuzzy",server="weather",tool="get_forecast"}')).toBe(2);
    expect(metricValue(text, 'toolsim_fuzzy_memo_hits_total')).toBe(1);
    // The miss (arguments the tool does not take) and the unknown tool never reached the LLM.
    expect(stand.requests).toHaveLength(1);
  });

  it('replays a recorded CallToolResult byte for byte, and wraps other outputs as text', async () => {
    const { url } = await serving();
    const headers = { id: 7, jsonrpc: '2.0' };
    const recorded = await rpc(`${url}/mcp/weather`, {
      ...headers,
      method: 'tools/call',
      params: { name: 'get_alerts', arguments: { state: 'CA' } },
    });
    expect(recorded.status).toBe(200);
    expect(recorded.headers.get('content-type')).toMatch(/application\/json/);
    // Key order and all, as the server sent it during exploration.
    expect(await recorded.text()).toBe(
      '{"result":{"isError":false,"content":[{"text":"No active alerts for CA","type":"text"}]},"jsonrpc":"2.0","id":7}',
    );

    const plain = await rpc(`${url}/mcp/geo`, {
      ...headers,
      method: 'tools/call',
      params: { name: 'locate', arguments: { city: 'Paris' } },
    });
    expect(await plain.json()).toEqual({
      result: { content: [{ type: 'text', text: '{"lat":48.8566,"lon":2.3522}' }], isError: false },
      jsonrpc: '2.0',
      id: 7,
    });
  });

  it('answers initialize without a recorded identity with the server name, lists object schemas', async () => {
    const { url } = await serving();
    const client = await connect(url, 'geo');
    expect(client.getServerVersion()?.name).toBe('geo');
    expect((await client.listTools()).tools).toEqual([
      { name: 'distance', inputSchema: { properties: { from: { type: 'string' } }, type: 'object' } },
      { name: 'locate', inputSchema: { type: 'object' } },
    ]);
  });

  it('refuses GET and DELETE with 405, an unknown server with 404, a client that cannot take JSON with 406', async () => {
    const { url } = await serving();
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(`${url}/mcp/weather`, { method, headers: { accept: 'text/event-stream' } });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
    const missing = await rpc(`${url}/mcp/nowhere`, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'not_found', message: 'no recorded server "nowhere"; recorded: geo, weather' } });
    const refused = await rpc(`${url}/mcp/weather`, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'text/html');
    expect(refused.status).toBe(406);
    const notJson = await fetch(`${url}/mcp/weather`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":',
    });
    expect(notJson.status).toBe(400);
  });
});

describe('POST /mcp (every recorded server)', () => {
  async function sample(): Promise<string> {
    const store = Store.open(join(tempDir(), 'cache.db'));
    onCleanup(() => store.close());
    await ingest({ store, inputs: [TAU_BENCH, TAU_BENCH_TOOLS] });
    const { app } = await appOf(store);
    return app.listen({ host: '127.0.0.1', port: 0 });
  }

  it('lists every server’s tools with their real schemas, shared names as mcp__<server>__<tool>, valid MCP names', async () => {
    const url = await sample();
    const client = new Client({ name: 'toolsim-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
    onCleanup(() => client.close());
    expect(client.getServerVersion()?.name).toBe('toolsim');
    expect(client.getInstructions()).toContain('mcp__<server>__<tool>');

    const { tools } = await client.listTools();
    expect(tools).toHaveLength(30);
    const names = tools.map((t) => t.name);
    // SEP-986 (the MCP SDK's toolNameValidation): 1 to 128 of A-Z a-z 0-9 _ - .; also within the 64 of OpenAI and Anthropic.
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('mcp__tau-bench-airline__get_user_details');
    expect(names).toContain('mcp__tau-bench-retail__get_user_details');
    expect(names).toContain('find_user_id_by_name_zip');
    expect(names).not.toContain('get_user_details');
    const find = tools.find((t) => t.name === 'find_user_id_by_name_zip')!;
    expect(find.inputSchema).toMatchObject({
      type: 'object',
      properties: { zip: { type: 'string' } },
      required: ['first_name', 'last_name', 'zip'],
    });
    // The same names as GET /v1/tools?format=mcp gives a trainer.
    const listed = (await (await fetch(`${url}/v1/tools?format=mcp`)).json()) as { tools: { name: string }[] };
    expect(listed.tools.map((t) => t.name)).toEqual(names);

    const exact = await client.callTool({
      name: 'find_user_id_by_name_zip',
      arguments: { first_name: 'Yusuf', last_name: 'Rossi', zip: '19122' },
    });
    expect(exact).toEqual({ content: [{ type: 'text', text: 'yusuf_rossi_9620' }], isError: false });
    const shared = await client.callTool({ name: 'mcp__tau-bench-retail__get_user_details', arguments: { user_id: 'yusuf_rossi_9620' } });
    expect(shared._meta).toBeUndefined();
    expect(JSON.stringify(shared.content)).toContain('Philadelphia');
    // A bare shared name is ambiguous here: not a listed tool.
    await expect(client.callTool({ name: 'get_user_details', arguments: { user_id: 'x' } })).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
    });
  });

  it('refuses GET and DELETE with 405 at /mcp too', async () => {
    const url = await sample();
    for (const method of ['GET', 'DELETE']) expect((await fetch(`${url}/mcp`, { method })).status).toBe(405);
  });
});
