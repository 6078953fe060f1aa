/**
 * Recognizes infrastructure failures recorded in place of a tool's answer (docs/log-format.md,
 * "Recorded failures"), where the output is the failure and not a mention of one: the errors that Python (requests, urllib3, httpx) and Node harnesses print
 * when the network, a proxy or a rate limit failed, not the tool. Each pattern names the failure
 * itself, never a word a real tool error also uses: tau-bench's "Error: user not found" is a real
 * answer and matches none.
 */

/** The built-in patterns, case-insensitive, tried on the output's text; the list is documented. */
export const BUILT_IN_TRANSIENT_PATTERNS: readonly string[] = [
  // requests / urllib3
  String.raw`HTTPS?ConnectionPool\(host=[^)]*\): (Max retries exceeded|Read timed out)`,
  'Connection pool is full, discarding connection',
  String.raw`\b(urllib3\.exceptions\.|requests\.exceptions\.)?(ProxyError|NewConnectionError|ConnectTimeoutError|ReadTimeoutError|MaxRetryError|ChunkedEncodingError|ConnectTimeout|ReadTimeout)\b`,
  'Unable to connect to proxy|Tunnel connection failed',
  String.raw`Remote end closed connection without response|Connection aborted\.`,
  String.raw`Connection reset by peer|\[Errno (104|110|111|113)\]|Connection refused|Temporary failure in name resolution`,
  // httpx
  String.raw`\bhttpx\.(ConnectError|ConnectTimeout|ReadTimeout|WriteTimeout|PoolTimeout|ReadError|RemoteProtocolError|ProxyError)\b`,
  'Server disconnected without sending a response',
  // An empty, blank or non-JSON (HTML, plain text) upstream body read as JSON, at any position
  // (a lone newline is "line 2 column 1 (char 1)"): Python json / simplejson / requests, Node JSON.parse
  String.raw`^([\w.]*JSONDecodeError: )?Expecting value: line \d+ column \d+ \(char \d+\)$`,
  String.raw`JSONDecodeError\b.*\bExpecting value: line \d+ column \d+ \(char \d+\)`,
  String.raw`Unexpected token '?<'?,? "<(!DOCTYPE|html)|Unexpected token \S{1,3} in JSON at position \d+|Unexpected end of JSON input`,
  String.raw`^(SyntaxError: )?Unexpected token '.', ".{0,12}"(\.\.\.)? is not valid JSON$`,
  // Node
  String.raw`\b(ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|UND_ERR_(CONNECT_TIMEOUT|HEADERS_TIMEOUT|BODY_TIMEOUT|SOCKET))\b`,
  String.raw`\bsocket hang up\b|Client network socket disconnected|^(TypeError: )?fetch failed$`,
  // HTTP status pages and messages of gateways and rate limiters
  String.raw`\b(429 Too Many Requests|502 Bad Gateway|503 Service (Temporarily )?Unavailable|504 Gateway Time-?out)\b`,
  String.raw`\b(HTTP Error|status code|Status:|HTTPError:?) ?(429|502|503|504)\b`,
  String.raw`\bRate limit(ed| exceeded| reached)\b|\bToo Many Requests\b`,
  'upstream connect error or disconnect/reset before headers|upstream request timeout',
];

/** Error outputs longer than this are real answers (an outage message is short); it also bounds the cost. */
const MAX_TEXT = 16 * 1024;

/** A successful output is an outage only when it is a string at most this long (the message itself). */
const MAX_SHORT = 2 * 1024;

/**
 * What may come before the failure at the start of a successful string output: the labels and
 * wrappers harnesses put around an exception's message (`Error: `, `requests.exceptions.ConnectionError: `,
 * Python's `('` of an exception's arguments, Node's `connect `/`read ` before an errno code,
 * axios's `Request failed with `, the head of a gateway's HTML error page), separated by spaces,
 * quotes and brackets. No label starts with a separator, so there is one way to read a lead: the
 * test stays linear (a lead such as `[\s(]+` repeated would backtrack exponentially on a run of spaces).
 */
const SEPARATORS = String.raw`[\s('"\[]*`;
const LABEL = String.raw`(?:<!DOCTYPE[^>]{0,40}>|<(?:html|head|body|title|h1|center)(?:\s[^>]{0,80})?>|(?:[A-Za-z_][\w.]{0,80})?(?:Error|Exception)\s?:|Error executing tool[^:\n]{0,100}:|Request failed with\b|request to \S{1,200} failed, reason:|(?:connect|read|write|getaddrinfo|querySrv)\b)`;
const LEAD = `${SEPARATORS}(?:${LABEL}${SEPARATORS}){0,6}`;

/** An output to test: its text (the string, or the compact JSON of another value) and how it was recorded. */
export interface RecordedOutput {
  text: string;
  /** The output is a JSON string (not an object, array, number...). */
  isString: boolean;
  /** The record says the tool reported an error (`is_error`, MCP `isError`, ...). */
  isError: boolean;
}

/**
 * A test of an output, from the built-in patterns and `extra` (each a regular expression,
 * case-insensitive), applied only where the output is the failure itself: anywhere in an error
 * output (up to 16 KiB), and in a successful output only when it is a short string the pattern
 * matches from its start (after a label such as `Error: `) or, for a Python traceback, from the
 * start of its last line. Text inside a successful JSON output, or past the start of a successful
 * string, is content (a search result about "429 Too Many Requests", a monitoring report that a
 * site is "DOWN: 503 Service Unavailable") and never matches. Throws on an invalid expression, naming it.
 */
export function transientMatcher(extra: readonly string[] = []): (output: RecordedOutput) => boolean {
  for (const source of extra) {
    try {
      new RegExp(source, 'i');
    } catch (error) {
      throw new Error(`--transient-pattern ${JSON.stringify(source)} is not a regular expression (${(error as Error).message})`);
    }
  }
  const any = [...BUILT_IN_TRANSIENT_PATTERNS, ...extra].map((source) => `(?:${source})`).join('|');
  const anywhere = new RegExp(any, 'im');
  // Without the m flag, ^ and $ inside a pattern are the start and end of the whole text.
  const fromStart = new RegExp(`^${LEAD}(?:${any})`, 'i');
  return ({ text, isString, isError }) => {
    if (isError) return text.length <= MAX_TEXT && anywhere.test(text);
    if (!isString || text.length > MAX_SHORT) return false;
    if (fromStart.test(text)) return true;
    // A traceback ends with the exception's own line.
    if (!/^Traceback \(most recent call last\):/.test(text)) return false;
    const last = text.trimEnd().split('\n').pop() ?? '';
    return fromStart.test(last);
  };
}
