/**
 * Recognizes infrastructure failures recorded in place of a tool's answer (docs/log-format.md,
 * "Recorded failures"): the errors that Python (requests, urllib3, httpx) and Node harnesses print
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
  // An empty or HTML upstream body read as JSON (Python json, Node JSON.parse)
  String.raw`^(json\.decoder\.)?(JSONDecodeError: )?Expecting value: line 1 column 1 \(char 0\)$`,
  String.raw`JSONDecodeError\b.*\bExpecting value: line 1 column 1 \(char 0\)`,
  `Unexpected token '?<'?,? ("<(!DOCTYPE|html)|[^ ]* in JSON at position 0)|Unexpected end of JSON input`,
  // Node
  String.raw`\b(ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|UND_ERR_(CONNECT_TIMEOUT|HEADERS_TIMEOUT|BODY_TIMEOUT|SOCKET))\b`,
  String.raw`\bsocket hang up\b|Client network socket disconnected|^(TypeError: )?fetch failed$`,
  // HTTP status pages and messages of gateways and rate limiters
  String.raw`\b(429 Too Many Requests|502 Bad Gateway|503 Service (Temporarily )?Unavailable|504 Gateway Time-?out)\b`,
  String.raw`\b(HTTP Error|status code|Status:|HTTPError:?) ?(429|502|503|504)\b`,
  String.raw`\bRate limit(ed| exceeded| reached)\b|\bToo Many Requests\b`,
  'upstream connect error or disconnect/reset before headers|upstream request timeout',
];

/** Outputs longer than this are real answers (an outage message is short); it also bounds the cost. */
const MAX_TEXT = 16 * 1024;

/**
 * A test of an output's text, from the built-in patterns and `extra` (each a regular expression,
 * case-insensitive). Throws on an invalid expression, naming it.
 */
export function transientMatcher(extra: readonly string[] = []): (text: string) => boolean {
  for (const source of extra) {
    try {
      new RegExp(source, 'i');
    } catch (error) {
      throw new Error(`--transient-pattern ${JSON.stringify(source)} is not a regular expression (${(error as Error).message})`);
    }
  }
  const all = new RegExp([...BUILT_IN_TRANSIENT_PATTERNS, ...extra].map((source) => `(?:${source})`).join('|'), 'im');
  return (text) => text.length <= MAX_TEXT && all.test(text);
}
