/**
 * The guard: does an improvised answer fit the tool's declared output schema, or else the shape
 * learnt from its recordings? A pure function of (shape or schema, answer) to the list of what
 * does not fit, in words a model can act on; empty when the answer fits.
 *
 * Against a learnt shape (shape.ts): no key that every recording had at a position may be missing,
 * no value may be of a kind no recording had there, list items must fit the items' shape, and a
 * string where every recording held JSON text must hold JSON text that fits what they held. Keys no
 * recording had are allowed. Where the recordings disagree, an answer fits when it fits one of the
 * recorded kinds; its misfits are told against the closest one. A position where every recording
 * had `null` says nothing of its type: any value fits there. An error answer may always be a plain
 * message; errors are checked against the recorded errors only (a tool with none recorded takes
 * any error).
 *
 * Bounded: at most MAX_MISFITS misfits of at most MISFIT_CHARS each, and at most MAX_VISITS values
 * looked at per answer (past it, the rest is taken as fitting).
 */
import type { Json, RefusalReason } from '../core/types.js';
import { readEmbedded } from './embedded.js';
import { isRequired, type Kind, kindOf, type ObjectGroup, type OutputShape, type ShapeNode } from './shape.js';

export const MAX_MISFITS = 8;
export const MISFIT_CHARS = 240;
export const MAX_VISITS = 50_000;
/** Items of one list checked against the items' shape. */
export const CHECKED_ITEMS = 1_000;

/** An answer as the model gave it. */
export interface Improvised {
  output: Json;
  isError: boolean;
}

/** A declared output schema, compiled (schema-guard.ts): the misfits of a value, in words. */
export interface CompiledSchema {
  readonly schema: Json;
  misfits(value: Json, limit: number): string[];
}

/** What an answer is held to: the declared schema wins; the learnt shape otherwise (and for errors). */
export interface Guide {
  schema?: CompiledSchema | undefined;
  shape?: OutputShape | undefined;
}

/** One thing that does not fit: its kind, and the words a model can act on. */
export interface Misfit {
  reason: RefusalReason;
  text: string;
}

/** What does not fit, with its kind; empty when the answer fits. */
export function refusals(guide: Guide, answer: Improvised): Misfit[] {
  const out: Misfit[] = [];
  if (!answer.isError && guide.schema) {
    schemaMisfits(guide.schema, answer.output, out);
    return bounded(out);
  }
  const shape = guide.shape;
  if (!shape) return out;
  if (answer.isError) {
    // An error may always be a plain message; other errors are held to the recorded ones.
    if (typeof answer.output === 'string' || !shape.error) return out;
    new Fit(out).node(shape.error, answer.output, ROOT);
  } else if (shape.success) {
    new Fit(out).node(shape.success, answer.output, ROOT);
  }
  return bounded(out);
}

/** What does not fit, in words; empty when the answer fits. */
export function misfits(guide: Guide, answer: Improvised): string[] {
  return refusals(guide, answer).map((m) => m.text);
}

const bounded = (out: Misfit[]): Misfit[] => out.slice(0, MAX_MISFITS).map((m) => ({ reason: m.reason, text: cut(m.text) }));

/** An MCP tool result (what MCP transcripts record): the declared schema describes its `structuredContent`. */
function isToolResult(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Array.isArray(value['content']);
}

function schemaMisfits(schema: CompiledSchema, output: Json, out: Misfit[]): void {
  if (isToolResult(output)) {
    if (output['isError'] === true) return;
    const structured = output['structuredContent'];
    if (structured === undefined) {
      out.push({
        reason: 'schema',
        text: 'the answer is an MCP tool result without "structuredContent", which the declared output schema describes',
      });
      return;
    }
    for (const m of schema.misfits(structured, MAX_MISFITS)) out.push({ reason: 'schema', text: `structuredContent: ${m}` });
    return;
  }
  for (const m of schema.misfits(output, MAX_MISFITS)) out.push({ reason: 'schema', text: m });
}

const cut = (text: string): string => (text.length > MISFIT_CHARS ? `${text.slice(0, MISFIT_CHARS - 1)}…` : text);

/** Where a value sits: a path, through the JSON texts it was read from. */
interface Where {
  /** Paths of the enclosing texts, outermost first, then the path inside the innermost. */
  readonly texts: readonly string[];
  readonly path: string;
  /** The value is an item of a list (its misfits speak of items). */
  readonly item: boolean;
}

const ROOT: Where = { texts: [], path: '$', item: false };

function keyPath(where: Where, key: string): Where {
  const shown = key.length > 48 ? `${key.slice(0, 47)}…` : key;
  const step = /^[A-Za-z_][A-Za-z0-9_]*$/.test(shown) ? `.${shown}` : `[${JSON.stringify(shown)}]`;
  return { texts: where.texts, path: where.path + step, item: false };
}

function describe(where: Where): string {
  if (where.texts.length === 0) return where.path;
  const inner = where.path === '$' ? 'the JSON text' : `${where.path} in the JSON text`;
  const outer = where.texts.map((t) => (t === '$' ? 'the answer' : t)).join(' in the JSON text of ');
  return `${inner} of ${outer}`;
}

const article = (kind: Kind): string =>
  kind === 'null' ? 'null' : kind === 'array' ? 'a list' : kind === 'object' ? 'an object' : `a ${kind}`;

function kindsOf(node: ShapeNode): Kind[] {
  return (Object.keys(node.kinds) as Kind[]).filter((k) => (node.kinds[k] ?? 0) > 0);
}

class Fit {
  readonly #out: Misfit[];
  #visits = 0;

  constructor(out: Misfit[]) {
    this.#out = out;
  }

  get #full(): boolean {
    return this.#out.length >= MAX_MISFITS || this.#visits >= MAX_VISITS;
  }

  node(node: ShapeNode, value: Json, where: Where): void {
    if (this.#full || node.open) return;
    this.#visits++;
    const kind = kindOf(value);
    const kinds = kindsOf(node);
    if (!kinds.includes(kind)) {
      // A position where every recording had null says nothing of its type.
      if (kinds.length === 1 && kinds[0] === 'null') return;
      const those = where.item ? 'the recorded items' : 'the recorded answers';
      // An object where the recordings hold it as JSON text in a string: say so, the fix is to write it as text.
      const held = node.text && kindsOf(node.text).includes(kind) ? `, holding ${article(kind).replace(/^an? /, 'the ')} as JSON text` : '';
      this.#out.push({
        reason: 'wrong_kind',
        text: `${describe(where)} is ${article(kind)}, but ${those} have ${kinds.map(article).join(' or ')} there${held}`,
      });
      return;
    }
    switch (kind) {
      case 'string': {
        if (!node.text) return;
        const held = readEmbedded(value as string);
        if (held === undefined) {
          this.#out.push({
            reason: 'not_json_text',
            text: `${describe(where)} is plain text, but every recorded answer holds JSON text there`,
          });
          return;
        }
        this.node(node.text, held, { texts: [...where.texts, where.path], path: '$', item: false });
        return;
      }
      case 'array': {
        if (!node.items) return;
        const list = value as Json[];
        for (let i = 0; i < list.length && i < CHECKED_ITEMS && !this.#full; i++)
          this.node(node.items, list[i]!, { texts: where.texts, path: `${where.path}[${i}]`, item: true });
        return;
      }
      case 'object':
        this.#object(node.objects, value as { [key: string]: Json }, where);
        return;
      default:
        return;
    }
  }

  #object(groups: readonly ObjectGroup[] | undefined, object: { [key: string]: Json }, where: Where): void {
    if (!groups || groups.length === 0) return;
    if (groups.length === 1) {
      this.#group(groups[0]!, object, where);
      return;
    }
    // Recordings disagree: the answer fits if it fits one kind; else it is told against the closest.
    let best: Misfit[] | undefined;
    for (const group of groups) {
      const trial = new Fit([]);
      trial.#visits = this.#visits;
      trial.#group(group, object, where);
      this.#visits = Math.max(this.#visits, trial.#visits);
      if (trial.#out.length === 0) return;
      if (!best || trial.#out.length < best.length) best = trial.#out;
    }
    if (best) this.#out.push(...best.slice(0, MAX_MISFITS - this.#out.length));
  }

  #group(group: ObjectGroup, object: { [key: string]: Json }, where: Where): void {
    if (group.values) {
      let n = 0;
      for (const key of Object.keys(object)) {
        if (this.#full || n++ >= CHECKED_ITEMS) return;
        this.node(group.values, object[key]!, keyPath(where, key));
      }
      return;
    }
    for (const key of group.keys.keys()) {
      if (this.#full) return;
      if (!Object.hasOwn(object, key) && isRequired(group, key)) {
        const every = where.item ? 'every recorded item' : 'every recorded answer';
        this.#out.push({ reason: 'missing_key', text: `${describe(where)} has no key ${JSON.stringify(key)}, which ${every} has there` });
      }
    }
    for (const key of Object.keys(object)) {
      if (this.#full) return;
      const child = group.keys.get(key);
      if (child) this.node(child, object[key]!, keyPath(where, key));
    }
  }
}
