/**
 * Between the exact and the fuzzy tier: is an unrecorded call one the tool could take? A call whose
 * argument names or value types fit neither the tool's schema (its tool record) nor any recording of
 * it, or that lacks a required argument, is a miss `invalid_arguments` whose text names what the
 * tool takes, as a real API's 400 would; it is never improvised. Every other call passes on to the
 * fuzzy tier. The rules and their leniency: docs/decisions/fuzzy-eligibility.md.
 *
 * Each tool's shape (names, types, required) is summarised once per snapshot, with its neighbour
 * index, in the index's worker thread (src/neighbors/tool-profile.ts), never on the serving thread.
 */
import type { Call, Json, JsonObject } from '../core/types.js';
import { type ArgumentShape, type JsonType, jsonType, type ToolProfile, type ToolShape } from '../neighbors/tool-profile.js';
import { missAnswer } from './miss.js';
import { answered, type Outcome, type Plan, pass, passes, type Resolution, type Tier } from './tier.js';

export type Verdict = { ok: true } | { ok: false; problems: string[]; text: string };

export { type ArgumentShape, type JsonType, jsonType, type ToolShape, toolShape } from '../neighbors/tool-profile.js';

/**
 * Where a tool's profile comes from: the snapshot's neighbour index, which summarised it with the
 * tool's index, off the event loop (src/neighbors/tool-profile.ts), before any tier past exact runs.
 */
export interface ShapeSource {
  index: { profile(server: string, tool: string): ToolProfile };
}

const NUMERIC = /^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** Does a value of this type fit an argument? Lenient where real APIs were (see the decision). */
function fits(value: Json, argument: ArgumentShape): boolean {
  const type = jsonType(value);
  if (argument.recorded.has(type)) return true;
  const declared = argument.declared;
  if (declared.size === 0 && argument.recorded.size === 0) return true;
  // Only recordings: integers and other numbers are one family (a price recorded as 10 may be 10.5).
  const allowed = declared.size > 0 ? declared : widen(argument.recorded);
  if (allowed.has(type)) return true;
  if (type === 'integer' && allowed.has('number')) return true;
  if (type === 'null') return !argument.required;
  if (type === 'string') {
    const text = value as string;
    if (NUMERIC.test(text)) {
      const n = Number(text);
      if (allowed.has('number') || (allowed.has('integer') && Number.isInteger(n))) return true;
    }
    if (allowed.has('boolean') && (text === 'true' || text === 'false')) return true;
  }
  return false;
}

function widen(types: ReadonlySet<JsonType>): ReadonlySet<JsonType> {
  if (!types.has('integer') && !types.has('number')) return types;
  return new Set([...types, 'integer', 'number']);
}

/** `user_id (string, required)`: one argument as the error text lists it. */
function describe(argument: ArgumentShape): string {
  const types = argument.declared.size > 0 ? argument.declared : argument.recorded;
  const parts = [...types].join(' or ');
  const notes = [parts, argument.required ? 'required' : ''].filter((p) => p !== '');
  const name = argument.name.length > QUOTED_NAME_CHARS ? `${argument.name.slice(0, QUOTED_NAME_CHARS)}…` : argument.name;
  return notes.length > 0 ? `${name} (${notes.join(', ')})` : name;
}

/** Problems an error text names, and arguments it lists as taken: past these, "and N more". */
export const LISTED_PROBLEMS = 10;
export const LISTED_ARGUMENTS = 40;
/** Characters of an argument name (the agent's or a recorded one) an error text quotes. */
export const QUOTED_NAME_CHARS = 64;

/** A name as an error text quotes it: JSON, cut to QUOTED_NAME_CHARS characters. */
function quoted(name: string): string {
  return name.length > QUOTED_NAME_CHARS
    ? `${JSON.stringify(name.slice(0, QUOTED_NAME_CHARS))}… (${name.length} characters)`
    : JSON.stringify(name);
}

/** At most `limit` items, then "and N more". */
function listed(items: readonly string[], limit: number, separator: string): string {
  if (items.length <= limit) return items.join(separator);
  return `${items.slice(0, limit).join(separator)}${separator}and ${items.length - limit} more`;
}

/**
 * Does the call fit the tool's shape? When not, the problems and the agent's error text. The text
 * is bounded whatever the call holds: LISTED_PROBLEMS problems and LISTED_ARGUMENTS arguments at
 * most, each name cut to QUOTED_NAME_CHARS (a call of 200,000 unknown names once got a 5.9 MB
 * answer); `problems` keeps the same ones, and the count of the rest.
 */
export function checkArguments(tool: string, shape: ToolShape, args: JsonObject): Verdict {
  const problems: string[] = [];
  let unlisted = 0;
  const problem = (text: () => string): void => {
    if (problems.length < LISTED_PROBLEMS) problems.push(text());
    else unlisted++;
  };
  const byName = new Map(shape.arguments.map((a) => [a.name, a]));
  for (const name of Object.keys(args)) {
    const argument = byName.get(name);
    if (!argument) {
      if (shape.closed) problem(() => `unknown argument ${quoted(name)}`);
    } else if (!fits(args[name]!, argument)) {
      const expected = argument.declared.size > 0 ? argument.declared : argument.recorded;
      problem(() => `argument ${quoted(name)} must be ${[...expected].join(' or ')}, not ${jsonType(args[name]!)}`);
    }
  }
  for (const argument of shape.arguments) {
    if (argument.required && !Object.hasOwn(args, argument.name)) problem(() => `missing required argument ${quoted(argument.name)}`);
  }
  if (problems.length === 0) return { ok: true };
  if (unlisted > 0) problems.push(`and ${unlisted} more`);
  const takes =
    shape.arguments.length === 0 ? 'it takes no arguments' : `it takes ${listed(shape.arguments.map(describe), LISTED_ARGUMENTS, ', ')}`;
  return { ok: false, problems, text: `Error: ${tool}: ${problems.join('; ')}; ${takes}` };
}

/**
 * Between the exact and the fuzzy tier: refuses the calls the tool could not take, so that they
 * are never improvised. It reads the tool's argument shape from the neighbour index's profile of it.
 */
export class EligibilityTier implements Tier {
  readonly name = 'eligibility';
  readonly needsNeighbors = true;
  readonly #source: ShapeSource;

  constructor(source: ShapeSource) {
    this.#source = source;
  }

  /** The shape of one tool, as its profile holds it (summarised once per snapshot, off the event loop). */
  shape(server: string, tool: string): ToolShape {
    return this.#source.index.profile(server, tool).arguments;
  }

  check(call: Call): Verdict {
    return checkArguments(call.tool, this.shape(call.server, call.tool), call.arguments);
  }

  resolve(resolution: Resolution): Outcome {
    const verdict = this.check(resolution.call);
    if (verdict.ok) return pass();
    return answered(missAnswer(resolution.call, 'invalid_arguments', resolution.neighbors(), { text: verdict.text }));
  }

  explain(resolution: Resolution): Plan {
    const verdict = this.check(resolution.call);
    if (verdict.ok) return passes('the arguments fit the tool');
    // The neighbours the miss answer would list.
    resolution.neighbors();
    return { outcome: 'miss', reason: 'invalid_arguments', why: verdict.problems.join('; ') };
  }
}
