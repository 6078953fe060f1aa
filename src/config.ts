/**
 * Configuration: every flag, its environment variable and its default in one table. The only reader
 * of process.env. Values are validated once, with messages that name the flag, and frozen.
 */
import { ConfigError } from './core/errors.js';
import { DEFAULT_MAX_KEYS } from './core/json-size.js';
import { REPEAT_POLICIES } from './core/types.js';
import { FORMAT_NAMES } from './protocols/formats/index.js';
import { TOOL_FORMATS } from './protocols/formats/tool-schemas.js';

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'list';

export interface OptionSpec {
  readonly flag: string;
  readonly env?: string;
  readonly kind: Kind;
  readonly default?: string | number | boolean | readonly string[];
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly help: string;
  /** A secret: never printed back, in help or errors. */
  readonly secret?: boolean;
  /** Lists: what separates the items in the environment variable (default a comma). */
  readonly separator?: string;
  /** A flag this option had before (still read, with a deprecation line on stderr). */
  readonly formerFlag?: string;
  /** An environment variable this option had before (still read, with a deprecation line on stderr). */
  readonly formerEnv?: string;
}

export const OPTIONS = {
  db: { flag: 'db', env: 'TOOLSIM_DB', kind: 'string', default: 'cache/toolsim.db', help: 'SQLite cache file' },
  host: {
    flag: 'host',
    env: 'TOOLSIM_HOST',
    kind: 'string',
    default: '127.0.0.1',
    help: 'address to bind (0.0.0.0 to accept other hosts)',
  },
  port: {
    flag: 'port',
    env: 'TOOLSIM_PORT',
    kind: 'integer',
    default: 8080,
    min: 0,
    max: 65535,
    help: 'port to listen on (0: any free port)',
  },
  repeatPolicy: {
    flag: 'repeat-policy',
    env: 'TOOLSIM_REPEAT_POLICY',
    kind: 'string',
    default: 'first',
    choices: REPEAT_POLICIES,
    help: 'which observation of a repeated call is served',
  },
  ignoreArg: {
    flag: 'ignore-arg',
    env: 'TOOLSIM_IGNORE_ARGS',
    kind: 'list',
    default: [],
    help: 'argument dropped before hashing (repeatable; env: comma-separated)',
  },
  transientPattern: {
    flag: 'transient-pattern',
    env: 'TOOLSIM_TRANSIENT_PATTERNS',
    kind: 'list',
    default: [],
    separator: '\n',
    help: 'regular expression (case-insensitive) of an output text that is a recorded infrastructure failure, beside the built-in ones and applied as they are: anywhere in an error output, from the start of a short successful string (repeatable; env: one a line; docs/log-format.md)',
  },
  lruSize: {
    flag: 'lru-size',
    env: 'TOOLSIM_LRU_SIZE',
    formerFlag: 'cache-size',
    formerEnv: 'TOOLSIM_CACHE_SIZE',
    kind: 'integer',
    default: 100_000,
    min: 1,
    help: 'entries in the answer LRU (answers in memory, recorded and memoized improvisations alike)',
  },
  lruMb: {
    flag: 'lru-mb',
    env: 'TOOLSIM_LRU_MB',
    formerFlag: 'cache-mb',
    formerEnv: 'TOOLSIM_CACHE_MB',
    kind: 'integer',
    // Counted honestly (text as V8 stores it plus each entry's measured overhead), 48 MiB holds as
    // many tau-bench answers as the 64 that used to count two bytes a character.
    default: 48,
    min: 1,
    help: 'memory for the answer LRU (recorded and memoized improvisations alike) and the request memo, MiB, counted as they are held (text as V8 stores it; a memo hit as UTF-8 outside the heap)',
  },
  neighbors: {
    flag: 'neighbors',
    env: 'TOOLSIM_NEIGHBORS',
    kind: 'integer',
    default: 5,
    min: 0,
    max: 100,
    help: 'nearest recorded calls listed on a miss',
  },
  bodyLimit: {
    flag: 'body-limit',
    env: 'TOOLSIM_BODY_LIMIT',
    kind: 'integer',
    default: 4 * 1024 * 1024,
    min: 1024,
    help: 'largest request body in bytes',
  },
  maxBatch: {
    flag: 'max-batch',
    env: 'TOOLSIM_MAX_BATCH',
    kind: 'integer',
    default: 1000,
    min: 1,
    help: 'most calls in one POST /v1/calls, and most actions and <tool_call> blocks (all actions together) in one POST /get_observation',
  },
  maxBodyKeys: {
    flag: 'max-body-keys',
    env: 'TOOLSIM_MAX_BODY_KEYS',
    kind: 'integer',
    default: DEFAULT_MAX_KEYS,
    min: 16,
    help: "keys and array items of one request body, all levels together (also of a JSON string of arguments, and of one verl-tool request's <tool_call> blocks); past it a 400 too_many_keys before any is read",
  },
  maxResponseMb: {
    flag: 'max-response-mb',
    env: 'TOOLSIM_MAX_RESPONSE_MB',
    kind: 'integer',
    default: 32,
    min: 1,
    help: 'largest answer to one POST /v1/calls or POST /get_observation, MiB; past it a 400 response_too_large',
  },
  logLevel: {
    flag: 'log-level',
    env: 'TOOLSIM_LOG_LEVEL',
    kind: 'string',
    default: 'info',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    help: 'server log level',
  },
  ingestFormat: {
    flag: 'format',
    env: 'TOOLSIM_INGEST_FORMAT',
    kind: 'string',
    default: 'auto',
    choices: FORMAT_NAMES,
    help: 'format of the inputs (auto: detected per file)',
  },
  ingestServer: {
    flag: 'server',
    env: 'TOOLSIM_INGEST_SERVER',
    // Once TOOLSIM_SERVER, which `toolsim tools` read too (and silently filtered by); now ingest's only.
    formerEnv: 'TOOLSIM_SERVER',
    kind: 'string',
    default: '',
    help: 'server of transcript calls whose names and records name none',
  },
  // No environment variable: a filter set for one listing must not cut the next one.
  toolsServer: {
    flag: 'server',
    kind: 'string',
    default: '',
    help: 'print only the tools of this recorded server (an unknown server fails, naming the recorded ones)',
  },
  toolsFormat: {
    flag: 'format',
    env: 'TOOLSIM_TOOLS_FORMAT',
    kind: 'string',
    default: 'openai',
    choices: TOOL_FORMATS,
    help: 'tool schema format',
  },
  memoUrl: {
    flag: 'memo-url',
    env: 'TOOLSIM_MEMO_URL',
    kind: 'string',
    default: '',
    secret: true,
    help: 'PostgreSQL URL of a fuzzy memo shared by every replica (postgres://user:pass@host/db); without it the memo lives in a SQLite file beside the cache (CACHE.memo)',
  },
  rolloutTtl: {
    flag: 'rollout-ttl',
    env: 'TOOLSIM_ROLLOUT_TTL',
    kind: 'string',
    default: '1h',
    help: 'silence after which a rollout (trajectory_id) ends and its state is forgotten: 90s, 30m, 1h, 1d',
  },
  maxRollouts: {
    flag: 'max-rollouts',
    env: 'TOOLSIM_MAX_ROLLOUTS',
    kind: 'integer',
    default: 100_000,
    min: 1,
    help: 'rollouts kept at most; past it the longest silent one ends',
  },
  rolloutHistory: {
    flag: 'rollout-history',
    env: 'TOOLSIM_ROLLOUT_HISTORY',
    kind: 'integer',
    default: 64,
    min: 1,
    max: 10_000,
    help: "calls of a rollout's history kept per server (and the write that diverged it) for the prompts of its diverged calls",
  },
  writeTools: {
    flag: 'write-tools',
    env: 'TOOLSIM_WRITE_TOOLS',
    kind: 'string',
    default: '',
    help: 'regular expression (case-insensitive) of tool names (or server/tool) that write, whatever their annotations say',
  },
  readOnlyTools: {
    flag: 'read-only-tools',
    env: 'TOOLSIM_READ_ONLY_TOOLS',
    kind: 'string',
    default: '',
    help: 'regular expression (case-insensitive) of tool names (or server/tool) that only read, unless --write-tools matches them too',
  },
  adminToken: {
    flag: 'admin-token',
    env: 'TOOLSIM_ADMIN_TOKEN',
    kind: 'string',
    default: '',
    secret: true,
    help: 'bearer token for /admin/* routes (hot reload); without one they do not exist',
  },
  maxEventLoopDelay: {
    flag: 'max-event-loop-delay',
    env: 'TOOLSIM_MAX_EVENT_LOOP_DELAY',
    kind: 'integer',
    default: 1000,
    min: 0,
    help: 'shed load (503 + Retry-After) past this event-loop delay in ms; 0 never sheds',
  },
  requestTimeoutMs: {
    flag: 'request-timeout-ms',
    env: 'TOOLSIM_REQUEST_TIMEOUT_MS',
    kind: 'integer',
    default: 5000,
    min: 0,
    help: 'time to receive a whole request, body included, then 408 and the connection closed (a slow client cannot hold a shutdown); 0: no limit',
  },
  json: { flag: 'json', kind: 'boolean', default: false, help: 'print JSON instead of a table' },
  writes: {
    flag: 'writes',
    kind: 'boolean',
    default: false,
    help: 'list which tools count as writes for state within a rollout, and why, instead of their schemas',
  },
  tool: { flag: 'tool', kind: 'string', default: '', help: 'tool name of the call' },
  callServer: { flag: 'server', kind: 'string', default: '', help: 'server of the call (may be left out when one server has the tool)' },
  arguments: { flag: 'arguments', kind: 'string', default: '{}', help: 'arguments of the call, as a JSON object' },
  fuzzy: {
    flag: 'fuzzy',
    env: 'TOOLSIM_FUZZY',
    kind: 'string',
    default: 'auto',
    choices: ['auto', 'on', 'off'],
    help: 'LLM-improvised answers for near calls: auto (on when an API key is set), on, off',
  },
  apiKey: {
    flag: 'anthropic-api-key',
    env: 'ANTHROPIC_API_KEY',
    kind: 'string',
    default: '',
    secret: true,
    help: 'Anthropic API key for the fuzzy tier (prefer the environment variable)',
  },
  baseUrl: {
    flag: 'anthropic-base-url',
    env: 'ANTHROPIC_BASE_URL',
    kind: 'string',
    default: 'https://api.anthropic.com',
    help: 'Messages API base URL',
  },
  model: { flag: 'model', env: 'TOOLSIM_MODEL', kind: 'string', default: 'claude-haiku-4-5', help: 'model that improvises answers' },
  threshold: {
    flag: 'similarity-threshold',
    env: 'TOOLSIM_SIMILARITY_THRESHOLD',
    kind: 'number',
    default: 0,
    min: 0,
    max: 1,
    help: 'opt-in floor: a call whose nearest recorded call scores below it is a miss no_similar_calls instead of improvised (0: none)',
  },
  promptTokens: {
    flag: 'prompt-tokens',
    env: 'TOOLSIM_PROMPT_TOKENS',
    kind: 'integer',
    default: 6000,
    min: 100,
    help: "token budget of a whole prompt (instructions, examples and the call's own arguments); a call that cannot fit is a miss prompt_too_large",
  },
  llmOutputTokens: {
    flag: 'llm-output-tokens',
    env: 'TOOLSIM_LLM_OUTPUT_TOKENS',
    kind: 'integer',
    default: 4096,
    min: 16,
    help: 'max_tokens of one LLM answer',
  },
  llmDeadlineMs: {
    flag: 'llm-deadline-ms',
    env: 'TOOLSIM_LLM_DEADLINE_MS',
    kind: 'integer',
    default: 20_000,
    min: 1,
    help: 'deadline of one improvisation once it holds an LLM slot, retries included',
  },
  llmQueueMs: {
    flag: 'llm-queue-ms',
    env: 'TOOLSIM_LLM_QUEUE_MS',
    kind: 'integer',
    default: 10_000,
    min: 0,
    help: 'longest wait for a free LLM slot (--llm-concurrency), then a miss llm_busy',
  },
  llmConcurrency: {
    flag: 'llm-concurrency',
    env: 'TOOLSIM_LLM_CONCURRENCY',
    kind: 'integer',
    default: 8,
    min: 1,
    help: 'LLM requests in flight at most',
  },
  llmRetries: {
    flag: 'llm-retries',
    env: 'TOOLSIM_LLM_RETRIES',
    kind: 'integer',
    default: 2,
    min: 0,
    max: 10,
    help: 'SDK retries of one request (429, 5xx, 529)',
  },
  llmMaxRequests: {
    flag: 'llm-max-requests',
    env: 'TOOLSIM_LLM_MAX_REQUESTS',
    kind: 'integer',
    default: 0,
    min: 0,
    help: 'LLM requests per process, then llm_budget_exhausted (0: no limit)',
  },
  llmMaxTokens: {
    flag: 'llm-max-tokens',
    env: 'TOOLSIM_LLM_MAX_TOKENS',
    kind: 'integer',
    default: 0,
    min: 0,
    help: 'LLM tokens per process, then llm_budget_exhausted (0: no limit)',
  },
  breakerFailures: {
    flag: 'breaker-failures',
    env: 'TOOLSIM_BREAKER_FAILURES',
    kind: 'integer',
    default: 5,
    min: 1,
    help: 'LLM failures in a row that open the circuit breaker',
  },
  breakerCooldownMs: {
    flag: 'breaker-cooldown-ms',
    env: 'TOOLSIM_BREAKER_COOLDOWN_MS',
    kind: 'integer',
    default: 30_000,
    min: 0,
    help: 'how long the open breaker refuses before a probe',
  },
  url: {
    flag: 'url',
    env: 'TOOLSIM_REPLAY_URL',
    kind: 'string',
    help: 'replay against the toolsim server at this URL instead of a --db directly',
  },
  html: {
    flag: 'html',
    env: 'TOOLSIM_REPLAY_HTML',
    kind: 'string',
    help: 'also write the report as a self-contained HTML page to this file',
  },
  batch: {
    flag: 'batch',
    env: 'TOOLSIM_REPLAY_BATCH',
    kind: 'integer',
    default: 100,
    min: 1,
    max: 10_000,
    help: 'calls per request to the server',
  },
  concurrency: {
    flag: 'concurrency',
    env: 'TOOLSIM_REPLAY_CONCURRENCY',
    kind: 'integer',
    default: 4,
    min: 1,
    max: 256,
    help: 'requests in flight at once',
  },
  minExact: {
    flag: 'min-exact',
    env: 'TOOLSIM_MIN_EXACT',
    kind: 'number',
    min: 0,
    max: 1,
    help: 'fail (exit 1) when the exact share is below this (0..1)',
  },
  maxMiss: {
    flag: 'max-miss',
    env: 'TOOLSIM_MAX_MISS',
    kind: 'number',
    min: 0,
    max: 1,
    help: 'fail (exit 1) when the miss share is above this (0..1)',
  },
  maxFuzzy: {
    flag: 'max-fuzzy',
    env: 'TOOLSIM_MAX_FUZZY',
    kind: 'number',
    min: 0,
    max: 1,
    help: 'fail (exit 1) when the fuzzy share is above this (0..1)',
  },
  maxDiffer: {
    flag: 'max-differ',
    env: 'TOOLSIM_MAX_DIFFER',
    kind: 'integer',
    min: 0,
    help: 'fail (exit 1) when more exact answers than this differ from the expected output (keys whose recordings disagree excepted)',
  },
  reportUrl: {
    flag: 'url',
    env: 'TOOLSIM_URL',
    kind: 'string',
    default: 'http://127.0.0.1:8080',
    help: 'the toolsim server to report on',
  },
  since: {
    flag: 'since',
    env: 'TOOLSIM_REPORT_SINCE',
    kind: 'string',
    default: '',
    help: 'start of the window: a duration back from now (90s, 15m, 2h, 1d) or an ISO 8601 time; empty: since the server started',
  },
  priceInput: {
    flag: 'price-input',
    env: 'TOOLSIM_PRICE_INPUT',
    kind: 'number',
    min: 0,
    help: 'price of 1M input tokens (any currency); with the other prices, the report gives the LLM cost',
  },
  priceOutput: { flag: 'price-output', env: 'TOOLSIM_PRICE_OUTPUT', kind: 'number', min: 0, help: 'price of 1M output tokens' },
  priceCacheRead: {
    flag: 'price-cache-read',
    env: 'TOOLSIM_PRICE_CACHE_READ',
    kind: 'number',
    min: 0,
    help: 'price of 1M cache-read input tokens (default: the input price)',
  },
  priceCacheWrite: {
    flag: 'price-cache-write',
    env: 'TOOLSIM_PRICE_CACHE_WRITE',
    kind: 'number',
    min: 0,
    help: 'price of 1M cache-write input tokens (default: the input price)',
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The options of rollout state (serve); resolved, they make a RolloutsConfig (src/rollouts/create.ts). */
export const ROLLOUT_OPTIONS = [
  'rolloutTtl',
  'maxRollouts',
  'rolloutHistory',
  'writeTools',
  'readOnlyTools',
] as const satisfies readonly OptionName[];

/** The options of the fuzzy tier (serve and explain); resolved, they make its FuzzyConfig (src/tiers/fuzzy). */
export const FUZZY_OPTIONS = [
  'fuzzy',
  'apiKey',
  'baseUrl',
  'model',
  'threshold',
  'promptTokens',
  'llmOutputTokens',
  'llmDeadlineMs',
  'llmQueueMs',
  'llmConcurrency',
  'llmRetries',
  'llmMaxRequests',
  'llmMaxTokens',
  'breakerFailures',
  'breakerCooldownMs',
] as const satisfies readonly OptionName[];

type KindValue<S extends OptionSpec> = S['kind'] extends 'integer' | 'number'
  ? number
  : S['kind'] extends 'boolean'
    ? boolean
    : S['kind'] extends 'list'
      ? readonly string[]
      : string;

/** An option's value: one of its choices when it has some; undefined when it has no default and was not given. */
type ValueOf<S extends OptionSpec> =
  | (S extends { readonly choices: readonly (infer C)[] } ? C : KindValue<S>)
  | (S extends { readonly default: unknown } ? never : undefined);

export type Config<N extends OptionName> = Readonly<{ [K in N]: ValueOf<(typeof OPTIONS)[K]> }>;

/** parseArgs option descriptors for the named options. */
export function parseArgsOptions(names: readonly OptionName[]): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  const out: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const name of names) {
    const spec: OptionSpec = OPTIONS[name];
    const type: { type: 'string' | 'boolean'; multiple?: boolean } =
      spec.kind === 'boolean' ? { type: 'boolean' } : spec.kind === 'list' ? { type: 'string', multiple: true } : { type: 'string' };
    out[spec.flag] = type;
    if (spec.formerFlag !== undefined) out[spec.formerFlag] = type;
  }
  return out;
}

/** Where deprecation lines go (stderr, as the CLI's other notes). */
const stderrLine = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * Resolves each named option from, in order: the command line, the environment, the default.
 * `values` is parseArgs' `values`. A former flag or environment variable is still read, after the
 * current one, and `warn` gets a line saying which name to use instead.
 */
export function resolveConfig<N extends OptionName>(
  names: readonly N[],
  values: Record<string, string | boolean | (string | boolean)[] | undefined>,
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = stderrLine,
): Config<N> {
  const config: Record<string, unknown> = {};
  for (const name of names) {
    const spec: OptionSpec = OPTIONS[name];
    let flag = spec.flag;
    let fromFlag = values[spec.flag];
    if (fromFlag === undefined && spec.formerFlag !== undefined && values[spec.formerFlag] !== undefined) {
      fromFlag = values[spec.formerFlag];
      flag = spec.formerFlag;
      warn(`toolsim: --${spec.formerFlag} is deprecated; use --${spec.flag}`);
    }
    let envName = spec.env;
    let fromEnv = spec.env === undefined ? undefined : env[spec.env];
    if (fromFlag === undefined && (fromEnv === undefined || fromEnv === '') && spec.formerEnv !== undefined) {
      const former = env[spec.formerEnv];
      if (former !== undefined && former !== '') {
        fromEnv = former;
        envName = spec.formerEnv;
        warn(`toolsim: ${spec.formerEnv} is deprecated; use ${spec.env}`);
      }
    }
    const source = fromFlag !== undefined ? `--${flag}` : `${envName}`;
    let raw: unknown = fromFlag;
    if (raw === undefined && fromEnv !== undefined && fromEnv !== '') {
      raw =
        spec.kind === 'list'
          ? fromEnv
              .split(spec.separator ?? ',')
              .map((s) => s.trim())
              .filter(Boolean)
          : fromEnv;
    }
    config[name] = raw === undefined ? spec.default : coerce(spec, raw, source);
  }
  return Object.freeze(config) as Config<N>;
}

function coerce(spec: OptionSpec, raw: unknown, source: string): unknown {
  const shown = (value: unknown): string => (spec.secret ? '(hidden)' : JSON.stringify(value));
  switch (spec.kind) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (/^(1|true|yes|on)$/i.test(String(raw))) return true;
      if (/^(0|false|no|off)$/i.test(String(raw))) return false;
      throw new ConfigError(`${source} must be true or false, got ${shown(raw)}`);
    case 'integer':
    case 'number': {
      const text = String(raw).trim();
      const value = Number(text);
      if (text === '' || !Number.isFinite(value) || (spec.kind === 'integer' && !Number.isInteger(value))) {
        throw new ConfigError(`${source} must be ${spec.kind === 'integer' ? 'a whole number' : 'a number'}, got ${shown(raw)}`);
      }
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        throw new ConfigError(`${source} must be between ${spec.min ?? '-∞'} and ${spec.max ?? '∞'}, got ${value}`);
      }
      return value;
    }
    case 'list':
      return Object.freeze((Array.isArray(raw) ? raw : [raw]).map(String));
    case 'string': {
      const value = String(raw);
      if (spec.choices && !spec.choices.includes(value)) {
        throw new ConfigError(`${source} must be one of ${spec.choices.join(', ')}, got ${shown(raw)}`);
      }
      return value;
    }
  }
}

/** One help line per option: flag, environment variable, default. */
export function describeOptions(names: readonly OptionName[]): string {
  return names
    .map((name) => {
      const spec: OptionSpec = OPTIONS[name];
      const flag = spec.kind === 'boolean' ? `--${spec.flag}` : `--${spec.flag} ${spec.kind === 'list' ? 'NAME' : 'VALUE'}`;
      const extras = [
        spec.env ? `env ${spec.env}` : '',
        spec.default !== undefined && !spec.secret && String(spec.default) !== '' ? `default ${String(spec.default)}` : '',
      ]
        .filter(Boolean)
        .join('; ');
      return `  ${flag.padEnd(28)} ${spec.help}${extras ? ` (${extras})` : ''}`;
    })
    .join('\n');
}
