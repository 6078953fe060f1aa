/** Answers and errors to JSON text (the answer's own text is built in core/answer-json.ts, beside the exact tier's cache). */

import type { ToolsimError } from '../core/errors.js';

export { answerBody, answerJson } from '../core/answer-json.js';

export function errorJson(error: Pick<ToolsimError, 'code' | 'message'>): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}
