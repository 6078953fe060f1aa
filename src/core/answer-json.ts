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
 * answer LRU): the answer with `match.memoized` true, its JSON text built once by `buildAnswerJson`
 * (so the same bytes as its first answer but for that flag), kept as UTF-8 bytes outside V8's heap
 * and sent over HTTP as they are (`answerBody`). Its output and `match.neighbors` are read back
 * from those bytes when asked (in-process callers, MCP and verl).
 *
 * Why not a copy of the answer's objects: it held the neighbours' objects and numbers beside the
 * text, and frozen copies made by spreading got a hidden class each in V8 (some 500 bytes apiece),
 * so a long run's memo hits held about 3 KB against the 2 KB the LRU counted. And why outside the
 * heap: an LRU that keeps tens of thousands of improvisations and evicts the oldest leaves holes in
 * V8's old generation, which it keeps committed; the bytes of a Buffer go back to the allocator
 * when it is collected. (bench/RESULTS.md, "Long run"; docs/decisions/bounded-wal.md.)
 *
 * Every later call of the key shares it, so nothing of it can be changed: its fields are read-only
 * and `match` is built anew on each read. The fuzzy tier keeps only answers whose match is a key
 * and neighbours (none of a rollout, none unmemoized), and that is what `match` gives back.
 */
export class KeptImprovisation implements Answer {
  /** Where its output starts in its JSON text (`buildAnswerJson`). */
  static readonly #OUTPUT_AT = '{"tier":"fuzzy","output":'.length;

  readonly tier = 'fuzzy';
  readonly isError: boolean;
  /** The answer's JSON text as UTF-8, outside V8's heap (read-only: every call of the key shares it). */
  readonly bytes: Buffer;
  readonly #outputEnd: number;
  readonly #key: string;

  constructor(answer: Answer) {
    const { key, neighbors } = answer.match;
    const match: Match = { key, memoized: true };
    if (neighbors) match.neighbors = neighbors;
    const json = buildAnswerJson({ tier: 'fuzzy', outputJson: answer.outputJson, isError: answer.isError, match });
    this.bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(json));
    this.bytes.write(json);
    this.isError = answer.isError;
    this.#key = key;
    this.#outputEnd = KeptImprovisation.#OUTPUT_AT + Buffer.byteLength(answer.outputJson);
  }

  get json(): string {
    return this.bytes.toString('utf8');
  }

  get outputJson(): string {
    return this.bytes.toString('utf8', KeptImprovisation.#OUTPUT_AT, this.#outputEnd);
  }

  /** The neighbours are parsed only when they are read (the serving path reads the key alone). */
  get match(): Match {
    const bytes = this.bytes;
    return {
      key: this.#key,
      memoized: true,
      get neighbors() {
        return (parseJson(bytes.toString('utf8'), 'text') as { match: Required<Match> }).match.neighbors;
      },
    };
  }
}

/** An answer as the body of an HTTP response: a memo hit's bytes as they are kept, else its JSON text. */
export function answerBody(answer: Answer): string | Buffer {
  return answer instanceof KeptImprovisation ? answer.bytes : answerJson(answer);
}
