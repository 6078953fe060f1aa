/**
 * The contract of a transcript format: it turns JSON values (JSONL lines, or one document) into
 * native log records (docs/log-format.md), which then go through the same parser as a native log line,
 * so a transcript and the equivalent native lines give the same keys.
 */

import { splitName } from './tool-names.js';

/** A native log record, as a log line would hold it before parsing. */
export type NativeRecord = Record<string, unknown>;

export interface Sink {
  record(record: NativeRecord, line: number): void;
  /** Something in the input is malformed: counted as rejected. */
  problem(reason: string, line: number): void;
  /** A call without its result, or a result without its call: reported, counted, never stored. */
  unpaired(reason: string, line: number): void;
}

export interface ReaderOptions {
  /** `--server`: the server of calls whose names and records do not say. */
  server?: string | undefined;
}

export interface Reader {
  /** One JSON value: a line of a JSONL file, or an item of a JSON document. */
  value(value: unknown, line: number): void;
  /** End of the input: calls still waiting for a result are reported. */
  end(): void;
}

export interface Format {
  readonly name: string;
  /** Whether a value (a line, or a whole document) looks like this format. */
  detect(value: unknown): boolean;
  reader(sink: Sink, options: ReaderOptions): Reader;
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Server precedence: an `mcp__` name, then the record's own server, then `--server`. */
export function resolveServer(name: string, recordServer: string | undefined, options: ReaderOptions): { server?: string; tool: string } {
  const split = splitName(name);
  const server = split.server ?? recordServer ?? options.server;
  return server === undefined ? { tool: split.tool } : { server, tool: split.tool };
}

export interface PendingCall {
  server?: string;
  tool: string;
  arguments: unknown;
  trajectoryId?: string | undefined;
  line: number;
}

/**
 * Calls waiting for their results, by id. A result with no call, a call whose id is reused before
 * its result came, and a call left without a result are reported and never stored: only what was
 * observed is replayed.
 */
export class Pairing {
  readonly #pending = new Map<string, PendingCall>();
  readonly #sink: Sink;
  readonly #source: string;

  constructor(sink: Sink, source: string) {
    this.#sink = sink;
    this.#source = source;
  }

  call(id: string, call: PendingCall): void {
    const earlier = this.#pending.get(id);
    if (earlier) this.#unanswered(id, earlier);
    this.#pending.set(id, call);
  }

  /** `transient`: the result's own `"transient"` when it has a boolean one (docs/log-format.md), else undefined. */
  result(id: string, output: unknown, isError: boolean, line: number, transient?: unknown): void {
    const call = this.#pending.get(id);
    if (!call) {
      this.#sink.unpaired(`result for call id ${JSON.stringify(id)}, which has no call before it; not stored`, line);
      return;
    }
    this.#pending.delete(id);
    this.#sink.record(nativeCall(call, output, isError, this.#source, transient), line);
  }

  /** Forgets a call without storing it (its answer was a protocol error, not a tool result). */
  drop(id: string): PendingCall | undefined {
    const call = this.#pending.get(id);
    this.#pending.delete(id);
    return call;
  }

  has(id: string): boolean {
    return this.#pending.has(id);
  }

  /** Reports every call still waiting, and forgets them. */
  flush(): void {
    for (const [id, call] of this.#pending) this.#unanswered(id, call);
    this.#pending.clear();
  }

  #unanswered(id: string, call: PendingCall): void {
    this.#sink.unpaired(`call ${JSON.stringify(id)} of ${call.tool} has no result; not stored`, call.line);
  }
}

export function nativeCall(
  call: Omit<PendingCall, 'line'>,
  output: unknown,
  isError: boolean,
  source: string,
  transient?: unknown,
): NativeRecord {
  const record: NativeRecord = {};
  if (call.server !== undefined) record['server'] = call.server;
  record['tool'] = call.tool;
  record['arguments'] = call.arguments;
  record['output'] = output;
  record['is_error'] = isError;
  if (typeof transient === 'boolean') record['transient'] = transient;
  if (call.trajectoryId !== undefined) record['trajectory_id'] = call.trajectoryId;
  record['source'] = source;
  return record;
}

/**
 * A tool record from a transcript's tool definition. `extra` carries what MCP tool definitions
 * add (`outputSchema`, `annotations`): kept as recorded, so ingest checks them as it checks a
 * native record's.
 */
export function nativeTool(
  server: string | undefined,
  tool: string,
  description: unknown,
  schema: unknown,
  extra: { outputSchema?: unknown; annotations?: unknown } = {},
): NativeRecord {
  const record: NativeRecord = { kind: 'tool', tool };
  if (server !== undefined) record['server'] = server;
  if (typeof description === 'string') record['description'] = description;
  if (isObject(schema)) record['input_schema'] = schema;
  if (extra.outputSchema !== undefined && extra.outputSchema !== null) record['output_schema'] = extra.outputSchema;
  if (extra.annotations !== undefined && extra.annotations !== null) record['annotations'] = extra.annotations;
  return record;
}

/** A conversation's own id, when it has one: it becomes the calls' trajectory id. */
export function conversationId(value: Record<string, unknown>): string | undefined {
  for (const field of ['trajectory_id', 'id', 'conversation_id', 'session_id']) {
    const v = value[field];
    if (typeof v === 'string' && v.length > 0) return v;
    if (typeof v === 'number') return String(v);
  }
  return undefined;
}
