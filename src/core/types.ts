/** Shared shapes. Imports nothing of ours. */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export type Tier = 'exact' | 'fuzzy' | 'miss';

export const MISS_REASONS = [
  'unknown_tool',
  'invalid_arguments',
  'recorded_failure',
  'no_similar_calls',
  'fuzzy_disabled',
  'llm_unavailable',
  'llm_budget_exhausted',
  'llm_invalid_output',
  'memo_unavailable',
  'llm_busy',
  'prompt_too_large',
  'state_unavailable',
] as const;
export type MissReason = (typeof MISS_REASONS)[number];

/**
 * Why an improvised answer was refused (the label of toolsim_llm_answers_refused_total): a key every
 * recording has is missing; a value of a kind no recording had; plain text where every recording
 * holds JSON text; a misfit of the declared output schema; too large; not an answer at all (no
 * call of the respond tool, no "output", "is_error" not a boolean).
 */
export const REFUSAL_REASONS = ['missing_key', 'wrong_kind', 'not_json_text', 'schema', 'too_large', 'malformed'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export const REPEAT_POLICIES = ['first', 'last', 'most-common'] as const;
export type RepeatPolicy = (typeof REPEAT_POLICIES)[number];

/** A call as the simulator sees it once its arguments are canonical and its key computed. */
export interface Call {
  readonly server: string;
  readonly tool: string;
  readonly arguments: JsonObject;
  /** Canonical JSON of `arguments` (docs/canonical-key.md). */
  readonly canonical: string;
  /** Hex SHA-256 call key (docs/canonical-key.md). */
  readonly key: string;
  readonly trajectoryId?: string;
  /** The recorded trajectory the rollout's task was built from (docs/canonical-key.md, "Source scope"). */
  readonly sourceTrajectoryId?: string;
}

/** A recorded call of the same tool, ranked by similarity (0..1) to the call being resolved. */
export interface Neighbor {
  readonly key: string;
  readonly arguments: JsonObject;
  readonly similarity: number;
}

export interface Match {
  key: string;
  observations?: number;
  /** Exact answers: distinct recorded outputs of the key; more than 1 means its observations disagree. */
  outputs?: number;
  memoized?: boolean;
  /** A fuzzy answer whose memo write failed: served, but a later call may be improvised anew. */
  unmemoized?: boolean;
  neighbors?: { arguments: JsonObject; similarity: number }[];
  /** Exact answers: which rule chose the observation served. */
  chosen_by?: 'source_trajectory' | 'policy';
  /** Observations of the key that are recorded failures (transient), when there are any. */
  failures?: number;
  /** `recorded_failure` misses: the recorded output (JSON text) of the failure the policy picks. */
  recorded?: string;
  /** `llm_invalid_output` misses: what did not fit in the model's last answer, in words. */
  refused?: string[];
  /** An answer given in diverged state (docs/canonical-key.md, "State within a rollout"). */
  rollout?: RolloutMatch;
}

/** `match.rollout`: the rollout's server diverged at its call `diverged_since`; `history` answered calls there came before this one. */
export interface RolloutMatch {
  diverged_since: number;
  history: number;
}

/** What the simulator answers. `outputJson` is the output as JSON text, so replay is byte-faithful. */
export interface Answer {
  tier: Tier;
  outputJson: string;
  isError: boolean;
  reason?: MissReason;
  match: Match;
  /** The whole answer as JSON text, when it was built already (exact answers keep it beside their cache entry). */
  json?: string;
}

/** A recorded observation of a key. */
export interface Observation {
  readonly outputJson: string;
  readonly isError: boolean;
  /** An infrastructure failure recorded in place of the tool's answer; never preferred over a real one. */
  readonly transient?: boolean;
  readonly trajectoryId?: string | null;
}

/**
 * MCP's ToolAnnotations, as recorded (docs/log-format.md): hints about what a tool does. Other
 * keys a newer MCP adds are kept as they were recorded.
 */
export interface ToolAnnotations {
  title?: string;
  /** The tool changes nothing (default false: it may write). */
  readOnlyHint?: boolean;
  /** A write may destroy what was there (default true, meaningful only when not read-only). */
  destructiveHint?: boolean;
  /** Calling it again with the same arguments changes nothing more (default false). */
  idempotentHint?: boolean;
  /** It reaches an open world (the web) rather than a closed one (a database) (default true). */
  openWorldHint?: boolean;
  [other: string]: Json | undefined;
}

export interface ToolInfo {
  server: string;
  tool: string;
  description?: string;
  input_schema?: JsonObject;
  /** A JSON Schema of the tool's answer (MCP's `outputSchema`), when its record declares one. */
  output_schema?: JsonObject;
  /** MCP's tool annotations, when its record has them. */
  annotations?: ToolAnnotations;
  /** How the recorded answers fit `output_schema` as MCP would carry them (written by each ingest). */
  output_check?: OutputCheck;
  calls: number;
}

/**
 * The recorded successful answers of a tool with a declared output schema, checked against it as
 * MCP's `structuredContent` (an MCP client validates that): MCP `tools/list` lists the schema only
 * when none misfits.
 */
export interface OutputCheck {
  answers: number;
  misfits: number;
  /** What did not fit in the first answer that did not, in words. */
  example?: string;
}
