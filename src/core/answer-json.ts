/**
 * An answer as the JSON text of the HTTP API (docs/http-api.md). The recorded output is already
 * JSON, so it is spliced in as it is: no parse, no re-serialization, and the bytes served are the
 * bytes recorded. Exact answers carry this text with them, built once per cached key.
 */
import { parseJson, stringifyJson } from './json-text.js';
import type { Answer, Match } from './types.js';

export function answerJson(answer: Answer): string {
  return answer.json ?? buildAnswerJson(answer);
}

export function buildAnswerJson(answer: Answer): string {
  const { match } = answer;
  let matchJson = `{"key":"${match.key}"`;
  if (match.observations !== undefined) matchJson += `,"observations":${match.observations}`;
  if (match.outputs !== undefined) matchJson += `,"outputs":${match.outputs}`;
  if (match.chosen_by !== undefined) matchJson += `,"chosen_by":"${match.chosen_by}"`;
  if (match.failures !== undefined) matchJson += `,"failures":${match.failures}`;
  if (match.recorded !== undefined) matchJson += `,"recorded":${match.recorded}`;
  if (match.memoized !== undefined) matchJson += `,"memoized":${match.memoized}`;
  if (match.unmemoized) matchJson += ',"unmemoized":true';
  // Neighbours' arguments keep every digit (a RawNumber is written as its text, never as a double).
  if (match.neighbors !== undefined) matchJson += `,"neighbors":${stringifyJson(match.neighbors, true)}`;
  if (match.refused !== undefined) matchJson += `,"refused":${JSON.stringify(match.refused)}`;
  if (match.rollout !== undefined)
    matchJson += `,"rollout":{"diverged_since":${match.rollout.diverged_since},"history":${match.rollout.history}}`;
  const reason = answer.reason === undefined ? '' : `,"reason":"${answer.reason}"`;
  return `{"tier":"${answer.tier}","output":${answer.outputJson},"is_error":${answer.isError}${reason},"match":${matchJson}}}`;
}

/**
 * An improvisation as it is served from its second use on (a memo hit the fuzzy tier keeps in the
 * answer LRU): its JSON text, built once, `match.memoized` true, kept as UTF-8 bytes outside V8's
 * heap and sent over HTTP as they are (`answerBody`). Its output and `match.neighbors` are read
 * back from those bytes when asked (in-process callers, MCP and verl).
 *
 * Why not a copy of the answer's objects: it held the neighbours' objects and numbers beside the
 * text, and frozen copies made by spreading got a hidden class each in V8 (some 500 bytes apiece),
 * so a long run's memo hits held about 3 KB against the 2 KB the LRU counted. And why outside the
 * heap: an LRU that keeps tens of thousands of improvisations and evicts the oldest leaves holes in
 * V8's old generation, which it keeps committed; the bytes of a Buffer go back to the allocator
 * when it is collected. (bench/RESULTS.md, "Long run"; docs/decisions/bounded-wal.md.)
 *
 * Every later call of the key shares it, so nothing of it can be changed: its fields are read-only
 * and `match` is built anew on each read.
 */
class KeptImprovisation implements Answer {
  readonly tier = 'fuzzy';
  readonly isError: boolean;
  /** The answer's JSON text as UTF-8, outside V8's heap. */
  readonly #bytes: Buffer;
  readonly #outputAt: number;
  readonly #outputEnd: number;
  readonly #neighborsAt: number;
  readonly #key: string;

  constructor(answer: Answer, neighborsJson: string) {
    const head = `{"tier":"fuzzy","output":`;
    const matchHead = `,"is_error":${answer.isError},"match":{"key":"${answer.match.key}","memoized":true,"neighbors":`;
    const json = `${head}${answer.outputJson}${matchHead}${neighborsJson}}}`;
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(json));
    bytes.write(json);
    this.#bytes = bytes;
    this.isError = answer.isError;
    this.#key = answer.match.key;
    this.#outputAt = head.length;
    this.#outputEnd = head.length + Buffer.byteLength(answer.outputJson);
    this.#neighborsAt = this.#outputEnd + matchHead.length;
  }

  get json(): string {
    return this.#bytes.toString('utf8');
  }

  /** The JSON text's UTF-8 bytes, as they are sent over HTTP (read-only: every call of the key shares them). */
  get bytes(): Buffer {
    return this.#bytes;
  }

  get outputJson(): string {
    return this.#bytes.toString('utf8', this.#outputAt, this.#outputEnd);
  }

  /** Built on each read; the neighbours are parsed only when they are read (the serving path reads the key alone). */
  get match(): Match {
    const bytes = this.#bytes;
    const at = this.#neighborsAt;
    return {
      key: this.#key,
      memoized: true,
      get neighbors() {
        return parseJson(bytes.toString('utf8', at, bytes.length - 2), 'text') as NonNullable<Match['neighbors']>;
      },
    };
  }
}

/** Bytes of a memo hit's text (UTF-8, outside V8's heap), or undefined for any other answer. */
export function memoHitBytes(answer: Answer): number | undefined {
  return answer instanceof KeptImprovisation ? answer.bytes.length : undefined;
}

/** An answer as the body of an HTTP response: a memo hit's bytes as they are kept, else its JSON text. */
export function answerBody(answer: Answer): string | Buffer {
  return answer instanceof KeptImprovisation ? answer.bytes : answerJson(answer);
}

/** The memo hit an improvisation is served as from its second use on (`KeptImprovisation`, or a frozen copy when its match says more than a key and neighbours). */
export function memoHitAnswer(answer: Answer): Answer {
  if (answer instanceof KeptImprovisation) return answer;
  const { match } = answer;
  const plain =
    answer.tier === 'fuzzy' &&
    answer.reason === undefined &&
    match.neighbors !== undefined &&
    Object.keys(match).every((name) => name === 'key' || name === 'memoized' || name === 'neighbors');
  if (plain) return new KeptImprovisation(answer, stringifyJson(match.neighbors, true));
  const memoHit: Answer = {
    tier: answer.tier,
    outputJson: answer.outputJson,
    isError: answer.isError,
    match: Object.freeze({ ...match, memoized: true }),
  };
  if (answer.reason !== undefined) memoHit.reason = answer.reason;
  const json = buildAnswerJson(memoHit);
  const at = `{"tier":"${answer.tier}","output":`.length;
  memoHit.outputJson = json.slice(at, at + answer.outputJson.length);
  memoHit.json = json;
  return Object.freeze(memoHit);
}
