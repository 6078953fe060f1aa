/**
 * A declared output schema (a tool record's `output_schema`, MCP's `outputSchema`) compiled for
 * the guard, with Ajv as MCP clients validate `structuredContent` (the TypeScript SDK's settings:
 * not strict, formats checked), so that what the guard lets through a client accepts. A schema
 * that names draft 2019-09 or 2020-12 in `$schema` is read under that draft, others as draft-07.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import type { Json, JsonObject } from '../core/types.js';
import type { CompiledSchema } from './guard.js';

type Instance = Ajv | Ajv2019 | Ajv2020;

const instances = new Map<string, Instance>();

function instanceFor(schema: JsonObject): Instance {
  const draft = typeof schema['$schema'] === 'string' ? schema['$schema'] : '';
  const which = draft.includes('2020-12') ? '2020' : draft.includes('2019-09') ? '2019' : '07';
  let ajv = instances.get(which);
  if (!ajv) {
    const options = { strict: false, validateFormats: true, validateSchema: false, allErrors: true } as const;
    ajv = which === '2020' ? new Ajv2020(options) : which === '2019' ? new Ajv2019(options) : new Ajv(options);
    (formats as unknown as (ajv: Instance) => void)(ajv);
    instances.set(which, ajv);
  }
  return ajv;
}

export type Compiled = { ok: true; schema: CompiledSchema } | { ok: false; reason: string };

/** Compiles a declared schema, or says why it cannot be (then the learnt shape guards the tool). */
export function compileSchema(schema: JsonObject): Compiled {
  let validate: ValidateFunction;
  try {
    const ajv = instanceFor(schema);
    // Compiled schemas are not kept by Ajv unless they have an $id; one with an $id seen before is reused.
    const id = typeof schema['$id'] === 'string' ? schema['$id'] : undefined;
    validate = (id !== undefined ? ajv.getSchema(id) : undefined) ?? ajv.compile(schema);
  } catch (error) {
    return { ok: false, reason: `the declared output schema cannot be compiled: ${(error as Error).message}` };
  }
  return {
    ok: true,
    schema: {
      schema,
      misfits(value: Json, limit: number): string[] {
        if (validate(value)) return [];
        return (validate.errors ?? []).slice(0, limit).map(words);
      },
    },
  };
}

/** One Ajv error in words: where (as a JSON path) and what. */
function words(error: ErrorObject): string {
  const where = pathOf(error.instancePath);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required')
    return `${where} has no key ${JSON.stringify(params['missingProperty'])}, which the declared output schema requires`;
  if (error.keyword === 'additionalProperties')
    return `${where} has the key ${JSON.stringify(params['additionalProperty'])}, which the declared output schema does not allow`;
  return `${where} ${error.message ?? 'does not fit the declared output schema'} (declared output schema)`;
}

/** `/orders/0/status` as `$.orders[0].status`. */
function pathOf(pointer: string): string {
  if (pointer === '') return '$';
  return `$${pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`))
    .join('')}`;
}

/**
 * What an MCP client would validate of a recorded successful answer: the `structuredContent` of an
 * MCP tool result, or a plain object itself (the MCP face carries it as `structuredContent`); an
 * MCP error result is not validated. Anything else cannot be structured content.
 */
export function structuredContentOf(output: Json): { value: Json } | { skip: true } | { misfit: string } {
  if (typeof output === 'object' && output !== null && !Array.isArray(output)) {
    if (!Array.isArray(output['content'])) return { value: output };
    if (output['isError'] === true) return { skip: true };
    const structured = output['structuredContent'];
    return structured === undefined ? { misfit: 'an MCP tool result without "structuredContent"' } : { value: structured };
  }
  const kind = output === null ? 'null' : Array.isArray(output) ? 'a list' : `a ${typeof output}`;
  return { misfit: `the answer is ${kind}, not an object MCP can carry as structuredContent` };
}

/** Every recorded successful answer checked against a compiled schema, as MCP would carry it. */
export function checkRecorded(
  schema: CompiledSchema,
  answers: Iterable<{ outputJson: string; isError: boolean }>,
): { answers: number; misfits: number; example?: string } {
  let checked = 0;
  let misfits = 0;
  let example: string | undefined;
  for (const answer of answers) {
    if (answer.isError) continue;
    const form = structuredContentOf(JSON.parse(answer.outputJson) as Json);
    if ('skip' in form) continue;
    checked++;
    const found = 'misfit' in form ? [form.misfit] : schema.misfits(form.value, 3);
    if (found.length === 0) continue;
    misfits++;
    example ??= found.join('; ').slice(0, 480);
  }
  return example === undefined ? { answers: checked, misfits } : { answers: checked, misfits, example };
}
