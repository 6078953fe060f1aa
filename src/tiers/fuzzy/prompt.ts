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
import { disagreements, promptShape } from '../../shapes/describe.js';
import type { OutputShape } from '../../shapes/shape.js';
import { historyBlock, type RolloutHistory } from './history-prompt.js';
import { estimateTokens } from './tokens.js';

/**
 * Part of the memo key: bump it when a change to the prompt should bring new answers. p3: the
 * output schema or learnt shape is in the prompt, and answers that do not fit it are refused.
 */
export const PROMPT_VERSION = 'p3';

/** What the answer must fit: the declared output schema, else the shape learnt from the recordings. */
export interface OutputGuideText {
  declared?: JsonObject | undefined;
  shape?: OutputShape | undefined;
}

/** Share of the prompt budget the output schema or shape may take (shallower levels are shown past it). */
const SHAPE_SHARE = 1 / 4;

export { estimateTokens } from './tokens.js';

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

/**
 * A prompt for a call. `output`: what the answer is held to (declared schema or learnt shape).
 * `rollout`, for a call in diverged state: the rollout's history on the server, given the budget
 * right after the nearest example (history-prompt.ts), so the write that changed the rollout's
 * world is in every prompt that follows it.
 */
export function buildPrompt(
  tool: ToolDescription,
  examples: readonly Example[],
  args: JsonObject,
  budgetTokens: number,
  output: OutputGuideText = {},
  rollout?: RolloutHistory & { server: string },
): Prompt {
  const header = `Recorded calls of the tool "${tool.tool}", most similar to the new call first.\n\n`;
  const request = [
    'New call:',
    `arguments: ${canonicalJson(args, true)}`,
    '',
    `Answer with the output "${tool.tool}" would return for the new call, through the respond tool.`,
  ].join('\n');
  const system = systemPrompt(tool, outputSection(output, Math.floor(budgetTokens * 4 * SHAPE_SHARE)));
  let used = estimateTokens(system) + estimateTokens(header) + estimateTokens(request);
  const blocks = examples.map((example, i) =>
    [
      `Example ${i + 1} (similarity ${example.similarity.toFixed(2)}):`,
      `arguments: ${canonicalJson(example.arguments, true)}`,
      `is_error: ${example.isError}`,
      `output: ${example.outputJson}`,
      '',
    ].join('\n'),
  );
  const chosen: boolean[] = blocks.map(() => false);
  const take = (i: number): void => {
    const cost = estimateTokens(blocks[i]!);
    if (used + cost > budgetTokens) return;
    chosen[i] = true;
    used += cost;
  };
  if (blocks.length > 0) take(0);
  let history = '';
  if (rollout) {
    const block = historyBlock(rollout.server, rollout, budgetTokens - used);
    used += block.tokens;
    history = block.text === '' ? '' : `\n${block.text}`;
  }
  for (let i = 1; i < blocks.length; i++) take(i);
  const included = blocks.filter((_, i) => chosen[i]);
  // Only a tool nobody recorded gets no example: the description and schema are all there is.
  const intro =
    included.length > 0 ? header : `No call of the tool "${tool.tool}" was recorded: answer from its description and input schema.\n\n`;
  return {
    version: PROMPT_VERSION,
    system,
    user: `${intro}${included.join('\n')}${history}\n${request}`,
    examples: included.length,
    // Where examples were offered, one at least must fit; a tool nobody recorded is answered from its record.
    fits: used <= budgetTokens && (included.length > 0 || examples.length === 0),
  };
}

/**
 * The output schema (declared) or shape (learnt) in words and JSON Schema, within `chars`; empty
 * when there is neither (a tool nobody recorded, without a declared schema).
 */
export function outputSection(output: OutputGuideText, chars: number): string[] {
  if (output.declared) {
    const text = canonicalJson(output.declared);
    if (text.length <= chars) return [`Output schema (declared by the tool; a successful answer must fit it): ${text}`];
    return [`Output schema (declared by the tool; a successful answer must fit it), too long to show here: answer as the examples do.`];
  }
  const shape = output.shape;
  if (!shape || (!shape.success && !shape.error)) return [];
  const lines = [
    `Output shape, learnt from ${shape.answers} recorded answer(s), as JSON Schema: keys under "required" are in every recorded answer and must be in yours; other keys may be left out; keys not listed may be added; "contentSchema" is what a string holding JSON text holds. Answers that do not fit are refused.`,
  ];
  const each = shape.success && shape.error ? Math.floor(chars / 2) : chars;
  if (shape.success) {
    const text = promptShape(shape.success, each);
    if (text) lines.push(`Successful answers: ${text}`);
  }
  if (shape.error) {
    const text = promptShape(shape.error, each);
    if (text) lines.push(`Errors (an error may also be a plain message): ${text}`);
  }
  const disagree = disagreements(shape, 4);
  if (disagree.length > 0) lines.push('The recorded answers have more than one shape; each is allowed:', ...disagree.map((d) => `- ${d}`));
  return lines;
}

function systemPrompt(tool: ToolDescription, output: readonly string[]): string {
  const lines = [
    'You stand in for a real tool in a simulator that replays recorded tool calls to an AI agent.',
    'When a call was not recorded, you answer as the tool would have, from the recorded calls closest to it.',
    '',
    `Server: ${tool.server}`,
    `Tool: ${tool.tool}`,
  ];
  if (tool.description) lines.push(`Description: ${tool.description}`);
  if (tool.input_schema) lines.push(`Input schema: ${canonicalJson(tool.input_schema)}`);
  lines.push(...output);
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
