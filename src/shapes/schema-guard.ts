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
