/**
 * `toolsim llm-check`: one real improvisation sent to the configured Messages API backend, to see
 * before a run whether it fits the improviser protocol (docs/improviser-protocol.md): whether it
 * honoured the forced `respond` tool or answered in text, whether the answer passes the checks,
 * how long it took and the tokens it reported (a self-hosted server reports no prompt caching).
 */
import { resolveConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { table } from '../core/format.js';
import type { Json, Observation } from '../core/types.js';
import { checkAnswer } from '../tiers/fuzzy/answer-check.js';
import { AnthropicLlm, respondAnswer, type TokenUsage } from '../tiers/fuzzy/llm.js';
import { buildPrompt, type Example } from '../tiers/fuzzy/prompt.js';
import type { Command } from './command.js';

const LLM_CHECK_OPTIONS = ['apiKey', 'baseUrl', 'model', 'llmOutputTokens', 'llmDeadlineMs', 'json'] as const;

/** A small improvisation any model can make: the weather of a city not recorded. */
const TOOL = {
  server: 'weather',
  tool: 'get_weather',
  description: 'Current weather of a city.',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['C', 'F'] } },
    required: ['city'],
  },
};
const EXAMPLES: Example[] = [
  {
    arguments: { city: 'Paris', unit: 'C' },
    outputJson: '{"city":"Paris","temp":18,"unit":"C","sky":"sunny"}',
    isError: false,
    similarity: 0.8,
  },
  {
    arguments: { city: 'London', unit: 'C' },
    outputJson: '{"city":"London","temp":14,"unit":"C","sky":"rain"}',
    isError: false,
    similarity: 0.75,
  },
];
const NEW_CALL = { city: 'Berlin', unit: 'C' };

export interface LlmCheckResult {
  baseUrl: string;
  model: string;
  /** An answer was accepted, as the fuzzy tier would accept it. */
  ok: boolean;
  /** How the model answered: the forced tool (honoured), JSON in text (accepted too), neither, or the request failed. */
  answeredBy: 'tool_use' | 'text' | 'none' | 'failed';
  forcedToolUseHonoured: boolean;
  latencyMs: number;
  tokens?: TokenUsage;
  output?: Json;
  isError?: unknown;
  /** Why the answer was refused, or the failure. */
  problem?: string;
}

export async function llmCheck(config: {
  apiKey: string;
  baseUrl: string;
  model: string;
  llmOutputTokens: number;
  llmDeadlineMs: number;
}): Promise<LlmCheckResult> {
  const llm = new AnthropicLlm({
    apiKey: config.apiKey,
    baseURL: config.baseUrl,
    model: config.model,
    maxRetries: 0,
    timeoutMs: config.llmDeadlineMs,
    maxOutputTokens: config.llmOutputTokens,
  });
  const prompt = buildPrompt(TOOL, EXAMPLES, NEW_CALL, 6000);
  const base = { baseUrl: config.baseUrl, model: config.model };
  const started = performance.now();
  const reply = await llm.ask({ system: prompt.system, user: prompt.user, signal: AbortSignal.timeout(config.llmDeadlineMs) });
  const latencyMs = Math.round(performance.now() - started);
  if (reply.kind === 'failed') {
    return {
      ...base,
      ok: false,
      answeredBy: 'failed',
      forcedToolUseHonoured: false,
      latencyMs,
      problem: `${reply.outcome}: ${reply.message}`,
    };
  }
  if (reply.kind === 'no_answer') {
    return {
      ...base,
      ok: false,
      answeredBy: 'none',
      forcedToolUseHonoured: false,
      latencyMs,
      tokens: reply.usage,
      problem: 'no call of the respond tool and no respond object in the text',
    };
  }
  const answer = respondAnswer(reply.input);
  const observations: Observation[] = EXAMPLES.map((e) => ({ outputJson: e.outputJson, isError: e.isError }));
  const checked = checkAnswer(answer?.output, answer?.isError, observations);
  return {
    ...base,
    ok: checked.ok,
    answeredBy: reply.via,
    forcedToolUseHonoured: reply.via === 'tool_use',
    latencyMs,
    tokens: reply.usage,
    ...(answer ? { output: answer.output, isError: answer.isError } : {}),
    ...(checked.ok ? {} : { problem: checked.reason }),
  };
}

export const llmCheckCommand: Command = {
  usage: 'toolsim llm-check [--anthropic-base-url URL] [--model NAME] [--json]',
  summary: 'send one improvisation to the configured LLM backend: forced tool use honoured?, latency, tokens',
  options: LLM_CHECK_OPTIONS,
  async run(values) {
    const config = resolveConfig(LLM_CHECK_OPTIONS, values);
    if (config.apiKey === '')
      throw new ConfigError('llm-check needs an API key: set ANTHROPIC_API_KEY (any value for a self-hosted server that checks none)');
    const result = await llmCheck(config);
    if (config.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return result.ok ? 0 : 1;
    }
    const answered = {
      tool_use: 'the respond tool (forced tool use honoured)',
      text: 'JSON in a text block (forced tool use NOT honoured; accepted)',
      none: 'neither a respond call nor a respond object in text',
      failed: 'no answer: the request failed',
    }[result.answeredBy];
    const rows: [string, string][] = [
      ['backend', result.baseUrl],
      ['model', result.model],
      ['answered with', answered],
      ['latency', `${result.latencyMs} ms`],
    ];
    if (result.tokens) {
      const t = result.tokens;
      rows.push(['tokens', `input ${t.input}, output ${t.output}, cache read ${t.cacheRead}, cache write ${t.cacheWrite}`]);
    }
    if (result.output !== undefined) rows.push(['output', JSON.stringify(result.output).slice(0, 200)]);
    rows.push(['verdict', result.ok ? 'ok: the fuzzy tier can use this backend' : `not usable: ${result.problem ?? ''}`]);
    process.stdout.write(`${table(['llm-check', ''], rows)}\n`);
    return result.ok ? 0 : 1;
  },
};
