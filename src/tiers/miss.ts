/**
 * The end of the chain: nothing answered. A conservative, labelled tool error for the agent, with
 * the reason and the nearest recorded calls for the trainer. Every miss answer is built here.
 */
import type { Answer, Call, JsonObject, Match, MissReason, Neighbor } from '../core/types.js';

const EXPLANATIONS: Record<MissReason, string> = {
  unknown_tool: 'the tool is not known',
  invalid_arguments: 'the tool does not take these arguments',
  recorded_failure:
    'every recording of this call is an infrastructure failure (a timeout, a connection or proxy error, a rate limit); try again',
  no_similar_calls: 'no recorded call of this tool is close enough to these arguments',
  fuzzy_disabled: 'there is no recorded answer for these arguments',
  llm_unavailable: 'there is no recorded answer for these arguments and the simulator could not improvise one',
  llm_budget_exhausted: 'there is no recorded answer for these arguments and the improvisation budget is spent',
  llm_invalid_output: 'there is no recorded answer for these arguments and no valid one could be improvised',
  memo_unavailable: 'there is no recorded answer for these arguments and the simulator could not improvise one',
  llm_busy: 'there is no recorded answer for these arguments and the simulator is too busy to improvise one now',
  prompt_too_large: 'there is no recorded answer for these arguments and they are too large to improvise an answer from',
  state_unavailable: "the simulator cannot reach this rollout's state now; try again",
};

/**
 * A miss answer. `text` replaces the reason's standard error text (an unknown tool names the
 * closest ones, invalid arguments what the tool takes); `match` replaces the key and neighbours;
 * `refused` (an improvised answer's misfits) goes into `match.refused`.
 */
export function missAnswer(
  call: Call,
  reason: MissReason,
  neighbors: readonly Neighbor[],
  options: { text?: string; match?: Match; refused?: readonly string[] | undefined } = {},
): Answer {
  const text = options.text ?? `Error: ${call.tool} could not process this request: ${EXPLANATIONS[reason]}.`;
  const answer: Answer = {
    tier: 'miss',
    outputJson: JSON.stringify(text),
    isError: true,
    reason,
    match: options.match ?? { key: call.key, neighbors: listNeighbors(neighbors) },
  };
  if (options.refused !== undefined && options.refused.length > 0) answer.match = { ...answer.match, refused: [...options.refused] };
  return answer;
}

/** An unknown tool: name the closest tools that do exist, so the agent can recover. */
export function unknownToolAnswer(call: Call, serverKnown: boolean, suggestions: readonly string[]): Answer {
  const where = serverKnown ? ` on server "${call.server}"` : '';
  const hint = suggestions.length > 0 ? ` Available tools with similar names: ${suggestions.join(', ')}.` : '';
  return missAnswer(call, 'unknown_tool', [], { text: `Error: unknown tool "${call.tool}"${where}.${hint}` });
}

/** Neighbours as answers and explanations list them: the arguments and the similarity to 4 decimals. */
export function listNeighbors(neighbors: readonly Neighbor[]): { arguments: JsonObject; similarity: number }[] {
  return neighbors.map((n) => ({ arguments: n.arguments, similarity: round(n.similarity) }));
}

export const round = (x: number): number => Math.round(x * 10_000) / 10_000;
