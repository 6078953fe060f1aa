/**
 * Between the exact and the fuzzy tier: is an unrecorded call one the tool could take? A call whose
 * argument names or value types fit neither the tool's schema (its tool record) nor any recording of
 * it, or that lacks a required argument, is a miss `invalid_arguments` whose text names what the
 * tool takes, as a real API's 400 would; it is never improvised. Every other call passes on to the
 * fuzzy tier. The rules and their leniency: docs/decisions/fuzzy-eligibility.md.
 *
 * Each tool's shape (names, types, required) is summarised once per snapshot, when first asked.
 */
import { type ToolId, toolId } from '../core/tool-id.js';
import type { Call, Json, JsonObject } from '../core/types.js';
import { missAnswer } from './miss.js';
import { answered, type Outcome, type Plan, pass, passes, type Resolution, type Tier } from './tier.js';

/** A JSON value's type, with integers told apart from other numbers (JSON Schema's names). */
export type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'null' | 'array' | 'object';

export interface ArgumentShape {
  readonly name: string;
  /** Types the schema declares; empty when it declares none (any type). */
  readonly declared: ReadonlySet<JsonType>;
  /** Types some recording passed. */
  readonly recorded: ReadonlySet<JsonType>;
  readonly required: boolean;
}

export interface ToolShape {
  /** In the schema's order, then names only recordings used. */
  readonly arguments: readonly ArgumentShape[];
  /** False when neither a schema nor a recording says which names exist: any name is taken. */
  readonly closed: boolean;
}

export type Verdict = { ok: true } | { ok: false; problems: string[]; text: string };

/** Where a tool's schema and recordings come from (the snapshot's context, or lists in tests). */
export interface ShapeSource {
  catalog: { tool(server: string, tool: string): { input_schema?: JsonObject } | undefined };
  index: { argumentsOf(server: string, tool: string): readonly { arguments: string }[] };
  readonly ignoredArguments: readonly string[];
}

export function jsonType(value: Json): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as 'string' | 'boolean' | 'object';
}

const JSON_TYPES: ReadonlySet<string> = new Set(['string', 'integer', 'number', 'boolean', 'null', 'array', 'object']);

/** The types a property schema declares (`type`, a list of types, or `anyOf`/`oneOf` members); empty: any. */
function declaredTypes(schema: Json | undefined): Set<JsonType> {
  const out = new Set<JsonType>();
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return out;
  const type = schema['type'];
  for (const t of Array.isArray(type) ? type : [type]) if (typeof t === 'string' && JSON_TYPES.has(t)) out.add(t as JsonType);
  for (const branch of ['anyOf', 'oneOf'] as const) {
    const members = schema[branch];
    if (!Array.isArray(members)) continue;
    for (const member of members) {
      const types = declaredTypes(member);
      // A member that takes any type makes the whole property take any type.
      if (types.size === 0) return new Set();
      for (const t of types) out.add(t);
    }
  }
  return out;
}

/** A tool's shape from its schema (may be absent) and its distinct recorded argument objects. */
export function toolShape(schema: JsonObject | undefined, recordings: readonly JsonObject[], ignored: ReadonlySet<string>): ToolShape {
  const shapes = new Map<string, { declared: Set<JsonType>; recorded: Set<JsonType>; seen: number; schemaRequired: boolean }>();
  const shapeOf = (name: string) => {
    let shape = shapes.get(name);
    if (!shape) shapes.set(name, (shape = { declared: new Set(), recorded: new Set(), seen: 0, schemaRequired: false }));
    return shape;
  };
  const properties = schema?.['properties'];
  const hasProperties = properties !== null && typeof properties === 'object' && !Array.isArray(properties);
  if (hasProperties) for (const [name, property] of Object.entries(properties)) shapeOf(name).declared = declaredTypes(property);
  const required = schema?.['required'];
  if (Array.isArray(required)) for (const name of required) if (typeof name === 'string') shapeOf(name).schemaRequired = true;
  for (const args of recordings) {
    for (const [name, value] of Object.entries(args)) {
      const shape = shapeOf(name);
      shape.recorded.add(jsonType(value));
      shape.seen++;
    }
  }
  // A schema that lets any name through (additionalProperties not false is JSON Schema's default) is
  // still taken at its word about names: real APIs reject unknown keyword arguments. Only a schema
  // that explicitly allows extra properties, or no schema and no recording, leaves the names open.
  const open = schema?.['additionalProperties'];
  const closed = !(open === true || (open !== null && typeof open === 'object')) && (hasProperties || recordings.length > 0);
  const out: ArgumentShape[] = [];
  for (const [name, shape] of shapes) {
    if (ignored.has(name)) continue;
    // With a schema, its `required` decides, except where a recording went without the argument and
    // was answered. Without one, an argument present in every one of several recordings is required.
    const requiredNow = schema
      ? shape.schemaRequired && shape.seen === recordings.length
      : recordings.length >= 2 && shape.seen === recordings.length;
    out.push({ name, declared: shape.declared, recorded: shape.recorded, required: requiredNow });
  }
  return { arguments: out, closed };
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
  return notes.length > 0 ? `${argument.name} (${notes.join(', ')})` : argument.name;
}

/** Does the call fit the tool's shape? When not, the problems and the agent's error text. */
export function checkArguments(tool: string, shape: ToolShape, args: JsonObject): Verdict {
  const problems: string[] = [];
  const byName = new Map(shape.arguments.map((a) => [a.name, a]));
  for (const [name, value] of Object.entries(args)) {
    const argument = byName.get(name);
    if (!argument) {
      if (shape.closed) problems.push(`unknown argument ${JSON.stringify(name)}`);
    } else if (!fits(value, argument)) {
      const expected = argument.declared.size > 0 ? argument.declared : argument.recorded;
      problems.push(`argument ${JSON.stringify(name)} must be ${[...expected].join(' or ')}, not ${jsonType(value)}`);
    }
  }
  for (const argument of shape.arguments) {
    if (argument.required && !Object.hasOwn(args, argument.name))
      problems.push(`missing required argument ${JSON.stringify(argument.name)}`);
  }
  if (problems.length === 0) return { ok: true };
  const takes = shape.arguments.length === 0 ? 'it takes no arguments' : `it takes ${shape.arguments.map(describe).join(', ')}`;
  return { ok: false, problems, text: `Error: ${tool}: ${problems.join('; ')}; ${takes}` };
}

/**
 * Between the exact and the fuzzy tier: refuses the calls the tool could not take, so that they
 * are never improvised. It reads the tool's recorded arguments from the neighbour index.
 */
export class EligibilityTier implements Tier {
  readonly name = 'eligibility';
  readonly needsNeighbors = true;
  readonly #source: ShapeSource;
  readonly #ignored: ReadonlySet<string>;
  readonly #shapes = new Map<ToolId, ToolShape>();

  constructor(source: ShapeSource) {
    this.#source = source;
    this.#ignored = new Set(source.ignoredArguments);
  }

  /** The shape of one tool, summarised on first use. */
  shape(server: string, tool: string): ToolShape {
    const id = toolId(server, tool);
    let shape = this.#shapes.get(id);
    if (!shape) {
      const recordings = this.#source.index.argumentsOf(server, tool).map((r) => JSON.parse(r.arguments) as JsonObject);
      shape = toolShape(this.#source.catalog.tool(server, tool)?.input_schema, recordings, this.#ignored);
      this.#shapes.set(id, shape);
    }
    return shape;
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
