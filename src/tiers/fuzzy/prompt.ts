/**
 * The prompt that asks the model to improvise a tool's answer (docs/improviser-protocol.md). Pure.
 *
 * The system part is stable per tool (instructions, name, description, input schema), so it is the
 * part marked for prompt caching. The user part holds the nearest recorded calls, most similar
 * first, and the new arguments. The budget bounds the whole prompt: instructions and the call's own
 * arguments first, then examples, each included whole or not at all while it fits, so no JSON is
 * ever cut in the middle. A prompt with no example that fits is not worth sending (`fits: false`).
 */
import { canonicalJson } from '../../core/canonical.js';
import type { JsonObject } from '../../core/types.js';

/** Part of the memo key: bump it when a change to the prompt should bring new answers. */
export const PROMPT_VERSION = 'p2';

/** Rough tokens in a text: about four characters per token for JSON and English. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

export interface ToolDescription {
  server: string;
  tool: string;
  description?: string | undefined;
  input_schema?: JsonObject | undefined;
}

export interface Example {
  arguments: JsonObject;
  /** The recorded output as JSON text. */
  outputJson: string;
  isError: boolean;
  similarity: number;
}

export interface Prompt {
  version: string;
  /** Stable per tool: cached. */
  system: string;
  /** The examples and the new call. */
  user: string;
  /** Examples included (the first ones of those given that fit). */
  examples: number;
  /** Within the budget, with an example where any was offered: worth sending. */
  fits: boolean;
}

export function buildPrompt(tool: ToolDescription, examples: readonly Example[], args: JsonObject, budgetTokens: number): Prompt {
  const header = `Recorded calls of the tool "${tool.tool}", most similar to the new call first.\n\n`;
  const request = [
    'New call:',
    `arguments: ${canonicalJson(args, true)}`,
    '',
    `Answer with the output "${tool.tool}" would return for the new call, through the respond tool.`,
  ].join('\n');
  const system = systemPrompt(tool);
  let used = estimateTokens(system) + estimateTokens(header) + estimateTokens(request);
  const blocks: string[] = [];
  for (const [i, example] of examples.entries()) {
    const block = [
      `Example ${i + 1} (similarity ${example.similarity.toFixed(2)}):`,
      `arguments: ${canonicalJson(example.arguments, true)}`,
      `is_error: ${example.isError}`,
      `output: ${example.outputJson}`,
      '',
    ].join('\n');
    const cost = estimateTokens(block);
    if (used + cost > budgetTokens) continue;
    blocks.push(block);
    used += cost;
  }
  // Only a tool nobody recorded gets no example: the description and schema are all there is.
  const intro =
    blocks.length > 0 ? header : `No call of the tool "${tool.tool}" was recorded: answer from its description and input schema.\n\n`;
  return {
    version: PROMPT_VERSION,
    system,
    user: `${intro}${blocks.join('\n')}\n${request}`,
    examples: blocks.length,
    // Where examples were offered, one at least must fit; a tool nobody recorded is answered from its record.
    fits: used <= budgetTokens && (blocks.length > 0 || examples.length === 0),
  };
}

function systemPrompt(tool: ToolDescription): string {
  const lines = [
    'You stand in for a real tool in a simulator that replays recorded tool calls to an AI agent.',
    'When a call was not recorded, you answer as the tool would have, from the recorded calls closest to it.',
    '',
    `Server: ${tool.server}`,
    `Tool: ${tool.tool}`,
  ];
  if (tool.description) lines.push(`Description: ${tool.description}`);
  if (tool.input_schema) lines.push(`Input schema: ${canonicalJson(tool.input_schema)}`);
  lines.push(
    '',
    'Rules:',
    '- Answer by calling the respond tool exactly once. Put the tool\'s output in "output", and set "is_error" to true when the tool would report an error.',
    '- If you cannot call tools, reply with the same object as JSON and nothing else: {"output": ..., "is_error": false}.',
    '- Answer in the same form and style as the recorded outputs: the same JSON type, the same structure and field names, the same formatting. When the recorded outputs are strings (even strings holding JSON text), answer a string written the same way.',
    '- Stay consistent with the examples: what follows from the arguments in them should follow the same way for the new arguments. Invent only what the examples cannot tell you, and make it plausible and specific.',
    '- Where examples with similar arguments failed, answer with an error of the same kind rather than inventing success.',
    '- Give the output only: no commentary, no extra fields.',
  );
  return lines.join('\n');
}

/** A note added to the user message when a first answer was rejected. */
export function retryNote(reason: string): string {
  return `\n\nYour previous answer was rejected: ${reason}. Answer again with the respond tool, following the rules.`;
}
