/**
 * Rollouts kept in PostgreSQL (`--memo-url`), so consecutive calls of one rollout may land on
 * different replicas. Three tables: the rollouts (call count, last call), their state per server
 * (answered calls, the history digest, the write that diverged it) and the kept history. Every
 * change is one statement, so two replicas recording calls of one rollout at once serialize on its
 * row; entry hashes and the history digest are computed by PostgreSQL with the formulas of
 * src/core/rollout.ts.
 *
 * Times are the database's (`now()`), so replicas whose clocks disagree agree on expiry.
 *
 * Faults never throw to the caller: while the database is down, or slower than `timeoutMs`, reads
 * and writes answer `unavailable` at once, and a timer reconnects in the background (as the memo
 * does, src/store/memo-postgres.ts). A statement refused for its data (a name PostgreSQL cannot
 * store) fails that call alone.
 *
 * The schema is created or migrated on start under an advisory lock; its version is in the table
 * toolsim_rollouts_schema.
 */
import pg from 'pg';
import { migrateSchema } from '../core/pg-schema.js';
import type { Answered, HistoryEntry } from '../core/rollout.js';
import { entryText, RECORDED } from '../core/rollout.js';
import {
  type EndedHow,
  limitsOf,
  type Recorded,
  type RolloutStore,
  type RolloutStoreLimits,
  type RolloutStoreStatus,
  type RolloutView,
  type ServerView,
  type StateRead,
} from './rollout-store.js';

export const ROLLOUTS_SCHEMA_VERSION = 1;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE toolsim_rollouts (
     id         text        PRIMARY KEY,
     calls      integer     NOT NULL DEFAULT 1,
     created_at timestamptz NOT NULL DEFAULT now(),
     last_seen  timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX toolsim_rollouts_last_seen ON toolsim_rollouts (last_seen);
   CREATE TABLE toolsim_rollout_servers (
     rollout            text    NOT NULL REFERENCES toolsim_rollouts (id) ON DELETE CASCADE,
     server             text    NOT NULL,
     answered           integer NOT NULL,
     diverged_since     integer,
     diverged_tool      text,
     diverged_arguments text,
     PRIMARY KEY (rollout, server)
   );
   CREATE TABLE toolsim_rollout_history (
     rollout   text    NOT NULL,
     server    text    NOT NULL,
     n         integer NOT NULL,
     call      integer NOT NULL,
     tool      text    NOT NULL,
     arguments text    NOT NULL,
     output    text    NOT NULL,
     is_error  boolean NOT NULL,
     tier      text    NOT NULL,
     writes    boolean NOT NULL,
     hash      text    NOT NULL,
     PRIMARY KEY (rollout, server, n),
     FOREIGN KEY (rollout, server) REFERENCES toolsim_rollout_servers (rollout, server) ON DELETE CASCADE
   );`,
];

const SCHEMA_LOCK = 'toolsim_rollouts_schema';

/** PostgreSQL's `entryHash` (src/core/rollout.ts): hex SHA-256 of an entry's text in UTF-8. */
const HASH_SQL = (text: string): string => `encode(sha256(convert_to(${text}, 'UTF8')), 'hex')`;
/** PostgreSQL's `historyDigest`: hex SHA-256 of the kept entries' hashes, oldest first, each followed by a newline. */
const DIGEST_SQL = `(SELECT encode(sha256(convert_to(string_agg(h.hash || chr(10), '' ORDER BY h.n), 'UTF8')), 'hex')
                       FROM toolsim_rollout_history AS h WHERE h.rollout = s.rollout AND h.server = s.server)`;

export interface PostgresStoreOptions extends Partial<RolloutStoreLimits> {
  url: string;
  /** Bound of a connection attempt and of every statement. */
  timeoutMs?: number;
  /** Pause between reconnection attempts while the database is away. */
  retryMs?: number;
  poolSize?: number;
  onChange?: (status: RolloutStoreStatus) => void;
}

interface HistoryRow {
  call: number;
  tool: string;
  arguments: string;
  output: string;
  is_error: boolean;
  tier: 'exact' | 'fuzzy';
  writes: boolean;
}

export class PostgresRolloutStore implements RolloutStore {
  readonly limits: RolloutStoreLimits;
  readonly #pool: pg.Pool;
  readonly #retryMs: number;
  readonly #onChange: ((status: RolloutStoreStatus) => void) | undefined;
  #status: RolloutStoreStatus = { backend: 'postgres', state: 'connecting' };
  #timer: NodeJS.Timeout | undefined;
  #maintaining: Promise<void> | undefined;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    this.limits = limitsOf(options);
    const timeout = options.timeoutMs ?? 2000;
    this.#retryMs = options.retryMs ?? 1000;
    this.#onChange = options.onChange;
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      statement_timeout: timeout,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'toolsim-rollouts',
    });
    // An idle connection that the server closes emits here; unhandled, it would end the process.
    this.#pool.on('error', (error) => this.#fail(error));
  }

  /** Connects and migrates the schema (one attempt, bounded by the timeout); on failure retries in the background. */
  start(): Promise<void> {
    return this.#maintain();
  }

  status(): RolloutStoreStatus {
    return { ...this.#status };
  }

  async state(id: string, server: string): Promise<StateRead> {
    try {
      const result = await this.#query<{ answered: number; digest: string; diverged_since: number | null; history: HistoryRow[] | null }>(
        `WITH gone AS (DELETE FROM toolsim_rollouts WHERE id = $1 AND last_seen <= now() - $3 * interval '1 millisecond')
         SELECT s.answered, CASE WHEN s.diverged_since IS NULL THEN NULL ELSE ${DIGEST_SQL} END AS digest, s.diverged_since,
                CASE WHEN s.diverged_since IS NULL THEN NULL ELSE
                  (SELECT json_agg(json_build_object('call', h.call, 'tool', h.tool, 'arguments', h.arguments, 'output', h.output,
                                                     'is_error', h.is_error, 'tier', h.tier, 'writes', h.writes) ORDER BY h.n DESC)
                     FROM toolsim_rollout_history AS h WHERE h.rollout = $1 AND h.server = $2) END AS history
           FROM toolsim_rollouts AS r JOIN toolsim_rollout_servers AS s ON s.rollout = r.id AND s.server = $2
          WHERE r.id = $1 AND r.last_seen > now() - $3 * interval '1 millisecond'`,
        [id, server, this.limits.ttlMs],
      );
      const row = result.rows[0];
      if (row?.diverged_since == null) return RECORDED;
      return {
        state: 'diverged',
        since: row.diverged_since,
        answered: row.answered,
        digest: row.digest,
        history: (row.history ?? []).map(entryOf),
      };
    } catch {
      return { state: 'unavailable' };
    }
  }

  async record(id: string, server: string, answered: Answered): Promise<Recorded> {
    try {
      const first = await this.#record(id, server, answered);
      if (first) return first;
      // The rollout expired before this call and no read removed it yet: it ends now, and the call starts it afresh.
      await this.#query(`DELETE FROM toolsim_rollouts WHERE id = $1 AND last_seen <= now() - $2 * interval '1 millisecond'`, [
        id,
        this.limits.ttlMs,
      ]);
      return (await this.#record(id, server, answered)) ?? { kind: 'unavailable' };
    } catch {
      return { kind: 'unavailable' };
    }
  }

  /** Records a call in one statement; undefined when the rollout is there but expired (then nothing changed). */
  async #record(id: string, server: string, answered: Answered): Promise<Recorded | undefined> {
    // The rollout's row is updated only while it is live; an expired one makes every later part of the statement a no-op.
    const touch = `INSERT INTO toolsim_rollouts AS r (id) VALUES ($1)
           ON CONFLICT (id) DO UPDATE SET calls = r.calls + 1, last_seen = now()
           WHERE r.last_seen > now() - $2 * interval '1 millisecond'
           RETURNING calls`;
    if (answered.tier === 'miss') {
      const result = await this.#query<{ calls: number }>(touch, [id, this.limits.ttlMs]);
      const row = result.rows[0];
      return row && { kind: 'ok', call: row.calls, diverged: false };
    }
    const diverges = answered.writes && answered.tier === 'fuzzy';
    const text = entryText(answered);
    const result = await this.#query<{ call: number; diverged_since: number | null }>(
      `WITH r AS (${touch}
       ), s AS (
         INSERT INTO toolsim_rollout_servers AS s (rollout, server, answered, diverged_since, diverged_tool, diverged_arguments)
         SELECT $1, $3, 1, CASE WHEN $5::boolean THEN r.calls END, CASE WHEN $5::boolean THEN $6 END, CASE WHEN $5::boolean THEN $7 END
           FROM r
         ON CONFLICT (rollout, server) DO UPDATE SET
           answered = s.answered + 1,
           diverged_since = COALESCE(s.diverged_since, EXCLUDED.diverged_since),
           diverged_tool = COALESCE(s.diverged_tool, EXCLUDED.diverged_tool),
           diverged_arguments = COALESCE(s.diverged_arguments, EXCLUDED.diverged_arguments)
         RETURNING answered, diverged_since, (SELECT calls FROM r) AS call
       ), h AS (
         INSERT INTO toolsim_rollout_history (rollout, server, n, call, tool, arguments, output, is_error, tier, writes, hash)
         SELECT $1, $3, s.answered, s.call, $6, $7, $8, $9, $10, $11, ${HASH_SQL('$4::text')} FROM s
       ), trimmed AS (
         -- The last maxHistory entries are kept, and the write that diverged the server, however old.
         DELETE FROM toolsim_rollout_history
          WHERE rollout = $1 AND server = $3 AND n <= (SELECT answered FROM s) - $12
            AND call IS DISTINCT FROM (SELECT diverged_since FROM s)
       )
       SELECT call, diverged_since FROM s`,
      [
        id,
        this.limits.ttlMs,
        server,
        text,
        diverges,
        answered.tool,
        answered.arguments,
        answered.outputJson,
        answered.isError,
        answered.tier,
        answered.writes,
        this.limits.maxHistory,
      ],
    );
    const row = result.rows[0];
    return row && { kind: 'ok', call: row.call, diverged: diverges && row.diverged_since === row.call };
  }

  async view(id: string): Promise<RolloutView | undefined> {
    const result = await this.#query<{
      calls: number;
      created_at: Date;
      last_seen: Date;
      expires_at: Date;
      servers:
        | {
            server: string;
            answered: number;
            digest: string | null;
            diverged_since: number | null;
            diverged_tool: string | null;
            diverged_arguments: string | null;
            history: HistoryRow[] | null;
          }[]
        | null;
    }>(
      `SELECT r.calls, r.created_at, r.last_seen, r.last_seen + $2 * interval '1 millisecond' AS expires_at,
              (SELECT json_agg(json_build_object(
                        'server', s.server, 'answered', s.answered, 'digest', CASE WHEN s.diverged_since IS NULL THEN '' ELSE ${DIGEST_SQL} END, 'diverged_since', s.diverged_since,
                        'diverged_tool', s.diverged_tool, 'diverged_arguments', s.diverged_arguments,
                        'history', (SELECT json_agg(json_build_object('call', h.call, 'tool', h.tool, 'arguments', h.arguments,
                                                                      'output', h.output, 'is_error', h.is_error, 'tier', h.tier,
                                                                      'writes', h.writes) ORDER BY h.n DESC)
                                      FROM toolsim_rollout_history AS h WHERE h.rollout = s.rollout AND h.server = s.server))
                        ORDER BY s.server)
                 FROM toolsim_rollout_servers AS s WHERE s.rollout = r.id) AS servers
         FROM toolsim_rollouts AS r
        WHERE r.id = $1 AND r.last_seen > now() - $2 * interval '1 millisecond'`,
      [id, this.limits.ttlMs],
    );
    const row = result.rows[0];
    if (!row) return undefined;
    const servers: ServerView[] = (row.servers ?? []).map((s) => ({
      server: s.server,
      state: s.diverged_since === null ? 'recorded' : 'diverged',
      ...(s.diverged_since === null ? {} : { divergedSince: s.diverged_since }),
      ...(s.diverged_tool === null || s.diverged_arguments === null
        ? {}
        : { divergedBy: { tool: s.diverged_tool, arguments: s.diverged_arguments } }),
      answered: s.answered,
      digest: s.digest ?? '',
      history: (s.history ?? []).map(entryOf),
    }));
    return {
      id,
      calls: row.calls,
      createdAt: row.created_at.toISOString(),
      lastSeen: row.last_seen.toISOString(),
      expiresAt: row.expires_at.toISOString(),
      servers,
    };
  }

  async end(id: string): Promise<boolean> {
    const result = await this.#query(
      `DELETE FROM toolsim_rollouts WHERE id = $1 RETURNING last_seen > now() - $2 * interval '1 millisecond' AS live`,
      [id, this.limits.ttlMs],
    );
    return (result.rows[0] as { live?: boolean } | undefined)?.live === true;
  }

  async sweep(): Promise<Partial<Record<EndedHow, number>>> {
    const expired = await this.#query<{ n: string }>(
      `WITH gone AS (DELETE FROM toolsim_rollouts WHERE last_seen <= now() - $1 * interval '1 millisecond' RETURNING 1)
       SELECT count(*) AS n FROM gone`,
      [this.limits.ttlMs],
    );
    const evicted = await this.#query<{ n: string }>(
      `WITH gone AS (DELETE FROM toolsim_rollouts WHERE id IN (
         -- Past the cap, rollouts whose state is recorded end before diverged ones, the longest silent first.
         SELECT r.id FROM toolsim_rollouts AS r
          ORDER BY EXISTS (SELECT 1 FROM toolsim_rollout_servers AS s WHERE s.rollout = r.id AND s.diverged_since IS NOT NULL) DESC,
                   r.last_seen DESC
         OFFSET $1) RETURNING 1)
       SELECT count(*) AS n FROM gone`,
      [this.limits.maxRollouts],
    );
    const ended: Partial<Record<EndedHow, number>> = {};
    const e = Number(expired.rows[0]?.n ?? 0);
    const v = Number(evicted.rows[0]?.n ?? 0);
    if (e > 0) ended.expired = e;
    if (v > 0) ended.evicted = v;
    return ended;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#maintaining?.catch(() => {});
    await this.#pool.end().catch(() => {});
  }

  /** A statement on the pool; fails at once while the database is known to be away. */
  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.#status.state !== 'ok') throw new Error(`the rollouts database is ${this.#status.state}`);
    try {
      return await this.#pool.query<R>(text, values);
    } catch (error) {
      if (isOutage(error)) this.#fail(error);
      throw error;
    }
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    if (this.#status.state === 'ok') this.#setStatus({ backend: 'postgres', state: 'unavailable', error: messageOf(error) });
    this.#schedule();
  }

  #setStatus(status: RolloutStoreStatus): void {
    this.#status = status;
    this.#onChange?.(this.status());
  }

  #schedule(): void {
    if (this.#closed || this.#timer || this.#maintaining) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#maintain();
    }, this.#retryMs);
    this.#timer.unref();
  }

  #maintain(): Promise<void> {
    this.#maintaining ??= (async () => {
      try {
        if (this.#status.state !== 'ok') {
          await this.#migrate();
          this.#setStatus({ backend: 'postgres', state: 'ok' });
        }
      } catch (error) {
        const message = messageOf(error);
        if (this.#status.state !== 'unavailable' || this.#status.error !== message)
          this.#setStatus({ backend: 'postgres', state: 'unavailable', error: message });
      } finally {
        this.#maintaining = undefined;
      }
      if (this.#status.state !== 'ok') this.#schedule();
    })();
    return this.#maintaining;
  }

  #migrate(): Promise<void> {
    return migrateSchema(this.#pool, {
      table: 'toolsim_rollouts_schema',
      lock: SCHEMA_LOCK,
      version: ROLLOUTS_SCHEMA_VERSION,
      migrations: MIGRATIONS,
      what: 'the rollouts database',
    });
  }
}

function entryOf(row: HistoryRow): HistoryEntry {
  return {
    call: row.call,
    tool: row.tool,
    arguments: row.arguments,
    outputJson: row.output,
    isError: row.is_error,
    tier: row.tier,
    writes: row.writes,
  };
}

/**
 * Whether an error means the database is away (no connection, a timeout, a shutdown, no resources),
 * rather than a statement refused for its data: SQLSTATE classes 08, 53, 57 and 58, or no SQLSTATE.
 */
function isOutage(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return /^(08|53|57|58)/.test(code);
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return messageOf(error.errors[0]);
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
