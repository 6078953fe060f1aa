/**
 * Every error a client can see, with its stable code and HTTP status. Routes throw these; the
 * error handler in app.ts turns them into `{"error": {"code", "message"}}`.
 */
export class ToolsimError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request is malformed: wrong types, bad JSON, arguments that are not an object. */
export class BadRequestError extends ToolsimError {
  constructor(code: string, message: string) {
    super(code, 400, message);
  }
}

/** The tool name is recorded on several servers and the request did not say which. */
export class AmbiguousToolError extends ToolsimError {
  constructor(tool: string, servers: readonly string[]) {
    super(
      'ambiguous_tool',
      400,
      `tool "${tool}" exists on several servers (${servers.join(', ')}); name one in "server"`,
    );
  }
}

/** A route or resource that does not exist. */
export class NotFoundError extends ToolsimError {
  constructor(message: string) {
    super('not_found', 404, message);
  }
}

/** A configuration value is invalid; thrown at start-up, never while serving. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
