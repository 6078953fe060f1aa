/** Transcript ingest: every format gives the keys its native log gives, and replays exactly. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/ingest/ingest.js';
import { Store } from '../src/store/store.js';
import { appOf, cacheOf, onCleanup, ROOT, tempDir, writeLog } from './helpers.js';

const FIXTURES = join(ROOT, 'test/fixtures/transcripts');
const fixture = (name: string): string => join(FIXTURES, name);

/** Each fixture holds the two native calls, plus one call without a result. */
const CASES = [
  { file: 'openai-chat.jsonl', format: 'openai-chat' },
  { file: 'openai-responses.json', format: 'openai-responses', server: 'weather' },
  { file: 'anthropic.jsonl', format: 'anthropic' },
  { file: 'claude-code.jsonl', format: 'claude-code' },
  { file: 'mcp-jsonrpc.jsonl', format: 'mcp-jsonrpc' },
  { file: 'hermes.jsonl', format: 'hermes', server: 'weather' },
] as const;

interface Ingested {
  store: Store;
  problems: string[];
  summary: Awaited<ReturnType<typeof ingest>>;
}

async function ingestInto(inputs: string[], options: { format?: string; server?: string } = {}): Promise<Ingested> {
  const store = Store.open(join(tempDir(), 'cache.db'));
  const problems: string[] = [];
  const summary = await ingest({ store, inputs, ...options, onProblem: (p) => problems.push(p) });
  return { store, problems, summary };
}

/** The distinct recorded calls, by key. */
function keys(store: Store): string[] {
  const distinct = new Set(
    [...store.recordedCalls()].map((c) => JSON.stringify({ key: c.key, server: c.server, tool: c.tool, arguments: c.arguments })),
  );
  return [...distinct].sort();
}

describe('transcript ingest', () => {
  it.each(CASES)('$format: the same keys as the native log, tool definitions in the catalog, the unanswered call reported', async (c) => {
    const native = await ingestInto([fixture('native.jsonl')]);
    const server = 'server' in c ? { server: c.server } : {};
    const { store, problems, summary } = await ingestInto([fixture(c.file)], { format: c.format, ...server });
    try {
      expect(summary.rejected).toBe(0);
      expect(keys(store)).toEqual(keys(native.store));
      expect(keys(store)).toHaveLength(2);
      expect(summary.unpaired).toBeGreaterThanOrEqual(1);
      expect(problems.some((p) => p.includes('has no result') || p.includes('no <tool_response>'))).toBe(true);
      // The unanswered call is never stored.
      expect([...store.recordedCalls()].filter((c) => c.arguments.includes('NY') || c.arguments.includes('Oslo'))).toEqual([]);
      const catalog = store.catalog();
      expect(catalog.map((t) => `${t.server}/${t.tool}`)).toEqual(['weather/get_alerts', 'weather/get_forecast']);
      // Claude Code logs hold no tool definitions.
      const described = c.format !== 'claude-code';
      expect(catalog.every((t) => (t.description !== undefined && t.input_schema !== undefined) === described)).toBe(true);
    } finally {
      store.close();
      native.store.close();
    }
  });

  it('auto detects each file on its own, and says which format it read', async () => {
    const { store, summary } = await ingestInto([fixture('native.jsonl'), ...CASES.map((c) => fixture(c.file))], { server: 'weather' });
    try {
      expect(Object.values(summary.formats)).toEqual(['toolsim', ...CASES.map((c) => c.format)]);
      expect(summary.rejected).toBe(0);
      expect(keys(store)).toHaveLength(2);
    } finally {
      store.close();
    }
  });

  it.each(CASES)('$format: replays what it recorded, exactly', async (c) => {
    const server = 'server' in c ? { server: c.server } : {};
    const { store } = await ingestInto([fixture(c.file)], { format: c.format, ...server });
    const { simulator } = await appOf(store);
    const forecast = await simulator.resolve({ tool: 'get_forecast', arguments: { days: 2, city: 'Paris' } });
    const alerts = await simulator.resolve({ server: 'weather', tool: 'get_alerts', arguments: '{"state": "CA"}' });
    const missed = await simulator.resolve({ tool: 'get_alerts', arguments: { state: 'NY' } });
    expect([forecast.tier, alerts.tier, missed.tier]).toEqual(['exact', 'exact', 'miss']);
    expect(forecast.outputJson).toContain('Paris: 18°C sunny, then 15°C rain');
    expect(alerts.outputJson).toContain('No active alerts for CA');
  });

  it('stores MCP results as the CallToolResult objects they were, byte for byte, and the server identity', async () => {
    const { store, problems } = await ingestInto([fixture('mcp-jsonrpc.jsonl')]);
    const outputs = [...store.recordedCalls()].map((c) => c.outputJson);
    expect(outputs).toEqual([
      '{"content":[{"type":"text","text":"Paris: 18°C sunny, then 15°C rain"}],"structuredContent":{"city":"Paris","days":[{"high":18,"sky":"sunny"},{"high":15,"sky":"rain"}]},"isError":false}',
      '{"isError":false,"content":[{"text":"No active alerts for CA","type":"text"}]}',
    ]);
    expect(store.serverInfo('weather')).toEqual({
      name: 'weather',
      version: '1.4.2',
      instructions: 'Forecasts and alerts. Cities by name, US states by two-letter code.',
      protocol_version: '2025-06-18',
    });
    // A JSON-RPC error is not a tool result: reported, not stored.
    expect(problems.some((p) => p.includes('get_tides') && p.includes('JSON-RPC error'))).toBe(true);
  });

  it('--server names the server of calls whose names do not, and mcp__ names win over it', async () => {
    const dir = tempDir();
    const file = writeLog(dir, 'chat.jsonl', [
      {
        messages: [
          {
            role: 'assistant',
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } },
              { id: 'c2', type: 'function', function: { name: 'mcp__files__read', arguments: '{"path":"/a"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'found' },
          { role: 'tool', tool_call_id: 'c2', content: 'text of a' },
          { role: 'tool', tool_call_id: 'c9', content: 'orphan' },
        ],
      },
    ]);
    const { store, problems, summary } = await ingestInto([file], { server: 'search' });
    expect(store.catalog().map((t) => `${t.server}/${t.tool}`)).toEqual(['files/read', 'search/lookup']);
    expect(summary.unpaired).toBe(1);
    expect(problems).toEqual([`${file}:1: result for call id "c9", which has no call before it; not stored`]);
  });

  it('reports malformed transcript content by line and keeps the rest', async () => {
    const dir = tempDir();
    const file = writeLog(dir, 'anthropic.jsonl', [
      {
        messages: [
          {
            role: 'assistant',
            content: [
              { type: 'tool_use', id: 't1', name: 'mcp__s__ok', input: { a: 1 } },
              { type: 'tool_use', id: 't2', name: 'mcp__s__bad', input: [1, 2] },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 't1', content: 'fine' },
              { type: 'tool_result', tool_use_id: 't2', content: 'x' },
            ],
          },
        ],
      },
      'not json at all',
    ]);
    const { store, problems, summary } = await ingestInto([file], { format: 'anthropic' });
    expect(store.callCount()).toBe(1);
    expect(summary.rejected).toBe(2);
    expect(problems[0]).toMatch(/anthropic\.jsonl:1: arguments must be an object, got an array/);
    expect(problems[1]).toMatch(/anthropic\.jsonl:2: not JSON/);
  });

  it('reads a .json document whole, but no larger than the line limit', async () => {
    const store = Store.open(join(tempDir(), 'cache.db'));
    onCleanup(() => store.close());
    const problems: string[] = [];
    const summary = await ingest({
      store,
      inputs: [fixture('openai-responses.json')],
      server: 'weather',
      maxLineBytes: 400,
      onProblem: (p) => problems.push(p),
    });
    expect(summary.failedInputs).toBe(1);
    expect(store.callCount()).toBe(0);
    expect(problems[0]).toMatch(/openai-responses\.json:\d+: input ends here: a JSON document larger than 400 characters/);
  });

  it('reads JSON Lines named .json line by line when the file is not one document', async () => {
    const dir = tempDir();
    const file = writeLog(dir, 'calls.json', [
      { server: 's', tool: 't', arguments: { a: 1 }, output: 1 },
      'oops',
      { server: 's', tool: 't', arguments: { a: 2 }, output: 2 },
    ]);
    const { store, problems } = await ingestInto([file]);
    expect(store.callCount()).toBe(2);
    expect(problems).toEqual([expect.stringMatching(/calls\.json:2: not JSON/)]);
  });

  it('leaves native logs as they were: a bad first line is reported, the rest ingested', async () => {
    const cache = await cacheOf(['{"server": "s"}', { server: 's', tool: 't', arguments: {}, output: 1 }]);
    expect(cache.summary.callsAdded).toBe(1);
    expect(cache.problems).toEqual([expect.stringMatching(/:1: missing "tool"$/)]);
  });
});
