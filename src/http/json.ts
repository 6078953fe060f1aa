/**
 * The JSON body parser: strict UTF-8 (invalid bytes are a 400, not U+FFFD smuggled into a key),
 * a nesting depth check before parsing (parsing 1.5M nested arrays would itself block the loop),
 * then JSON without rounding (a number no double holds exactly stays a `RawNumber`, so arguments
 * such as 64-bit ids key as sent), then a refusal of `__proto__` and `constructor.prototype` keys
 * so that no body can ever reach an object's prototype, whatever code later merges it. Keys are
 * checked as parsed, so `"\u005f\u005fproto__"` is refused like `"__proto__"`.
 */
import type { FastifyRequest } from 'fastify';
import { BadRequestError, ToolsimError } from '../core/errors.js';
import { parseJson } from '../core/json-text.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
/** Each parsed body object's text, for routes that remember answers by the request's bytes. */
const texts = new WeakMap<object, string>();

/** The text a body object was parsed from, when it came through this parser. */
export function bodyText(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null ? texts.get(body) : undefined;
}

/** Nesting of arrays and objects a body may have (call arguments are refused past 64 anyway). */
export const MAX_BODY_DEPTH = 128;

type Done = (error: Error | null, body?: unknown) => void;

export function parseJsonBody(body: Buffer): unknown {
  return parseJsonText(body).value;
}

function parseJsonText(body: Buffer): { value: unknown; text: string } {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new BadRequestError('invalid_utf8', 'the body is not valid UTF-8');
  }
  if (text.trim() === '') throw new BadRequestError('empty_body', 'the body is empty; send a JSON object');
  if (nestingExceeds(text, MAX_BODY_DEPTH)) {
    throw new BadRequestError('too_deep', `the body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = parseJson(text, 'value');
  } catch (error) {
    throw new BadRequestError('invalid_json', `the body is not valid JSON (${(error as Error).message.slice(0, 200)})`);
  }
  // Scanning costs a walk of the body; only bodies that mention the names, or hold escapes that
  // could spell them, pay it.
  if (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')) {
    const path = forbiddenKeyPath(value);
    if (path !== undefined) throw new BadRequestError('forbidden_key', `the body has a key named ${path}; it is refused`);
  }
  return { value, text };
}

/** A fastify content-type parser (parseAs: 'buffer') around `parseJsonBody`. */
export function strictJsonParser(): (request: FastifyRequest, body: Buffer, done: Done) => void {
  return (request, body, done) => {
    try {
      const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(request.headers['content-type'] ?? '')?.[1];
      if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
        throw new ToolsimError('unsupported_media_type', `JSON bodies are UTF-8; got charset ${JSON.stringify(charset.slice(0, 40))}`);
      }
      const { value, text } = parseJsonText(body);
      if (typeof value === 'object' && value !== null) texts.set(value, text);
      done(null, value);
    } catch (error) {
      done(error as Error);
    }
  };
}

/** The first `__proto__` or `constructor.prototype` key, found without recursion (bodies may nest 10,000 deep). */
function forbiddenKeyPath(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
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

/**
 * Does JSON text nest arrays and objects deeper than `limit`? One pass over the text; the inside of
 * a string is skipped with indexOf (fast on megabyte strings). A text no longer than the limit
 * cannot, and is not scanned.
 */
export function nestingExceeds(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // To the closing quote: one not preceded by an odd number of backslashes.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return false; // unterminated: JSON.parse will say so
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        i = end;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
