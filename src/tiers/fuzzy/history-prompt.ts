/**
 * The part of an improvisation prompt that carries a rollout's own history on the call's server,
 * for a call in diverged state (docs/improviser-protocol.md, "State within a rollout"). Pure.
 *
 * The write that diverged the server is what every later answer must know, so it comes first in
 * the budget; then the other calls, most recent first, each whole or not at all, while they fit.
 * They are listed most recent first, the diverging write in its place among them.
 */
import type { HistoryEntry } from '../../core/rollout.js';
import { estimateTokens } from './tokens.js';

export interface RolloutHistory {
  /** The rollout's call number of the write that diverged the server. */
  readonly since: number;
  /** Most recent first. */
  readonly history: readonly HistoryEntry[];
}

export interface HistoryBlock {
  /** The text for the user part ('' when nothing fits). */
  readonly text: string;
  /** Estimated tokens of `text`. */
  readonly tokens: number;
  /** Entries included. */
  readonly entries: number;
  /** Whether the diverging write is among them (it is, whenever it was offered and fits). */
  readonly hasSince: boolean;
}

const EMPTY: HistoryBlock = { text: '', tokens: 0, entries: 0, hasSince: false };

function entryBlock(entry: HistoryEntry, since: number): string {
  const mark = entry.call === since ? ' (the write no recording has)' : '';
  return [
    `Call ${entry.call}${mark}: ${entry.tool}`,
    `arguments: ${entry.arguments}`,
    `is_error: ${entry.isError}`,
    `output: ${entry.outputJson}`,
    '',
  ].join('\n');
}

function heading(server: string, since: number): string {
  return [
    `This rollout changed the state of server "${server}" at its call ${since}, with a write that no recording has, so the recorded examples above may describe another state of the world.`,
    `The rollout's own calls on "${server}" so far, most recent first, are what happened in its world: where they and the examples disagree, follow them, and keep the new answer consistent with them.`,
    '',
    '',
  ].join('\n');
}

/** The history block for `server` within `budgetTokens`. */
export function historyBlock(server: string, rollout: RolloutHistory, budgetTokens: number): HistoryBlock {
  if (rollout.history.length === 0) return EMPTY;
  const head = heading(server, rollout.since);
  let used = estimateTokens(head);
  if (used > budgetTokens) return EMPTY;
  const blocks = rollout.history.map((entry) => entryBlock(entry, rollout.since));
  const chosen = new Set<number>();
  const sinceAt = rollout.history.findIndex((entry) => entry.call === rollout.since);
  const order = sinceAt >= 0 ? [sinceAt, ...blocks.keys()] : [...blocks.keys()];
  for (const i of order) {
    if (chosen.has(i)) continue;
    const cost = estimateTokens(blocks[i]!);
    if (used + cost > budgetTokens) continue;
    chosen.add(i);
    used += cost;
  }
  if (chosen.size === 0) return EMPTY;
  const text = head + blocks.filter((_, i) => chosen.has(i)).join('\n');
  return { text, tokens: estimateTokens(text), entries: chosen.size, hasSince: sinceAt >= 0 && chosen.has(sinceAt) };
}
