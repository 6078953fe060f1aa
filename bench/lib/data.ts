/**
 * Generated exploration logs. Every line comes from a real sample call (cache/samples), with its
 * first string argument suffixed by a variant number so that keys stay distinct past the samples'
 * size; each line gets its own trajectory id, so every line is a distinct recording.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import type { Json, JsonObject } from '../../src/core/types.js';
import { SAMPLES } from './paths.js';

export interface SampleCall {
  server: string;
  tool: string;
  arguments: JsonObject;
  output: Json;
  is_error: boolean;
  trajectory_id: string;
}

/** A request body for POST /v1/call. */
export interface CallBody {
  server: string;
  tool: string;
  arguments: JsonObject;
}

let samples: SampleCall[] | undefined;

export function loadSamples(): SampleCall[] {
  if (samples) return samples;
  samples = [];
  for (const file of SAMPLES) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as Record<string, unknown>;
      if ((record['kind'] ?? 'call') !== 'call') continue;
      const raw = record['arguments'];
      const args = (typeof raw === 'string' ? JSON.parse(raw) : raw) as JsonObject;
      samples.push({
        server: (record['server'] as string | undefined) ?? 'default',
        tool: record['tool'] as string,
        arguments: args,
        output: record['output'] as Json,
        is_error: record['is_error'] === true,
        trajectory_id: (record['trajectory_id'] as string | undefined) ?? '',
      });
    }
  }
  return samples;
}

export function variantArgs(args: JsonObject, variant: number): JsonObject {
  if (variant === 0) return args;
  const out: JsonObject = { ...args };
  const name = Object.keys(args)
    .sort()
    .find((k) => typeof args[k] === 'string');
  if (name !== undefined) out[name] = `${args[name] as string}~${variant}`;
  else out['variant'] = variant;
  return out;
}

/** Line `i` of a generated log drawn from `pool`. */
export function generatedCall(pool: readonly SampleCall[], i: number): SampleCall {
  const base = pool[i % pool.length]!;
  const variant = Math.floor(i / pool.length);
  return { ...base, arguments: variantArgs(base.arguments, variant), trajectory_id: `bench/${i}/${base.trajectory_id}` };
}

export function lineOf(call: SampleCall): string {
  return JSON.stringify({
    server: call.server,
    tool: call.tool,
    arguments: call.arguments,
    output: call.output,
    is_error: call.is_error,
    trajectory_id: call.trajectory_id,
    source: 'bench',
  });
}

export function bodyOf(call: SampleCall): CallBody {
  return { server: call.server, tool: call.tool, arguments: call.arguments };
}

/** Writes lines `from..from+count-1` of a generated log to `path`, unless it is already there. */
export function writeGeneratedLog(path: string, pool: readonly SampleCall[], count: number, from = 0): string {
  if (existsSync(path)) return path;
  const partial = `${path}.partial`;
  const fd = openSync(partial, 'w');
  try {
    const chunk: string[] = [];
    for (let i = from; i < from + count; i++) {
      chunk.push(lineOf(generatedCall(pool, i)));
      if (chunk.length === 10_000) {
        writeSync(fd, `${chunk.join('\n')}\n`);
        chunk.length = 0;
      }
    }
    if (chunk.length > 0) writeSync(fd, `${chunk.join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(partial, path);
  return path;
}

/** The first `count` distinct calls of a generated log, and how many lines it took to find them. */
export function distinctCalls(pool: readonly SampleCall[], count: number): { calls: SampleCall[]; lines: number } {
  const seen = new Set<string>();
  const calls: SampleCall[] = [];
  let i = 0;
  for (; calls.length < count; i++) {
    const call = generatedCall(pool, i);
    const id = JSON.stringify(bodyOf(call));
    if (seen.has(id)) continue;
    seen.add(id);
    calls.push(call);
  }
  return { calls, lines: i };
}
