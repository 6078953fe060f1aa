/**
 * Self-hosted Messages API servers (vLLM, SGLang, Ollama, llama.cpp) may ignore tool_choice and
 * answer with the `respond` object as JSON in a text block, and report no prompt caching. Through
 * the real SDK against the stand-in: such answers are accepted and checked exactly like a tool_use
 * answer; `toolsim llm-check` says which way a backend answered, with its latency and tokens.
 */
import { describe, expect, it } from 'vitest';
import { llmCheck } from '../src/commands/llm-check.js';
import { FUZZY_OPTIONS, resolveConfig } from '../src/config.js';
import { createFuzzy } from '../src/tiers/fuzzy/fuzzy-tier.js';
import { respondInputInText } from '../src/tiers/fuzzy/llm.js';
import { appOf, cacheOf, metricValue, onCleanup } from './helpers.js';
import { runCli } from './support/cli.js';
import { type Behaviour, startFakeAnthropic } from './support/fake-anthropic.js';

const RECORDS = ['Paris', 'London', 'Berlin'].map((city, i) => ({
  server: 'weather',
  tool: 'get_weather',
  arguments: { city, unit: 'C' },
  output: { city, temp: 14 + i, unit: 'C' },
}));
const NEAR = { server: 'weather', tool: 'get_weather', arguments: { city: 'Pariss', unit: 'C' } };
const IMPROVISED = { city: 'Pariss', temp: 19, unit: 'C' };

async function serving(initial: Behaviour) {
  const stand = await startFakeAnthropic(initial);
  onCleanup(() => stand.close());
  const { store } = await cacheOf(RECORDS);
  const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'local', baseUrl: stand.url, llmRetries: 0 });
  onCleanup(() => fuzzy.close());
  const app = await appOf(store, { fuzzy: fuzzy.tier });
  const call = async () => (await app.app.inject({ method: 'POST', url: '/v1/call', payload: NEAR })).json();
  return { stand, app, call };
}

describe('answers given as JSON in a text block', () => {
  it('accepts the respond object as bare JSON and inside a ```json fence, and counts tokens without cache fields', async () => {
    for (const fence of [false, true]) {
      const { call, app } = await serving({ kind: 'text-answer', output: IMPROVISED, fence });
      expect(await call()).toMatchObject({ tier: 'fuzzy', output: IMPROVISED, is_error: false });
      const metrics = await app.metrics.registry.metrics();
      expect(metricValue(metrics, 'toolsim_llm_requests_total{outcome="ok"}')).toBe(1);
      expect(metricValue(metrics, 'toolsim_llm_tokens_total{type="input"}')).toBe(300);
      expect(metricValue(metrics, 'toolsim_llm_tokens_total{type="cache_read"}')).toBe(0);
    }
  });

  it('checks a text answer like a tool_use answer: a wrong JSON type is asked again, then refused', async () => {
    const { call, stand } = await serving({ kind: 'text-answer', output: 'sunny, 19 degrees' });
    expect(await call()).toMatchObject({ tier: 'miss', reason: 'llm_invalid_output', is_error: true });
    expect(stand.requests).toHaveLength(2);
    const retry = (stand.requests[1]!.body['messages'] as { content: string }[])[0]!.content;
    expect(retry).toContain('the output is a string, but the recorded outputs are an object');
  });

  it('reads the shapes chat templates give a tool call, and refuses text without a respond object', () => {
    const input = { output: { a: 1 }, is_error: false };
    expect(respondInputInText(JSON.stringify(input))).toEqual(input);
    expect(respondInputInText(`<think>the user wants {"x": 1}</think>\n\`\`\`json\n${JSON.stringify(input)}\n\`\`\``)).toEqual(input);
    expect(respondInputInText(`<tool_call>\n{"name": "respond", "arguments": ${JSON.stringify(input)}}\n</tool_call>`)).toEqual(input);
    expect(respondInputInText(`Sure! {"name": "respond", "input": ${JSON.stringify(input)}} Hope this helps.`)).toEqual(input);
    expect(respondInputInText('{"name": "other", "arguments": {"output": 1}}')).toBeUndefined();
    expect(respondInputInText('{"result": 1}')).toBeUndefined();
    expect(respondInputInText('I think it is sunny')).toBeUndefined();
    expect(respondInputInText('')).toBeUndefined();
  });

  it('still prefers a respond tool_use block when there is one', async () => {
    const { call } = await serving({ kind: 'answer', output: IMPROVISED });
    expect(await call()).toMatchObject({ tier: 'fuzzy', output: IMPROVISED });
  });
});

describe('toolsim llm-check', () => {
  const options = (url: string) => ({ apiKey: 'local', baseUrl: url, model: 'qwen3-8b', llmOutputTokens: 512, llmDeadlineMs: 5000 });

  it('reports forced tool use honoured, or a text answer accepted, with latency and tokens', async () => {
    const stand = await startFakeAnthropic({ kind: 'answer', output: { city: 'Berlin', temp: 12, unit: 'C', sky: 'cloudy' } });
    onCleanup(() => stand.close());
    const honoured = await llmCheck(options(stand.url));
    expect(honoured).toMatchObject({ ok: true, answeredBy: 'tool_use', forcedToolUseHonoured: true, model: 'qwen3-8b' });
    expect(honoured.tokens).toEqual({ input: 100, output: 20, cacheRead: 0, cacheWrite: 0 });
    expect(honoured.latencyMs).toBeGreaterThanOrEqual(0);
    expect(stand.requests[0]!.body['tool_choice']).toEqual({ type: 'tool', name: 'respond' });

    stand.setDefault({ kind: 'text-answer', output: { city: 'Berlin', temp: 12, unit: 'C', sky: 'cloudy' }, fence: true });
    expect(await llmCheck(options(stand.url))).toMatchObject({ ok: true, answeredBy: 'text', forcedToolUseHonoured: false });

    stand.setDefault({ kind: 'text', text: 'It is cloudy in Berlin.' });
    expect(await llmCheck(options(stand.url))).toMatchObject({ ok: false, answeredBy: 'none' });

    stand.setDefault({ kind: 'text-answer', output: 'cloudy' });
    expect(await llmCheck(options(stand.url))).toMatchObject({ ok: false, answeredBy: 'text', problem: expect.stringContaining('string') });

    stand.setDefault({ kind: 'status', status: 500 });
    expect(await llmCheck(options(stand.url))).toMatchObject({ ok: false, answeredBy: 'failed' });
  });

  it('runs from the command line against the configured backend, exit 0 when usable', async () => {
    const stand = await startFakeAnthropic({ kind: 'text-answer', output: { city: 'Berlin', temp: 12, unit: 'C', sky: 'cloudy' } });
    onCleanup(() => stand.close());
    const env = { PATH: process.env['PATH'] ?? '', ANTHROPIC_API_KEY: 'local', ANTHROPIC_BASE_URL: stand.url, TOOLSIM_MODEL: 'llama3' };
    const checked = await runCli(['llm-check'], { env });
    expect(checked.code, checked.stderr).toBe(0);
    const { stdout } = checked;
    expect(stdout).toContain('JSON in a text block (forced tool use NOT honoured; accepted)');
    expect(stdout).toMatch(/tokens\s+input 300, output 40, cache read 0, cache write 0/);
    expect(stdout).toContain('ok: the fuzzy tier can use this backend');
    const json = JSON.parse((await runCli(['llm-check', '--json'], { env })).stdout);
    expect(json).toMatchObject({ ok: true, answeredBy: 'text', model: 'llama3' });

    stand.setDefault({ kind: 'status', status: 404 });
    expect(await runCli(['llm-check'], { env })).toMatchObject({ code: 1 });
    expect(await runCli(['llm-check'], { env: { PATH: env.PATH, ANTHROPIC_BASE_URL: stand.url } })).toMatchObject({ code: 2 });
  });
});
