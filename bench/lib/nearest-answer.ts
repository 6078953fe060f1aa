/**
 * A stand-in LLM that answers like the nearest recording: the first example's output and error
 * flag in the prompt. Its answers fit the tool's learnt output shape, so the output guard passes
 * them, as it would a good model's (a fixed text would be refused and asked again).
 */
import type { SeenRequest } from '../../test/support/fake-anthropic.js';

/** The user part of a request's prompt. */
export const userOf = (request: SeenRequest): string => (request.body['messages'] as { content: string }[])[0]?.content ?? '';
/** The nearest example's output (its first `output:` line), or "ok" when the prompt has none. */
export function nearestOutput(request: SeenRequest): unknown {
  const line = /^output: (.*)$/m.exec(userOf(request))?.[1];
  try {
    return line === undefined ? 'ok' : JSON.parse(line);
  } catch {
    return 'ok';
  }
}

/** The nearest example's error flag, so a copied error message is answered as an error. */
export const nearestIsError = (request: SeenRequest): boolean => /^is_error: (true|false)$/m.exec(userOf(request))?.[1] === 'true';
