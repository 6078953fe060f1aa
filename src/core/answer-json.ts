/**
 * An answer as the JSON text of the HTTP API (docs/http-api.md). The recorded output is already
 * JSON, so it is spliced in as it is: no parse, no re-serialization, and the bytes served are the
 * bytes recorded. Exact answers carry this text with them, built once per cached key.
 */
import { stringifyJson } from './json-text.js';
import type { Answer } from './types.js';

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
 * An improvisation as it is served from its second use on: `match.memoized` true, its JSON text
 * built once and kept with it, its output a slice of that text (V8 slices share their parent's
 * characters, so the text is held once, as an exact answer's is), frozen (every later call of it
 * shares the object).
 */
export function memoHitAnswer(answer: Answer): Answer {
  if (answer.match.memoized && answer.json !== undefined && Object.isFrozen(answer)) return answer;
  const memoHit: Answer = { ...answer, match: Object.freeze({ ...answer.match, memoized: true }) };
  delete memoHit.json;
  const json = buildAnswerJson(memoHit);
  const at = `{"tier":"${answer.tier}","output":`.length;
  memoHit.outputJson = json.slice(at, at + answer.outputJson.length);
  memoHit.json = json;
  return Object.freeze(memoHit);
}
