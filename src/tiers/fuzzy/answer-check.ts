/**
 * Is an improvised answer acceptable? It must be an answer (the respond tool's "output", with a
 * boolean "is_error"), have the JSON type of the recorded outputs it was improvised from (an error
 * may also be a plain message), a bounded size (at most four times the largest recorded output,
 * and never less than MIN_LIMIT bytes allowed), and fit the tool's declared output schema or the
 * shape learnt from its recordings (src/shapes/guard.ts). What does not fit is said in words, for
 * the re-ask and for `match.refused`.
 */
import type { Json, Observation } from '../../core/types.js';
import { type Guide, type Misfit, refusals } from '../../shapes/guard.js';

export const MIN_LIMIT = 16 * 1024;

export type JsonType = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

export const jsonType = (value: Json): JsonType =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : (typeof value as 'boolean' | 'number' | 'string' | 'object');

export type Checked = { ok: true; outputJson: string; isError: boolean } | { ok: false; reason: string; misfits: Misfit[] };

const refuse = (misfits: Misfit[]): Checked => ({ ok: false, reason: misfits.map((m) => m.text).join('; '), misfits });

export function checkAnswer(output: Json | undefined, isError: unknown, examples: readonly Observation[], guide: Guide = {}): Checked {
  if (output === undefined) return refuse([{ reason: 'malformed', text: 'the respond input has no "output"' }]);
  if (isError !== undefined && typeof isError !== 'boolean') return refuse([{ reason: 'malformed', text: '"is_error" must be a boolean' }]);
  const error = isError === true;
  const types = new Set(examples.map((e) => jsonType(JSON.parse(e.outputJson) as Json)));
  const type = jsonType(output);
  if (types.size > 0 && !types.has(type) && !(error && type === 'string')) {
    return refuse([
      {
        reason: 'wrong_kind',
        text: `the output is ${article(type)}, but the recorded outputs are ${[...types].map(article).join(' or ')}`,
      },
    ]);
  }
  const outputJson = JSON.stringify(output);
  const limit = Math.max(MIN_LIMIT, 4 * Math.max(0, ...examples.map((e) => e.outputJson.length)));
  if (outputJson.length > limit)
    return refuse([{ reason: 'too_large', text: `the output is ${outputJson.length} bytes of JSON, over the limit of ${limit}` }]);
  const misfits = refusals(guide, { output, isError: error });
  if (misfits.length > 0) return refuse(misfits);
  return { ok: true, outputJson, isError: error };
}

const article = (type: JsonType): string => (type === 'array' || type === 'object' ? `an ${type}` : type === 'null' ? 'null' : `a ${type}`);
