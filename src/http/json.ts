/**
 * The JSON body parser: strict UTF-8 (invalid bytes are a 400, not U+FFFD smuggled into a key),
 * then JSON.parse, then a refusal of `__proto__` and `constructor.prototype` keys so that no body
 * can ever reach an object's prototype, whatever code later merges it.
 */
import type { FastifyRequest } from 'fastify';
import { BadRequestError, ToolsimError } from '../core/errors.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
/** Each parsed body object's text, for routes that remember answers by the request's bytes. */
const texts = new WeakMap<object, string>();

/** The text a body object was parsed from, when it came through this parser. */
export function bodyText(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null ? texts.get(body) : undefined;
}

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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError('invalid_json', `the body is not valid JSON (${(error as Error).message.slice(0, 200)})`);
  }
  // Scanning costs a walk of the body; only bodies that mention the names pay it.
  if (text.includes('__proto__') || text.includes('constructor')) {
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
