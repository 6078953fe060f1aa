/**
 * Large JSON bodies, read a few milliseconds per turn of the event loop. The body parser
 * (json.ts) reads a small body in one piece; a body of up to `--body-limit` (4 MiB) read that way
 * held the loop 50-90 ms (4 MB of escaped quotes, 9,500 decimals of 400 digits, 4 MB of non-ASCII
 * text), and every other client of the replica waited. Here the same steps (strict UTF-8, the depth
 * and key count, the exact numbers, `JSON.parse`, the refusal of `__proto__` keys) run as
 * generators (src/core/json-steps.ts) in slices among the server's other cooperative work
 * (src/simulator/cooperate.ts), with the same results and the same 400s. `JSON.parse` itself stays
 * one slice: native, a few milliseconds for 4 MB. A client that leaves while its body is being
 * read stops the reading at the next slice.
 */
import { BadRequestError } from '../core/errors.js';
import type { JsonExcess, JsonLimits, SliceClock } from '../core/json-size.js';
import { jsonExcessSteps, parseJsonSteps, type Slice, type Steps } from '../core/json-steps.js';
import { inSlices } from '../simulator/cooperate.js';

/** What a large body may hold (json.ts's limits) and the 400 for a body past them. */
export interface BodyLimits extends JsonLimits {
  refuse(excess: JsonExcess): Error;
}

/** Bodies longer than this (bytes) are read in slices; shorter ones, at most a few milliseconds of work, in one piece. */
export const LARGE_BODY_BYTES = 256 * 1024;
/** Bytes decoded per look at the clock: 64 KiB of non-ASCII text take about 0.3 ms. */
const DECODE_CHUNK = 64 * 1024;

/**
 * Large bodies read at once, at most; the others wait their turn (first come, first read). Each
 * reading holds its text and its numbers besides the body: 40 bodies of 3.8 MB of decimals read
 * side by side held about 400 MiB of heap at the peak, 16 at a time bound that, 2 at a time held
 * 100 MiB. But queueing lengthens the turns of the bodies' later work, which then bunches up (all
 * twenty requests of the bench at once: the slowest loop delay 50-80 ms two at a time, 30-45 ms
 * side by side), so the bound is one a burst of ordinary clients does not reach.
 */
export const MAX_READING = 16;

const counts = { reading: 0, waiting: 0, abandoned: 0 };
const turns: (() => void)[] = [];

/** Large bodies being read now, waiting their turn, and stopped because their client left (since start). */
export function largeBodyReadings(): { reading: number; waiting: number; abandoned: number } {
  return { ...counts };
}

async function turn(): Promise<void> {
  if (counts.reading < MAX_READING) {
    counts.reading++;
    return;
  }
  counts.waiting++;
  // The reading that ends hands its place over (`counts.reading` stays as it is).
  await new Promise<void>((resolve) => turns.push(resolve));
  counts.waiting--;
}

function endTurn(): void {
  const next = turns.shift();
  if (next) next();
  else counts.reading--;
}

/**
 * A large body's value and text, read in slices; rejects with the 400 the body parser gives for
 * the same bytes. `gone` is asked between slices: once it is true the reading stops and rejects.
 */
export async function readLargeBody(body: Buffer, limits: BodyLimits, gone: () => boolean): Promise<{ value: unknown; text: string }> {
  await turn();
  try {
    const read = await inSlices(
      (slice) => bodySteps(body, limits, slice),
      () => {
        if (!gone()) return undefined;
        counts.abandoned++;
        return new BadRequestError('bad_request', 'the client closed the connection before its body was read');
      },
    );
    // The route runs in a turn of its own, not after the last slice.
    await new Promise((resolve) => setImmediate(resolve));
    return read;
  } finally {
    endTurn();
  }
}

/** The body parser's steps (json.ts, `parseJsonText`), in the same order with the same errors. */
function* bodySteps(body: Buffer, limits: BodyLimits, slice: Slice): Steps<{ value: unknown; text: string }> {
  const text = yield* decodeSteps(body, slice);
  if (text.trim() === '') throw new BadRequestError('empty_body', 'the body is empty; send a JSON object');
  const excess = yield* jsonExcessSteps(text, limits, slice);
  if (excess) throw limits.refuse(excess);
  let value: unknown;
  try {
    value = yield* parseJsonSteps(text, 'value', slice);
  } catch (error) {
    throw new BadRequestError('invalid_json', `the body is not valid JSON (${(error as Error).message.slice(0, 200)})`);
  }
  if (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')) {
    const path = yield* forbiddenKeySteps(value, slice);
    if (path !== undefined) throw new BadRequestError('forbidden_key', `the body has a key named ${path}; it is refused`);
  }
  return { value, text };
}

/** Strict UTF-8 in chunks (a multi-byte character split between two is carried over by the decoder). */
function* decodeSteps(body: Buffer, slice: Slice): Steps<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const pieces: string[] = [];
  try {
    for (let at = 0; at < body.length; at += DECODE_CHUNK) {
      pieces.push(decoder.decode(body.subarray(at, at + DECODE_CHUNK), { stream: true }));
      if (slice.over(CHECK_NOW)) yield;
    }
    pieces.push(decoder.decode());
  } catch {
    throw new BadRequestError('invalid_utf8', 'the body is not valid UTF-8');
  }
  return pieces.join('');
}

/** A weight that makes the slice look at the clock now. */
const CHECK_NOW = 1 << 20;

/**
 * The first `__proto__` or `constructor.prototype` key, found without recursion (bodies may nest
 * 10,000 deep), in steps; json.ts runs the same walk whole (`WHOLE`).
 */
export function* forbiddenKeySteps(root: unknown, slice: SliceClock): Steps<string | undefined> {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    if (slice.over()) yield;
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key];
      if (key === '__proto__') return '"__proto__"';
      if (key === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype')) {
        return '"constructor" with "prototype"';
      }
      stack.push(child);
    }
  }
  return undefined;
}
