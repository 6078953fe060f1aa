/**
 * Tool records' output schemas and MCP annotations: ingest (native and MCP transcripts), the
 * cache (layout 3, a layout 2 cache read and upgraded), the catalog, GET /v1/tools in every format,
 * `toolsim tools` (and --json with learnt shapes), and output shapes learnt in the worker.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { OutputShapes } from '../src/neighbors/output-shapes.js';
import { misfits } from '../src/shapes/guard.js';
import { learnFromStored } from '../src/shapes/learn.js';
import { Sqlite } from '../src/store/sqlite.js';
import { Store } from '../src/store/store.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { appOf, cacheOf, onCleanup, ROOT, TAU_BENCH, TAU_BENCH_TOOLS, tempDir, writeLog } from './helpers.js';
import { startFakeAnthropic } from './support/fake-anthropic.js';

const CLI = join(ROOT, 'dist/src/cli.js');

const FORECAST_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, temperature: { type: 'number' } },
  required: ['city', 'temperature'],
};
const READ_ONLY = { readOnlyHint: true, openWorldHint: false, title: 'Forecast' };

const weatherRecords = [
  {
    kind: 'tool',
    server: 'weather',
    tool: 'get_forecast',
    description: 'Forecast',
    output_schema: FORECAST_SCHEMA,
    annotations: READ_ONLY,
  },
  { server: 'weather', tool: 'get_forecast', arguments: { city: 'Paris' }, output: { city: 'Paris', temperature: 21 } },
  { server: 'weather', tool: 'get_forecast', arguments: { city: 'Nowhere' }, output: 'no such city', is_error: true },
  // Declared, but a recorded answer does not fit: never listed on MCP.
  { kind: 'tool', server: 'weather', tool: 'get_alerts', output_schema: { type: 'object', required: ['alerts'] } },
  { server: 'weather', tool: 'get_alerts', arguments: { state: 'CA' }, output: { warnings: [] } },
  { kind: 'tool', server: 'weather', tool: 'set_alarm', annotations: { readOnlyHint: false, destructiveHint: false, futureHint: 'kept' } },
];

describe('tool records with output_schema and annotations', () => {
  it('are stored, checked against the recorded answers, and listed in every format', async () => {
    const cache = await cacheOf(weatherRecords);
    expect(cache.problems).toEqual([]);
    const byName = new Map(cache.store.catalog().map((t) => [t.tool, t]));
    expect(byName.get('get_forecast')).toMatchObject({
      output_schema: FORECAST_SCHEMA,
      annotations: READ_ONLY,
      // The error is not checked: a declared schema describes successes.
      output_check: { answers: 1, misfits: 0 },
    });
    expect(byName.get('get_alerts')?.output_check).toEqual({
      answers: 1,
      misfits: 1,
      example: '$ has no key "alerts", which the declared output schema requires',
    });
    expect(byName.get('set_alarm')).toMatchObject({ annotations: { readOnlyHint: false, destructiveHint: false, futureHint: 'kept' } });
    expect(byName.get('set_alarm')?.output_check).toBeUndefined();

    const { app } = await appOf(cache.store);
    const get = async (query: string) => (await app.inject({ method: 'GET', url: `/v1/tools${query}` })).json();
    const native = (await get('')).tools as Record<string, unknown>[];
    expect(native.find((t) => t['tool'] === 'get_forecast')).toMatchObject({ output_schema: FORECAST_SCHEMA, annotations: READ_ONLY });
    expect(native.find((t) => t['tool'] === 'get_alerts')).toMatchObject({ output_check: { misfits: 1 } });

    const mcp = await get('?format=mcp');
    expect(mcp.tools).toEqual([
      { name: 'get_alerts', inputSchema: { type: 'object' } },
      {
        name: 'get_forecast',
        description: 'Forecast',
        inputSchema: { type: 'object' },
        outputSchema: FORECAST_SCHEMA,
        annotations: READ_ONLY,
      },
      {
        name: 'set_alarm',
        inputSchema: { type: 'object' },
        annotations: { readOnlyHint: false, destructiveHint: false, futureHint: 'kept' },
      },
    ]);
    // OpenAI and Anthropic take no such fields in a tool: they go beside the list, by listed name.
    const openai = await get('?format=openai');
    expect(openai.tools[1]).toEqual({
      type: 'function',
      function: { name: 'get_forecast', description: 'Forecast', parameters: { type: 'object' } },
    });
    expect(openai.toolsim).toEqual({
      get_alerts: { server: 'weather', tool: 'get_alerts', output_schema: { type: 'object', required: ['alerts'] } },
      get_forecast: { server: 'weather', tool: 'get_forecast', output_schema: FORECAST_SCHEMA, annotations: READ_ONLY },
      set_alarm: { server: 'weather', tool: 'set_alarm', annotations: { readOnlyHint: false, destructiveHint: false, futureHint: 'kept' } },
    });
    expect((await get('?format=anthropic')).toolsim).toEqual(openai.toolsim);
    // A server that was never recorded is a 404, as /mcp/{server} is.
    expect(await get('?format=anthropic&server=none')).toMatchObject({ error: { code: 'not_found' } });
  });

  it('keep what a later record leaves out, and take what it gives', async () => {
    const cache = await cacheOf([
      { kind: 'tool', server: 's', tool: 't', annotations: { readOnlyHint: true } },
      { kind: 'tool', server: 's', tool: 't', description: 'later' },
      { kind: 'tool', server: 's', tool: 't', output_schema: { type: 'object' } },
    ]);
    expect(cache.store.catalog()).toEqual([
      {
        server: 's',
        tool: 't',
        description: 'later',
        annotations: { readOnlyHint: true },
        output_schema: { type: 'object' },
        output_check: { answers: 0, misfits: 0 },
        calls: 0,
      },
    ]);
  });

  it('are rejected, with the reason, when malformed', async () => {
    const cache = await cacheOf([
      { kind: 'tool', tool: 'a', annotations: [true] },
      { kind: 'tool', tool: 'b', annotations: { readOnlyHint: 'yes' } },
      { kind: 'tool', tool: 'c', annotations: { title: 7 } },
      { kind: 'tool', tool: 'd', output_schema: [{ type: 'object' }] },
      { kind: 'tool', tool: 'e', output_schema: 'object' },
      { kind: 'tool', tool: 'f', annotations: { readOnlyHint: null } },
      { kind: 'tool', tool: 'g', output_schema: { type: 'object', description: 'x'.repeat(300_000) } },
    ]);
    expect(cache.problems.map((p) => p.replace(/^.*log\.jsonl:/, ''))).toEqual([
      '1: "annotations" must be an object (MCP ToolAnnotations)',
      '2: "annotations.readOnlyHint" must be a boolean',
      '3: "annotations.title" must be a string',
      '4: "output_schema" must be a JSON Schema object',
      '5: "output_schema" must be a JSON Schema object',
      '7: "output_schema" is 300034 characters of JSON, over the limit of 262144',
    ]);
    // A hint recorded as null says nothing.
    expect(cache.store.catalog()).toEqual([{ server: 'default', tool: 'f', annotations: {}, calls: 0 }]);
  });

  it('are read from MCP tools/list results in transcripts (outputSchema, annotations)', async () => {
    const dir = tempDir();
    const log = writeLog(dir, 'session.jsonl', [
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      {
        jsonrpc: '2.0',
        id: 1,
        result: {
          tools: [
            { name: 'get_forecast', inputSchema: { type: 'object' }, outputSchema: FORECAST_SCHEMA, annotations: READ_ONLY },
            { name: 'delete_city', inputSchema: { type: 'object' }, annotations: { destructiveHint: true } },
          ],
        },
      },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get_forecast', arguments: { city: 'Oslo' } } },
      {
        jsonrpc: '2.0',
        id: 2,
        result: {
          content: [{ type: 'text', text: '{"city":"Oslo","temperature":3}' }],
          structuredContent: { city: 'Oslo', temperature: 3 },
        },
      },
    ]);
    const db = join(dir, 'cache.db');
    execFileSync(process.execPath, [CLI, 'ingest', '--db', db, '--server', 'weather', log], { encoding: 'utf8' });
    const store = Store.open(db, { readonly: true });
    onCleanup(() => store.close());
    expect(store.catalog()).toEqual([
      { server: 'weather', tool: 'delete_city', input_schema: { type: 'object' }, annotations: { destructiveHint: true }, calls: 0 },
      {
        server: 'weather',
        tool: 'get_forecast',
        input_schema: { type: 'object' },
        output_schema: FORECAST_SCHEMA,
        annotations: READ_ONLY,
        // The recorded CallToolResult's structuredContent is what was checked.
        output_check: { answers: 1, misfits: 0 },
        calls: 1,
      },
    ]);
    const printed = JSON.parse(execFileSync(process.execPath, [CLI, 'tools', '--db', db, '--format', 'mcp'], { encoding: 'utf8' })) as {
      tools: Record<string, unknown>[];
    };
    expect(printed.tools[1]).toMatchObject({ name: 'get_forecast', outputSchema: FORECAST_SCHEMA, annotations: READ_ONLY });
  });
});

describe('MCP tools/list and tools/call, as the SDK client sees them', () => {
  it('lists annotations, and outputSchema only where the recorded answers fit; such tools answer with structuredContent', async () => {
    const cache = await cacheOf([
      ...weatherRecords,
      // Listed with its schema: a plain object answer, carried as structuredContent.
      { server: 'weather', tool: 'get_forecast', arguments: { city: 'Oslo' }, output: { city: 'Oslo', temperature: 3 } },
      // A declared schema that is not an object schema is never an MCP outputSchema.
      { kind: 'tool', server: 'weather', tool: 'get_uv', output_schema: { type: 'number' } },
      { server: 'weather', tool: 'get_uv', arguments: { city: 'Oslo' }, output: 2 },
    ]);
    const stand = await startFakeAnthropic({ kind: 'answer', output: { city: 'Rome', temperature: 24 } });
    onCleanup(() => stand.close());
    const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-test', baseUrl: stand.url, llmRetries: 0 });
    onCleanup(() => fuzzy.close());
    const { app } = await appOf(cache.store, { fuzzy: fuzzy.tier });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const client = new Client({ name: 'toolsim-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp/weather`)));
    onCleanup(() => client.close());
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect(byName.get('get_forecast')).toMatchObject({ outputSchema: FORECAST_SCHEMA, annotations: READ_ONLY });
    expect(byName.get('get_alerts')?.outputSchema).toBeUndefined();
    expect(byName.get('get_uv')?.outputSchema).toBeUndefined();
    expect(byName.get('set_alarm')?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    // The client validates structuredContent against the listed outputSchema: an exact replay passes.
    const exact = await client.callTool({ name: 'get_forecast', arguments: { city: 'Oslo' } });
    expect(exact.structuredContent).toEqual({ city: 'Oslo', temperature: 3 });
    expect(exact.content).toEqual([{ type: 'text', text: '{"city":"Oslo","temperature":3}' }]);
    // An improvised answer held to the declared schema, carried the same way.
    const improvised = await client.callTool({ name: 'get_forecast', arguments: { city: 'Rome' } });
    expect(improvised.structuredContent).toEqual({ city: 'Rome', temperature: 24 });
    expect(improvised._meta).toMatchObject({ 'toolsim/tier': 'fuzzy' });
    // A recorded error is an error result: not validated, no structuredContent.
    const error = await client.callTool({ name: 'get_forecast', arguments: { city: 'Nowhere' } });
    expect(error).toMatchObject({ isError: true });
    expect(error.structuredContent).toBeUndefined();
    // A tool without a listed schema keeps the plain text content.
    const alerts = await client.callTool({ name: 'get_alerts', arguments: { state: 'CA' } });
    expect(alerts.structuredContent).toBeUndefined();
  });
});

describe('cache layout 3', () => {
  it('reads a layout 2 cache in place and upgrades it when an ingest opens it', async () => {
    const cache = await cacheOf([{ tool: 't', arguments: {}, output: 1 }]);
    cache.store.close();
    // What a version 2 cache looks like: no output_schema, annotations or output_check columns.
    const db = new Sqlite(cache.path);
    for (const column of ['output_schema', 'annotations', 'output_check']) db.exec(`ALTER TABLE tools DROP COLUMN ${column}`);
    db.exec("UPDATE meta SET value = '2' WHERE name = 'schema_version'");
    db.close();
    const reading = Store.open(cache.path, { readonly: true });
    expect(reading.catalog()).toEqual([{ server: 'default', tool: 't', calls: 1 }]);
    reading.close();
    const upgraded = execFileSync(
      process.execPath,
      [CLI, 'ingest', '--db', cache.path, writeLog(tempDir(), 'tools.jsonl', [{ kind: 'tool', tool: 't', annotations: READ_ONLY }])],
      { encoding: 'utf8' },
    );
    expect(upgraded).toContain('tool records');
    const after = Store.open(cache.path, { readonly: true });
    onCleanup(() => after.close());
    expect(after.catalog()).toEqual([{ server: 'default', tool: 't', annotations: READ_ONLY, calls: 1 }]);
    const check = new Sqlite(cache.path, { readonly: true });
    expect((check.prepare("SELECT value FROM meta WHERE name = 'schema_version'").get() as { value: string }).value).toBe('3');
    check.close();
  });
});

describe('output shapes of a cache', () => {
  it('are learnt in the neighbour index worker as they are here, and shown by toolsim tools --json', async () => {
    const cache = await cacheOf([TAU_BENCH, TAU_BENCH_TOOLS]);
    const shapes = new OutputShapes(cache.store, cache.store.catalog());
    const tool = { server: 'tau-bench-retail', tool: 'get_order_details' };
    expect(shapes.isReady(tool.server, tool.tool)).toBe(false);
    await shapes.ready(tool.server, tool.tool);
    const learnt = shapes.guideOf(tool.server, tool.tool)!.shape;
    expect(learnt).toEqual(learnFromStored(cache.store.outputsOf(tool.server, tool.tool)));
    // 248 answers of JSON text and one recorded error.
    expect(learnt.answers).toBe(249);
    expect(learnt.success?.text?.kinds).toEqual({ object: 248 });
    expect(misfits({ shape: learnt }, { output: JSON.stringify({ order_id: '#W1' }), isError: false }).length).toBeGreaterThan(3);

    const printed = JSON.parse(
      execFileSync(process.execPath, [CLI, 'tools', '--db', cache.path, '--server', 'tau-bench-retail', '--json'], { encoding: 'utf8' }),
    ) as { tools: Record<string, unknown>[] };
    const listed = printed.tools.find((t) => t['tool'] === 'get_order_details')!;
    expect(listed).toMatchObject({
      server: 'tau-bench-retail',
      annotations: { readOnlyHint: true },
      output_shape: { answers: 249, success: { type: 'string', contentMediaType: 'application/json' } },
    });
    const schema = (listed['output_shape'] as { success: { contentSchema: { required: string[] } } }).success.contentSchema;
    expect(schema.required).toEqual(expect.arrayContaining(['order_id', 'user_id', 'items', 'status']));

    // toolsim explain shows what an improvised answer would be held to.
    const explained = execFileSync(
      process.execPath,
      [
        CLI,
        'explain',
        '--db',
        cache.path,
        '--server',
        'tau-bench-retail',
        '--tool',
        'get_order_details',
        '--arguments',
        '{"order_id":"#W0"}',
      ],
      { encoding: 'utf8', env: { ...process.env, ANTHROPIC_API_KEY: '' } },
    );
    expect(explained).toContain('an improvised answer is held to the shape learnt from 249 recorded answer(s)');
    expect(explained).toContain('"contentMediaType": "application/json"');
  });
});
