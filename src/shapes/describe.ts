/**
 * A learnt shape written for people and models. Pure.
 *
 * `shapeSchema` writes it as a JSON Schema (draft 2020-12 words): `required` lists the keys every
 * recording had, `properties` every key seen (others may be added), `anyOf` where the recordings
 * disagree, `additionalProperties` for a map, `contentMediaType`/`contentSchema` for strings that
 * hold JSON text. `"x-seen"` counts the recorded values at a position. `disagreements` says, in
 * words, where the recordings have more than one shape.
 */
import type { JsonObject } from '../core/types.js';
import { isRequired, KINDS, type Kind, type ObjectGroup, type OutputShape, type ShapeNode } from './shape.js';

/** The shape of one side (successes or errors) as a JSON Schema; `counts` adds "x-seen". */
export function shapeSchema(node: ShapeNode, counts = true, depth = Number.POSITIVE_INFINITY): JsonObject {
  if (node.open || depth <= 0) return counts ? { 'x-seen': node.seen } : {};
  const kinds = KINDS.filter((k) => (node.kinds[k] ?? 0) > 0);
  const parts = kinds.map((kind) => kindSchema(node, kind, counts, depth));
  const one: JsonObject = parts.length === 1 ? parts[0]! : { anyOf: parts };
  return counts ? { ...one, 'x-seen': node.seen } : one;
}

function kindSchema(node: ShapeNode, kind: Kind, counts: boolean, depth: number): JsonObject {
  const type = kind === 'array' ? 'array' : kind;
  const out: JsonObject = { type };
  if (counts && Object.keys(node.kinds).length > 1) out['x-seen'] = node.kinds[kind] ?? 0;
  if (kind === 'string' && node.text) {
    out['contentMediaType'] = 'application/json';
    out['contentSchema'] = shapeSchema(node.text, counts, depth - 1);
  }
  if (kind === 'array' && node.items) out['items'] = shapeSchema(node.items, counts, depth - 1);
  if (kind === 'object' && node.objects && node.objects.length > 0) {
    const groups = node.objects.map((g) => groupSchema(g, counts, depth));
    if (groups.length === 1) Object.assign(out, groups[0]);
    else out['anyOf'] = groups;
  }
  return out;
}

function groupSchema(group: ObjectGroup, counts: boolean, depth: number): JsonObject {
  if (group.values) return { additionalProperties: shapeSchema(group.values, counts, depth - 1) };
  const properties: JsonObject = {};
  const required: string[] = [];
  for (const [key, child] of group.keys) {
    // defineProperty: a recorded key "__proto__" is a key like any other, not the object's prototype.
    Object.defineProperty(properties, key, {
      value: shapeSchema(child, counts, depth - 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    if (isRequired(group, key)) required.push(key);
  }
  const out: JsonObject = { properties, required };
  if (counts) out['x-seen'] = group.seen;
  return out;
}

/** The whole shape as one JSON object (`toolsim tools --json`, `explain`). */
export function shapeJson(shape: OutputShape): JsonObject {
  const out: JsonObject = { answers: shape.answers };
  if (shape.success) out['success'] = shapeSchema(shape.success);
  if (shape.error) out['error'] = shapeSchema(shape.error);
  if (shape.bounded) out['bounded'] = true;
  return out;
}

/** Where the recordings have more than one shape, one sentence each (at most `limit`). */
export function disagreements(shape: OutputShape, limit = 8): string[] {
  const out: string[] = [];
  const walk = (node: ShapeNode, path: string): void => {
    if (out.length >= limit || node.open) return;
    const kinds = KINDS.filter((k) => (node.kinds[k] ?? 0) > 0 && k !== 'null');
    if (kinds.length > 1)
      out.push(`${path}: the recordings disagree on its kind: ${kinds.map((k) => `${node.kinds[k]} ${plural(k)}`).join(', ')}`);
    if (node.text) walk(node.text, `${path} (JSON text)`);
    if (node.items) walk(node.items, `${path}[]`);
    const groups = node.objects ?? [];
    if (groups.length > 1) {
      const described = groups.map((g) => `{${[...g.keys.keys()].filter((k) => isRequired(g, k)).join(', ')}} (${g.seen})`);
      out.push(
        `${path}: the recorded objects are of ${groups.length} kinds, each allowed, with these keys always present: ${described.join('; ')}`,
      );
    }
    for (const g of groups) {
      if (g.values) walk(g.values, `${path}[*]`);
      for (const [key, child] of g.keys)
        walk(child, /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);
    }
  };
  if (shape.success) walk(shape.success, 'successes $');
  if (shape.error) walk(shape.error, 'errors $');
  return out;
}

const plural = (kind: Kind): string =>
  kind === 'array' ? 'lists' : kind === 'object' ? 'objects' : kind === 'null' ? 'nulls' : kind === 'boolean' ? 'booleans' : `${kind}s`;

/**
 * The shape as the prompt shows it: the JSON Schema without counts, at the deepest level that fits
 * in `chars` characters (shallower levels leave the deeper positions unconstrained), or undefined
 * when not even the top level fits.
 */
export function promptShape(node: ShapeNode, chars: number): string | undefined {
  for (let depth = 12; depth >= 1; depth--) {
    const text = JSON.stringify(shapeSchema(node, false, depth));
    if (text.length <= chars) return text;
  }
  return undefined;
}
