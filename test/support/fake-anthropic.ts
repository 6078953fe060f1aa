/**
 * A stand-in for the Anthropic Messages API on 127.0.0.1: a real HTTP server that the real SDK talks
 * to through `baseURL`. Scriptable per request (answer, an HTTP status with retry-after, 529,
 * garbage, hang, slow) and it records every request it saw.
 *
 *   const fake = await startFakeAnthropic({ kind: 'answer', output: 'ok' });
 *   fake.script({ kind: 'status', status: 500 }, { kind: 'answer', output: 'ok' }); // next requests, in order
 *   fake.requests.length; await fake.close();
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export type Behaviour =
  /** A `respond` tool call with this output (or one computed from the request). */
  | {
      kind: 'answer';
      output: unknown | ((request: SeenRequest) => unknown);
      isError?: boolean | ((request: SeenRequest) => boolean);
      usage?: Partial<Usage>;
    }
  /** An error status; 429 and 529 are what rate limits and overload look like. */
  | { kind: 'status'; status: number; retryAfter?: string; retryAfterMs?: string }
  /** 200 with a text answer and no tool call. */
  | { kind: 'text'; text: string }
  /**
   * The `respond` object as JSON in a text block, as a server that ignores tool_choice answers
   * (bare JSON, or inside a ```json fence), with usage that reports no prompt caching.
   */
  | { kind: 'text-answer'; output: unknown; isError?: boolean; fence?: boolean }
  /** 200 with a body that is not JSON. */
  | { kind: 'garbage' }
  /** Never answers (until the client gives up or the server closes). */
  | { kind: 'hang' }
  /** Destroys the connection without an answer (ECONNRESET at the client). */
  | { kind: 'reset' }
  /** Waits, then behaves as `after`. */
  | { kind: 'slow'; delayMs: number; after: Behaviour };

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface FakeAnthropic {
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Requests whose connection closed before an answer was sent (the client aborted). */
  readonly aborted: number;
  /** Behaviours for the next requests, in order; afterwards the default applies again. */
  script(...behaviours: Behaviour[]): void;
  setDefault(behaviour: Behaviour): void;
  close(): Promise<void>;
}

const DEFAULT_USAGE: Usage = { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

export async function startFakeAnthropic(initial: Behaviour = { kind: 'answer', output: 'ok' }): Promise<FakeAnthropic> {
  let fallback = initial;
  const queue: Behaviour[] = [];
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let aborted = 0;

  const act = (behaviour: Behaviour, seen: SeenRequest, res: ServerResponse): void => {
    switch (behaviour.kind) {
      case 'answer': {
        const output = typeof behaviour.output === 'function' ? (behaviour.output as (r: SeenRequest) => unknown)(seen) : behaviour.output;
        const input: Record<string, unknown> = { output };
        const isError = typeof behaviour.isError === 'function' ? behaviour.isError(seen) : behaviour.isError;
        if (isError !== undefined) input['is_error'] = isError;
        send(res, 200, {
          id: `msg_${requests.length}`,
          type: 'message',
          role: 'assistant',
          model: String(seen.body['model']),
          content: [{ type: 'tool_use', id: `toolu_${requests.length}`, name: 'respond', input }],
          stop_reason: 'tool_use',
          stop_sequence: null,
          usage: { ...DEFAULT_USAGE, ...behaviour.usage },
        });
        return;
      }
      case 'status': {
        const headers: Record<string, string> = {};
        if (behaviour.retryAfter !== undefined) headers['retry-after'] = behaviour.retryAfter;
        if (behaviour.retryAfterMs !== undefined) headers['retry-after-ms'] = behaviour.retryAfterMs;
        const type = behaviour.status === 429 ? 'rate_limit_error' : behaviour.status === 529 ? 'overloaded_error' : 'api_error';
        send(res, behaviour.status, { type: 'error', error: { type, message: `stand-in ${behaviour.status}` } }, headers);
        return;
      }
      case 'text':
        send(res, 200, {
          id: 'msg_text',
          type: 'message',
          role: 'assistant',
          model: String(seen.body['model']),
          content: [{ type: 'text', text: behaviour.text }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: DEFAULT_USAGE,
        });
        return;
      case 'text-answer': {
        const input: Record<string, unknown> = { output: behaviour.output };
        if (behaviour.isError !== undefined) input['is_error'] = behaviour.isError;
        const json = JSON.stringify(input);
        send(res, 200, {
          id: `msg_${requests.length}`,
          type: 'message',
          role: 'assistant',
          model: String(seen.body['model']),
          content: [{ type: 'text', text: behaviour.fence ? `Here is the answer:\n\n\`\`\`json\n${json}\n\`\`\`\n` : json }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 300, output_tokens: 40 },
        });
        return;
      }
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"this is": not json');
        return;
      case 'hang':
        return;
      case 'reset':
        res.socket?.resetAndDestroy();
        return;
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) act(behaviour.after, seen, res);
        }, behaviour.delayMs);
        timers.add(timer);
        return;
      }
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // A request the stand-in cannot read is still counted.
      }
      const seen: SeenRequest = { path: req.url ?? '', headers: req.headers, body };
      requests.push(seen);
      res.on('close', () => {
        if (!res.writableEnded) aborted++;
      });
      act(queue.shift() ?? fallback, seen, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get aborted() {
      return aborted;
    },
    script(...behaviours) {
      queue.push(...behaviours);
    },
    setDefault(behaviour) {
      fallback = behaviour;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
