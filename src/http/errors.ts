/**
 * Errors to HTTP answers, in one place: toolsim's own (src/core/errors.ts) and those Fastify and
 * Node raise before a route runs (body parsing, schema validation, load shedding). Every one
 * becomes `{"error": {"code", "message"}}` with a code of the registry.
 */
import type { FastifyError, FastifyReply } from 'fastify';
import { ERRORS, type ErrorCode, ToolsimError } from '../core/errors.js';
import { errorJson } from './serialize.js';

/**
 * Fastify's own error codes, as the client sees them. The two JSON ones come only from Fastify's
 * JSON parser, which app.ts replaces with its strict one (same codes).
 *
 * Not here: the refusals before routing (an undecodable URL, a path parameter over 100
 * characters), answered through Fastify's `frameworkErrors`, and Node's own (not HTTP, headers too
 * large, request timeout), answered through the server's `clientError` handler; both in app.ts,
 * in the same shape with codes of the registry.
 */
export const FRAMEWORK_ERRORS: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
};

/** Fastify's words ("Request body is too large", "Unsupported Media Type"), replaced by what to do. */
const FRAMEWORK_MESSAGES: Partial<Record<ErrorCode, string>> = {
  body_too_large: "the body is larger than the server's --body-limit: send fewer calls per batch, or raise --body-limit",
  unsupported_media_type: 'the body must be JSON, sent with the header Content-Type: application/json',
};

export interface ErrorAnswer {
  status: number;
  code: ErrorCode;
  message: string;
  /** Unexpected: worth a log line with the error itself. */
  unexpected?: true;
}

/** The answer to an error that reached the error handler. */
export function errorAnswer(error: FastifyError): ErrorAnswer {
  if (error instanceof ToolsimError) return { status: error.statusCode, code: error.code, message: error.message };
  if (error.validation) return { status: ERRORS.invalid_request.status, code: 'invalid_request', message: error.message };
  if (error.statusCode === 503) {
    // Shed by under-pressure or refused while closing; Retry-After is added by the caller.
    return {
      status: ERRORS.overloaded.status,
      code: 'overloaded',
      message: 'the server is over capacity; retry after the Retry-After delay',
    };
  }
  const known = error.code ? FRAMEWORK_ERRORS[error.code] : undefined;
  if (known) return { status: ERRORS[known].status, code: known, message: FRAMEWORK_MESSAGES[known] ?? error.message };
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    // Another client error of the framework keeps the status it chose.
    return { status: error.statusCode, code: 'bad_request', message: error.message };
  }
  return { status: ERRORS.internal_error.status, code: 'internal_error', message: 'internal error', unexpected: true };
}

/** Sends `{"error": {"code", "message"}}` with the code's status (or `status`, for bad_request). */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string, status: number = ERRORS[code].status): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(errorJson({ code, message }));
}
