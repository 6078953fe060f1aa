/**
 * What the serving thread needs to know about one tool, summarised from its schema and its recorded
 * calls where no request waits: in the neighbour index's worker thread (index-worker.ts), beside the
 * tool's index, or when a command builds the index itself. Pure: the caller hands in the parsed
 * recordings. Today the profile holds the tool's argument shape (names, types, required) for the
 * eligibility tier; other per-tool summaries belong beside it, computed the same way, so that no
 * first call of a large tool summarises 100,000 recordings on the event loop.
 */
import { RawNumber } from '../core/json-text.js';
import type { Json, JsonObject } from '../core/types.js';

/** Everything a tool's profile is computed from besides its recordings. */
export interface ProfileInputs {
  /** The tool record's `input_schema`, if any. */
  readonly schema: JsonObject | undefined;
  /** Argument names dropped before hashing (`--ignore-arg`). */
  readonly ignored: readonly string[];
}

/** One tool, summarised. Plain data (Sets and arrays): it crosses from the worker thread by structured clone. */
export interface ToolProfile {
  readonly arguments: ToolShape;
}

/** The profile of one tool from its inputs and its distinct recorded argument objects. */
export function profileTool(inputs: ProfileInputs, recordings: readonly JsonObject[]): ToolProfile {
  return { arguments: toolShape(inputs.schema, recordings, new Set(inputs.ignored)) };
}

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

export function jsonType(value: Json): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  // A number no double holds exactly, in canonical form ([-]DIGITS[eEXP]): an integer unless its exponent is negative.
  if (value instanceof RawNumber) return /e-/.test(value.text) ? 'number' : 'integer';
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
    // was answered. Without one, an argument present in every recording is required, also when
    // there is a single one (docs/decisions/single-recording.md).
    const requiredNow = schema
      ? shape.schemaRequired && shape.seen === recordings.length
      : recordings.length >= 1 && shape.seen === recordings.length;
    out.push({ name, declared: shape.declared, recorded: shape.recorded, required: requiredNow });
  }
  return { arguments: out, closed };
}
