/**
 * One log line to a call or tool record (docs/log-format.md), or the reason it is rejected.
 */
import { hash } from 'node:crypto';
import { callKey, canonicalJson, dropIgnored, normalize, normalizeName, parseArguments } from '../core/canonical.js';
import { parseJson, stringifyJson } from '../core/json-text.js';
import { nameProblem } from '../core/tool-names.js';
import type { Json, JsonObject } from '../core/types.js';
import type { CallRow, ToolRow } from '../store/ingest-writer.js';
import type { ServerInfo } from '../store/store.js';
import type { RecordedOutput } from './transient.js';

export type ParsedRecord =
  /** `hasOutput` is false only when `outputOptional` let a call without "output" through (its output is then `null`). */
  | { kind: 'call'; row: Omit<CallRow, 'ordinal'>; hasOutput: boolean }
  | { kind: 'tool'; row: ToolRow }
  | { kind: 'server'; server: string; info: ServerInfo }
  | { kind: 'error'; reason: string };

const CALL_FIELDS = new Set([
  'kind',
  'server',
  'tool',
  'arguments',
  'output',
  'is_error',
  'transient',
  'trajectory_id',
  'node_id',
  'recorded_at',
  'source',
]);
const OPTIONAL_STRINGS = ['trajectory_id', 'node_id', 'recorded_at', 'source'] as const;

const reject = (reason: string): ParsedRecord => ({ kind: 'error', reason });

function name(record: Record<string, unknown>, field: 'server' | 'tool'): string | { error: string } {
  const value = record[field];
  if (value === undefined && field === 'server') return 'default';
  if (typeof value !== 'string' || value.length === 0) {
    return { error: value === undefined ? `missing "${field}"` : `"${field}" must be a non-empty string` };
  }
  return normalizeName(value);
}

export interface ParseOptions {
  /** Test sets for `toolsim replay` may leave "output" out: the call is replayed, not compared. */
  outputOptional?: boolean;
  /**
   * Recognizes a recorded infrastructure failure by its output's text (`transientMatcher`); used
   * when the record has no `"transient"` of its own.
   */
  isTransient?: (output: RecordedOutput) => boolean;
}

export function parseRecord(text: string, ignored: ReadonlySet<string>, options: ParseOptions = {}): ParsedRecord {
  let value: unknown;
  try {
    value = parseJson(text, 'text');
  } catch (error) {
    return reject(`not JSON (${(error as Error).message})`);
  }
  return parseRecordValue(value, ignored, options);
}

/** A record already parsed from JSON (transcript formats build these), checked as a log line is. */
export function parseRecordValue(value: unknown, ignored: ReadonlySet<string>, options: ParseOptions = {}): ParsedRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject('a record must be a JSON object');
  const record = value as Record<string, unknown>;
  const server = name(record, 'server');
  if (typeof server !== 'string') return reject(server.error);
  if (record['kind'] === 'server')
    return nameProblem(server, undefined) ? reject(nameProblem(server, undefined)!) : parseServer(record, server);
  const tool = name(record, 'tool');
  if (typeof tool !== 'string') return reject(tool.error);
  // Names that would make an mcp__<server>__<tool> name mean two tools, or another server's tool.
  const problem = nameProblem(server, tool);
  if (problem !== undefined) return reject(problem);

  const kind = record['kind'] ?? 'call';
  if (kind === 'tool') return parseTool(record, server, tool);
  if (kind !== 'call') return reject(`unknown "kind" ${JSON.stringify(kind)} (expected "call", "tool" or "server")`);

  if (!('arguments' in record)) return reject('missing "arguments"');
  const hasOutput = 'output' in record;
  if (!hasOutput && !options.outputOptional) return reject('missing "output"');
  const args = parseArguments(record['arguments']);
  if (!args.ok) return reject(args.reason);
  const isError = record['is_error'] ?? false;
  if (typeof isError !== 'boolean') return reject('"is_error" must be a boolean');
  const declared = record['transient'] ?? null;
  if (declared !== null && typeof declared !== 'boolean') return reject('"transient" must be a boolean');
  for (const field of OPTIONAL_STRINGS) {
    const v = record[field];
    if (v !== undefined && v !== null && typeof v !== 'string') return reject(`"${field}" must be a string`);
  }
  const parents = record['parents'];
  if (parents !== undefined && parents !== null && !(Array.isArray(parents) && parents.every((p) => typeof p === 'string'))) {
    return reject('"parents" must be an array of strings');
  }

  const kept = dropIgnored(args.value, ignored);
  const canonical = canonicalJson(kept);
  const key = callKey(server, tool, canonical);
  let output: string;
  try {
    output = stringifyJson(hasOutput ? record['output'] : null);
  } catch {
    return reject('"output" is nested too deeply to store');
  }

  const extra: JsonObject = {};
  let hasExtra = false;
  for (const field of Object.keys(record)) {
    if (!CALL_FIELDS.has(field)) {
      extra[field] = record[field] as Json;
      hasExtra = true;
    }
  }
  const metadata = hasExtra ? metadataJson(extra) : null;
  if (metadata === undefined) return reject('metadata is nested too deeply to store');

  // A record's own "transient" wins over recognition, both ways (false keeps a real answer that looks like an outage).
  const isString = hasOutput && typeof record['output'] === 'string';
  const outputText = isString ? (record['output'] as string) : output;
  const transient = declared ?? options.isTransient?.({ text: outputText, isString, isError }) ?? false;
  const optional = (field: (typeof OPTIONAL_STRINGS)[number]): string | null => (record[field] as string | null | undefined) ?? null;
  const row: Omit<CallRow, 'ordinal'> = {
    key: Buffer.from(key, 'hex'),
    server,
    tool,
    arguments: canonical,
    output,
    isError,
    transient,
    trajectoryId: optional('trajectory_id'),
    nodeId: optional('node_id'),
    recordedAt: optional('recorded_at'),
    source: optional('source'),
    metadata,
    record: Buffer.alloc(0),
  };
  row.record = recordHash(row, declared);
  return { kind: 'call', row, hasOutput };
}

function parseTool(record: Record<string, unknown>, server: string, tool: string): ParsedRecord {
  const description = record['description'];
  if (description !== undefined && description !== null && typeof description !== 'string') {
    return reject('"description" must be a string');
  }
  const schema = record['input_schema'];
  if (schema !== undefined && schema !== null && (typeof schema !== 'object' || Array.isArray(schema))) {
    return reject('"input_schema" must be a JSON Schema object');
  }
  let inputSchema: string | null = null;
  if (schema) {
    const normalized = normalize(schema);
    if (!normalized.ok) return reject(`"input_schema": ${normalized.reason}`);
    inputSchema = stringifyJson(schema);
  }
  const output = record['output_schema'];
  if (output !== undefined && output !== null && (typeof output !== 'object' || Array.isArray(output))) {
    return reject('"output_schema" must be a JSON Schema object');
  }
  let outputSchema: string | null = null;
  if (output) {
    const normalized = normalize(output);
    if (!normalized.ok) return reject(`"output_schema": ${normalized.reason}`);
    outputSchema = stringifyJson(output);
    // A server compiles it (Ajv) on its serving thread: its size bounds that work.
    if (outputSchema.length > MAX_OUTPUT_SCHEMA_CHARS)
      return reject(`"output_schema" is ${outputSchema.length} characters of JSON, over the limit of ${MAX_OUTPUT_SCHEMA_CHARS}`);
  }
  const annotations = annotationsOf(record['annotations']);
  if (typeof annotations === 'object' && annotations !== null && 'error' in annotations) return reject(annotations.error);
  return {
    kind: 'tool',
    row: { server, tool, description: (description as string | undefined) ?? null, inputSchema, outputSchema, annotations },
  };
}

const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

/** Longest declared output schema, as JSON text. */
export const MAX_OUTPUT_SCHEMA_CHARS = 256 * 1024;

/** MCP's ToolAnnotations as JSON text: the four hints booleans, `title` a string, other keys kept as recorded. */
function annotationsOf(value: unknown): string | null | { error: string } {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return { error: '"annotations" must be an object (MCP ToolAnnotations)' };
  const fields = value as Record<string, unknown>;
  for (const hint of HINTS) {
    const v = fields[hint];
    if (v !== undefined && v !== null && typeof v !== 'boolean') return { error: `"annotations.${hint}" must be a boolean` };
  }
  if (fields['title'] !== undefined && fields['title'] !== null && typeof fields['title'] !== 'string')
    return { error: '"annotations.title" must be a string' };
  const normalized = normalize(value);
  if (!normalized.ok) return { error: `"annotations": ${normalized.reason}` };
  // A hint recorded as null says nothing: left out, as MCP leaves out a hint it does not give.
  const kept: JsonObject = {};
  for (const [key, v] of Object.entries(fields)) if (v !== null) kept[key] = v as Json;
  return stringifyJson(kept);
}

/** A server's identity as its MCP `initialize` answered: `{"kind": "server", "server", "name"?, "version"?, "instructions"?}`. */
function parseServer(record: Record<string, unknown>, server: string): ParsedRecord {
  const info: ServerInfo = {};
  for (const field of ['name', 'version', 'instructions', 'protocol_version'] as const) {
    const v = record[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return reject(`"${field}" must be a string`);
    info[field] = v;
  }
  return { kind: 'server', server, info };
}

function metadataJson(extra: JsonObject): string | null | undefined {
  const normalized = normalize(extra);
  if (!normalized.ok) return undefined;
  return canonicalJson(normalized.value);
}

/** Hash of everything that was recorded: equal hashes mean the same line seen again. */
function recordHash(row: Omit<CallRow, 'ordinal' | 'record'>, declaredTransient: boolean | null): Buffer {
  // Length-prefixed, so no choice of values can make two different records hash alike. Hashed in
  // one piece: the same bytes as one update per part, without a Hash object per record.
  let text = '';
  for (const part of [
    row.key.toString('hex'),
    row.output,
    row.isError ? '1' : '0',
    row.trajectoryId,
    row.nodeId,
    row.recordedAt,
    row.source,
    row.metadata,
  ]) {
    text += part === null ? '-;' : `${part.length};${part}`;
  }
  // What the line declared, not what this ingest's patterns recognized (a re-ingest adds nothing);
  // a part only when declared, so records without the field keep their identity.
  if (declaredTransient !== null) text += declaredTransient ? '1;1' : '1;0';
  return hash('sha256', text, 'buffer');
}
