/**
 * The one door to the LLM: the only importer of @anthropic-ai/sdk. Sends one Messages API request
 * per ask, in the improviser protocol of docs/improviser-protocol.md (a single `respond` tool, forced through
 * tool_choice), and reports the outcome as data: an answer, a reply without a usable answer, or a
 * failure with its kind. It never throws for anything the remote side does.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { Json } from '../../core/types.js';

export const RESPOND_TOOL = {
  name: 'respond',
  description: 'Give the output the simulated tool returns for the new call.',
  input_schema: {
    type: 'object' as const,
    properties: { output: {}, is_error: { type: 'boolean' } },
    required: ['output'],
  },
};

export interface TokenUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** Labels of toolsim_llm_requests_total{outcome}. */
export type RequestOutcome = 'ok' | 'invalid_output' | 'timeout' | 'rate_limited' | 'overloaded' | 'error';

export type LlmReply =
  /**
   * The model answered; `input` is whatever it gave (checked by the caller). `via` says how: a
   * `respond` tool_use block, or the same object as JSON in a text block (servers that do not
   * enforce tool_choice).
   */
  | { kind: 'respond'; input: Record<string, unknown>; via: 'tool_use' | 'text'; usage: TokenUsage }
  /** The model answered without calling `respond`. */
  | { kind: 'no_answer'; usage: TokenUsage }
  | { kind: 'failed'; outcome: Exclude<RequestOutcome, 'ok' | 'invalid_output'>; message: string };

export interface LlmAsk {
  system: string;
  user: string;
  /** Aborts the request (the improvisation's deadline). */
  signal: AbortSignal;
}

export interface Llm {
  readonly model: string;
  ask(request: LlmAsk): Promise<LlmReply>;
}

export interface AnthropicLlmOptions {
  apiKey: string;
  baseURL: string;
  model: string;
  /** Retries inside the SDK (429, 5xx, 529, connection errors), honouring retry-after. */
  maxRetries: number;
  /** Per-request timeout of the SDK; the caller's signal bounds the whole ask anyway. */
  timeoutMs: number;
  maxOutputTokens: number;
}

export class AnthropicLlm implements Llm {
  readonly model: string;
  /** The SDK costs ~0.3 s to load: loaded once the tier is on, never on the path to ready. */
  readonly #sdk: Promise<{ Sdk: typeof Anthropic; client: Anthropic }>;
  readonly #maxOutputTokens: number;

  constructor(options: AnthropicLlmOptions) {
    this.model = options.model;
    this.#maxOutputTokens = options.maxOutputTokens;
    this.#sdk = import('@anthropic-ai/sdk').then(({ default: Sdk }) => ({
      Sdk,
      client: new Sdk({
        apiKey: options.apiKey,
        baseURL: options.baseURL,
        maxRetries: options.maxRetries,
        timeout: options.timeoutMs,
        logLevel: 'off',
      }),
    }));
  }

  async ask(request: LlmAsk): Promise<LlmReply> {
    try {
      const { client } = await this.#sdk;
      const message = await client.messages.create(
        {
          model: this.model,
          max_tokens: this.#maxOutputTokens,
          // The system part is the same for every call of a tool: a cache breakpoint after it.
          system: [{ type: 'text', text: request.system, cache_control: { type: 'ephemeral' } }],
          tools: [RESPOND_TOOL],
          tool_choice: { type: 'tool', name: RESPOND_TOOL.name },
          messages: [{ role: 'user', content: request.user }],
        },
        { signal: request.signal },
      );
      const u = message.usage;
      const usage: TokenUsage = {
        input: u?.input_tokens ?? 0,
        output: u?.output_tokens ?? 0,
        cacheRead: u?.cache_read_input_tokens ?? 0,
        cacheWrite: u?.cache_creation_input_tokens ?? 0,
      };
      const content = message.content ?? [];
      const block = content.find((b) => b.type === 'tool_use' && b.name === RESPOND_TOOL.name);
      if (block?.type === 'tool_use' && isObject(block.input)) return { kind: 'respond', input: block.input, via: 'tool_use', usage };
      const text = content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
      const input = respondInputInText(text);
      return input ? { kind: 'respond', input, via: 'text', usage } : { kind: 'no_answer', usage };
    } catch (error) {
      const sdk = await this.#sdk.catch(() => undefined);
      return { kind: 'failed', ...classify(error, sdk?.Sdk) };
    }
  }
}

function classify(
  error: unknown,
  Sdk: typeof Anthropic | undefined,
): { outcome: Exclude<RequestOutcome, 'ok' | 'invalid_output'>; message: string } {
  // Messages of SDK errors name the status and the remote's text; never a key.
  const message = error instanceof Error ? error.message.slice(0, 300) : String(error).slice(0, 300);
  if (!Sdk) return { outcome: 'error', message };
  if (error instanceof Sdk.APIUserAbortError || error instanceof Sdk.APIConnectionTimeoutError) return { outcome: 'timeout', message };
  if (error instanceof Sdk.RateLimitError) return { outcome: 'rate_limited', message };
  if (error instanceof Sdk.APIError && error.status === 529) return { outcome: 'overloaded', message };
  return { outcome: 'error', message };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A `respond` input given as JSON in a text block, by a server that does not enforce tool_choice
 * (docs/improviser-protocol.md): the object itself, inside a Markdown code fence, inside a
 * `<tool_call>` block, or as the text's outermost `{...}`; also wrapped as a tool call
 * (`{"name": "respond", "arguments" | "input": {...}}`), which is how chat templates write one.
 * Reasoning in `<think>` tags is skipped. The object must hold `output`; the caller checks the
 * rest exactly as for a tool_use block.
 */
export function respondInputInText(text: string): Record<string, unknown> | undefined {
  const visible = text.replace(/<think>[\s\S]*?<\/think>/g, '').trim();
  if (visible === '') return undefined;
  const candidates = [
    ...[...visible.matchAll(/```[A-Za-z]*\s*\n([\s\S]*?)```/g)].map((m) => m[1]!),
    ...[...visible.matchAll(/<tool_call>([\s\S]*?)<\/tool_call>/g)].map((m) => m[1]!),
    visible,
  ];
  const first = visible.indexOf('{');
  const last = visible.lastIndexOf('}');
  if (first >= 0 && last > first) candidates.push(visible.slice(first, last + 1));
  for (const candidate of candidates) {
    let value: unknown;
    try {
      value = JSON.parse(candidate.trim());
    } catch {
      continue;
    }
    if (!isObject(value)) continue;
    if (Object.hasOwn(value, 'output')) return value;
    const wrapped = value['arguments'] ?? value['input'] ?? value['parameters'];
    if (value['name'] === RESPOND_TOOL.name && isObject(wrapped) && Object.hasOwn(wrapped, 'output')) return wrapped;
  }
  return undefined;
}

/** The output and error flag inside a `respond` input, when they are JSON. */
export function respondAnswer(input: Record<string, unknown>): { output: Json; isError: unknown } | undefined {
  if (!Object.hasOwn(input, 'output')) return undefined;
  return { output: input['output'] as Json, isError: input['is_error'] };
}
