/**
 * The JSON body parser: strict UTF-8 (invalid bytes are a 400, not U+FFFD smuggled into a key),
 * a nesting depth and a key count check before parsing (parsing 1.5M nested arrays, or a body of
 * 200,000 keys and then working through them, would itself block the loop),
 * then JSON without rounding (a number no double holds exactly stays a `RawNumber`, so arguments
 * such as 64-bit ids key as sent), then a refusal of `__proto__` and `constructor.prototype` keys
 * so that no body can ever reach an object's prototype, whatever code later merges it. Keys are
 * checked as parsed, so `"\u005f\u005fproto__"` is refused like `"__proto__"`.
 */
import type { FastifyRequest } from 'fastify';
import { BadRequestError, ToolsimError } from '../core/errors.js';
import { DEFAULT_MAX_KEYS, type JsonExcess, jsonExcess, WHOLE } from '../core/json-size.js';
import { runSteps } from '../core/json-steps.js';
import { parseJson } from '../core/json-text.js';
import { forbiddenKeySteps, LARGE_BODY_BYTES, readLargeBody } from './large-body.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
/** Each parsed body object's text, for routes that remember answers by the request's bytes. */
const texts = new WeakMap<object, string>();

/** The text a body object was parsed from, when it came through this parser. */
export function bodyText(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null ? texts.get(body) : undefined;
}

/** Nesting of arrays and objects a body may have (call arguments are refused past 64 anyway). */
export const MAX_BODY_DEPTH = 128;
/** Keys and array items of one body, all levels together, unless `--max-body-keys` says otherwise. */
export const DEFAULT_MAX_BODY_KEYS = DEFAULT_MAX_KEYS;

type Done = (error: Error | null, body?: unknown) => void;

export function parseJsonBody(body: Buffer, maxKeys = DEFAULT_MAX_BODY_KEYS): unknown {
  return parseJsonText(body, maxKeys).value;
}

/** The 400 for a JSON text past the depth or key limit, or undefined; checked before it is parsed. */
export function excessError(text: string, maxKeys: number, what = 'the body'): BadRequestError | undefined {
  const excess = jsonExcess(text, { depth: MAX_BODY_DEPTH, entries: maxKeys });
  return excess === undefined ? undefined : excessRefusal(excess, maxKeys, what);
}

/** The 400 for a JSON text past the depth or key limit. */
export function excessRefusal(excess: JsonExcess, maxKeys: number, what = 'the body'): BadRequestError {
  if (excess.kind === 'depth')
    return new BadRequestError('too_deep', `${what} nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`);
  return new BadRequestError(
    'too_many_keys',
    `${what} has more than ${maxKeys} keys and array items (all levels together; --max-body-keys); it was not read`,
  );
}

function parseJsonText(body: Buffer, maxKeys: number): { value: unknown; text: string } {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new BadRequestError('invalid_utf8', 'the body is not valid UTF-8');
  }
  if (text.trim() === '') throw new BadRequestError('empty_body', 'the body is empty; send a JSON object');
  const excess = excessError(text, maxKeys);
  if (excess) throw excess;
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
export function strictJsonParser(maxKeys = DEFAULT_MAX_BODY_KEYS): (request: FastifyRequest, body: Buffer, done: Done) => void {
  return (request, body, done) => {
    try {
      const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(request.headers['content-type'] ?? '')?.[1];
      if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
        throw new ToolsimError('unsupported_media_type', `JSON bodies are UTF-8; got charset ${JSON.stringify(charset.slice(0, 40))}`);
      }
      if (body.length > LARGE_BODY_BYTES) {
        // Read in slices (src/http/large-body.ts), with the same results and refusals.
        const limits = { depth: MAX_BODY_DEPTH, entries: maxKeys, refuse: (excess: JsonExcess) => excessRefusal(excess, maxKeys) };
        // A request stream is destroyed once read; its socket only when the client has gone.
        const gone = (): boolean => request.raw.socket?.destroyed === true;
        readLargeBody(body, limits, gone).then(({ value, text }) => {
          if (typeof value === 'object' && value !== null) texts.set(value, text);
          done(null, value);
        }, done);
        return;
      }
      const { value, text } = parseJsonText(body, maxKeys);
      if (typeof value === 'object' && value !== null) texts.set(value, text);
      done(null, value);
    } catch (error) {
      done(error as Error);
    }
  };
}

/** The first `__proto__` or `constructor.prototype` key (large-body.ts's walk, run whole). */
function forbiddenKeyPath(root: unknown): string | undefined {
  return runSteps(forbiddenKeySteps(root, WHOLE));
}
