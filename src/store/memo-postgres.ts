/**
 * The fuzzy memo in PostgreSQL, shared by every replica (`--memo-url`, docs/scaling.md). Keyed as the
 * SQLite memo is (snapshot, key, model, prompt version); the first answer written stands
 * (`INSERT ... ON CONFLICT DO NOTHING`, then read back), so replicas that race converge on one.
 *
 * Single-flight across replicas: before asking the LLM a replica takes a claim row; the others wait
 * for the owner's answer (woken by NOTIFY, polling as a fallback) until their deadline. A claim
 * expires after `claimTtlMs`, so a claim whose owner died is taken over. An owner that fails
 * records its miss reason in the claim, and its waiters share that miss, as callers in one process
 * share an improvisation.
 *
 * Faults never throw to the caller: when PostgreSQL is down or slower than `timeoutMs`, reads,
 * writes and claims answer `unavailable` at once (no queueing behind a dead database) and a timer
 * reconnects in the background. Answers seen once are kept in a bounded LRU: they never change,
 * so they are served from it even while the database is away.
 *
 * The schema is created or migrated on start under an advisory lock, so replicas starting together
 * do it once; its version is in the table toolsim_memo_schema.
 *
 * Nothing grows without bound: every replica marks the snapshot it serves as seen (toolsim_snapshots)
 * and prunes, every `pruneEveryMs`, claims past their expiry by a whole claim lifetime (failed ones
 * included: their waiters have long read the failure) and the improvisations of snapshots that no
 * replica has served for `retentionMs`.
 *
 * What it reports (`/readyz`, which needs no token) names no host, user or database: the driver's
 * errors are reduced to their codes and the names in them removed.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import pg from 'pg';
import { ConfigError } from '../core/errors.js';
import type { Observation } from '../core/types.js';
import type { Claim, FuzzyMemo, MemoId, MemoRead, MemoStatus, StoredAnswer } from './memo.js';
import { memoIdText } from './memo-key.js';

/** The memo's schema version; each entry of MIGRATIONS takes the schema one version up. */
export const MEMO_SCHEMA_VERSION = 2;

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE toolsim_improvisations (
     snapshot_id    text        NOT NULL,
     key            bytea       NOT NULL,
     model          text        NOT NULL,
     prompt_version text        NOT NULL,
     output         text        NOT NULL,
     is_error       boolean     NOT NULL,
     created_at     timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (snapshot_id, key, model, prompt_version)
   );
   CREATE TABLE toolsim_claims (
     id         text        PRIMARY KEY,
     owner      text        NOT NULL,
     expires_at timestamptz NOT NULL,
     failure    text
   );`,
  // 2: the snapshots replicas serve (what is pruned is what none serves); every snapshot already
  // memoized counts as seen now, so a replica that upgrades prunes none of it at once.
  `CREATE TABLE toolsim_snapshots (
     snapshot_id text        PRIMARY KEY,
     last_seen   timestamptz NOT NULL
   );
   INSERT INTO toolsim_snapshots (snapshot_id, last_seen) SELECT DISTINCT snapshot_id, now() FROM toolsim_improvisations;
   CREATE INDEX toolsim_claims_expires_at ON toolsim_claims (expires_at);`,
];

const CHANNEL = 'toolsim_memo';
/** Serializes schema changes of replicas starting at once (pg_advisory_xact_lock's key). */
const SCHEMA_LOCK = 'toolsim_memo_schema';

export interface PostgresMemoOptions {
  url: string;
  /** How long a claim holds without its owner releasing it: longer than an owner may take (queue, deadline, write). */
  claimTtlMs: number;
  /** Improvisations of a snapshot no replica has served for this long are pruned (default 24 h). */
  retentionMs?: number;
  /** How often this replica marks its snapshot as served and prunes (default 60 s; 0: only when `prune` is called). */
  pruneEveryMs?: number;
  /** Bound of a connection attempt and of every query (client and server side). */
  timeoutMs?: number;
  /** Pause between reconnection attempts while the database is away. */
  retryMs?: number;
  /** A waiter polls after this long (doubling up to pollMaxMs) in case a NOTIFY was lost. */
  pollFirstMs?: number;
  pollMaxMs?: number;
  poolSize?: number;
  /** Answers kept in memory (they never change once written), at most this many... */
  seenEntries?: number;
  /** ...and at most this many bytes of output. */
  seenBytes?: number;
  /** Called on every change of state (to log it). */
  onChange?: (status: MemoStatus) => void;
}

type Waker = () => void;

export class PostgresMemo implements FuzzyMemo {
  readonly #options: Required<Omit<PostgresMemoOptions, 'onChange'>> & Pick<PostgresMemoOptions, 'onChange'>;
  readonly #pool: pg.Pool;
  readonly #seen: LRUCache<string, Observation>;
  readonly #wakers = new Map<string, Set<Waker>>();
  #status: MemoStatus = { backend: 'postgres', state: 'connecting', since: new Date().toISOString() };
  #listener: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  /** The snapshot this replica serves now (the last one it was told of). */
  #serving: string | undefined;
  #maintaining: Promise<void> | undefined;
  #closed = false;

  constructor(options: PostgresMemoOptions) {
    checkMemoUrl(options.url);
    this.#options = {
      retentionMs: 24 * 60 * 60 * 1000,
      pruneEveryMs: 60_000,
      timeoutMs: 2000,
      retryMs: 1000,
      pollFirstMs: 100,
      pollMaxMs: 1000,
      poolSize: 4,
      seenEntries: 10_000,
      seenBytes: 32 * 1024 * 1024,
      ...options,
    };
    const timeout = this.#options.timeoutMs;
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: this.#options.poolSize,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      statement_timeout: timeout,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'toolsim',
    });
    // An idle connection that the server closes emits here; unhandled, it would end the process.
    this.#pool.on('error', (error) => this.#fail(error));
    this.#seen = new LRUCache({
      max: this.#options.seenEntries,
      maxSize: this.#options.seenBytes,
      // UTF-16 in memory, plus the entry itself.
      sizeCalculation: (answer) => answer.outputJson.length * 2 + 64,
    });
  }

  /**
   * Connects and migrates the schema (once, bounded by the timeout); on failure keeps retrying in
   * the background. A failure that retrying cannot mend (the host has no address, the credentials
   * or the database name are wrong) throws a `ConfigError` instead: a replica started so would
   * answer every fuzzy call `memo_unavailable` forever.
   */
  async start(): Promise<void> {
    await this.#maintain();
    const fatal = this.#startError;
    if (fatal) {
      await this.close();
      throw new ConfigError(`--memo-url: ${fatal}`);
    }
    // Marked well within the retention, so a snapshot served is never taken for a retired one.
    const every = Math.min(this.#options.pruneEveryMs, this.#options.retentionMs / 4);
    if (every <= 0) return;
    this.#pruneTimer = setInterval(() => void this.prune().catch(() => {}), every);
    this.#pruneTimer.unref();
  }

  /** The first connection's failure, when it is one that retrying cannot mend. */
  #startError: string | undefined;

  /** This replica now serves `snapshotId` (a reload): it is marked as served, at once and then periodically. */
  serving(snapshotId: string): void {
    if (this.#serving === snapshotId) return;
    this.#serving = snapshotId;
    void this.#markServing().catch(() => {});
  }

  /**
   * Marks the snapshot served and removes what nobody needs: claims expired for a whole claim
   * lifetime (a failure's waiters read it long ago; a dead owner's claim is void) and the
   * improvisations of snapshots no replica has marked served for `retentionMs`. Returns what went.
   */
  async prune(): Promise<{ claims: number; improvisations: number; snapshots: number }> {
    await this.#markServing();
    const claims = await this.#query("DELETE FROM toolsim_claims WHERE expires_at < now() - $1 * interval '1 millisecond'", [
      this.#options.claimTtlMs,
    ]);
    const retired = await this.#query<{ snapshot_id: string }>(
      "SELECT snapshot_id FROM toolsim_snapshots WHERE last_seen < now() - $1 * interval '1 millisecond'",
      [this.#options.retentionMs],
    );
    let improvisations = 0;
    let snapshots = 0;
    for (const { snapshot_id: snapshot } of retired.rows) {
      // One snapshot at a time (the primary key's prefix); a replica that served it again meanwhile keeps it.
      const gone = await this.#query(
        `WITH still AS (
           DELETE FROM toolsim_snapshots WHERE snapshot_id = $1 AND last_seen < now() - $2 * interval '1 millisecond' RETURNING 1)
         DELETE FROM toolsim_improvisations WHERE snapshot_id = $1 AND EXISTS (SELECT 1 FROM still)`,
        [snapshot, this.#options.retentionMs],
      );
      improvisations += gone.rowCount ?? 0;
      snapshots++;
    }
    return { claims: claims.rowCount ?? 0, improvisations, snapshots };
  }

  async #markServing(): Promise<void> {
    if (this.#serving === undefined) return;
    await this.#query(
      `INSERT INTO toolsim_snapshots (snapshot_id, last_seen) VALUES ($1, now())
       ON CONFLICT (snapshot_id) DO UPDATE SET last_seen = now()`,
      [this.#serving],
    );
  }

  status(): MemoStatus {
    return { ...this.#status };
  }

  peek(id: MemoId): Observation | undefined {
    return this.#seen.get(digest(id));
  }

  async get(id: MemoId): Promise<MemoRead> {
    const known = this.peek(id);
    if (known) return { kind: 'hit', answer: known };
    try {
      const answer = await this.#read(id);
      return answer ? { kind: 'hit', answer } : { kind: 'none' };
    } catch {
      return { kind: 'unavailable' };
    }
  }

  async put(id: MemoId, answer: Observation): Promise<StoredAnswer | undefined> {
    const key = digest(id);
    try {
      await this.#query(
        `WITH written AS (
           INSERT INTO toolsim_improvisations (snapshot_id, key, model, prompt_version, output, is_error)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING)
         SELECT pg_notify('${CHANNEL}', $7)`,
        [...idValues(id), answer.outputJson, answer.isError, key],
      );
      // Another replica may have written first: its answer stands.
      const stands = await this.#read(id);
      return stands && { answer: stands, memoized: true };
    } catch {
      return undefined;
    }
  }

  async claim(id: MemoId, signal: AbortSignal): Promise<Claim> {
    const key = digest(id);
    const token = randomUUID();
    let pause = this.#options.pollFirstMs;
    try {
      if (await this.#take(key, token)) return await this.#owned(id, key, token, false);
      while (!signal.aborted) {
        // Listen before reading, so that an answer written between the read and the wait still wakes us.
        const woken = this.#wakeOn(key, pause, signal);
        const state = await this.#query<{ output: string | null; is_error: boolean | null; failure: string | null; open: boolean | null }>(
          `SELECT m.output, m.is_error, c.failure, c.expires_at > now() AS open
             FROM (SELECT 1) AS one
             LEFT JOIN toolsim_improvisations AS m
               ON m.snapshot_id = $1 AND m.key = $2 AND m.model = $3 AND m.prompt_version = $4
             LEFT JOIN toolsim_claims AS c ON c.id = $5`,
          [...idValues(id), key],
        );
        const row = state.rows[0];
        if (row?.output != null) {
          woken.cancel();
          return { kind: 'answer', answer: this.#remember(key, row.output, row.is_error === true), waited: true };
        }
        if (row?.failure != null) {
          woken.cancel();
          return { kind: 'failed', reason: row.failure };
        }
        if (row?.open !== true && (await this.#take(key, token))) {
          woken.cancel();
          return await this.#owned(id, key, token, true);
        }
        await woken.promise;
        pause = Math.min(pause * 2, this.#options.pollMaxMs);
      }
      return { kind: 'timeout' };
    } catch {
      return { kind: 'unavailable' };
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#pruneTimer);
    await this.#maintaining?.catch(() => {});
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => {});
    await this.#pool.end().catch(() => {});
  }

  /** Takes the claim of `key` if nobody holds it (or its holder died or failed). */
  async #take(key: string, token: string): Promise<boolean> {
    const taken = await this.#query(
      `INSERT INTO toolsim_claims (id, owner, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, failure = NULL
         WHERE toolsim_claims.expires_at <= now() OR toolsim_claims.failure IS NOT NULL
       RETURNING owner`,
      [key, token, this.#options.claimTtlMs],
    );
    return taken.rowCount === 1;
  }

  /** The claim is ours; an owner that finished just before we took it left its answer, so read once more. */
  async #owned(id: MemoId, key: string, token: string, waited: boolean): Promise<Claim> {
    const release = async (failure?: string): Promise<void> => {
      try {
        if (failure === undefined) await this.#query('DELETE FROM toolsim_claims WHERE id = $1 AND owner = $2', [key, token]);
        else
          await this.#query(
            `WITH failed AS (UPDATE toolsim_claims SET failure = $3, expires_at = now() WHERE id = $1 AND owner = $2)
             SELECT pg_notify('${CHANNEL}', $1)`,
            [key, token, failure],
          );
      } catch {
        // The claim expires by itself.
      }
    };
    const answer = await this.#read(id);
    if (!answer) return { kind: 'owner', release };
    await release();
    return { kind: 'answer', answer, waited };
  }

  async #read(id: MemoId): Promise<Observation | undefined> {
    const result = await this.#query<{ output: string; is_error: boolean }>(
      'SELECT output, is_error FROM toolsim_improvisations WHERE snapshot_id = $1 AND key = $2 AND model = $3 AND prompt_version = $4',
      idValues(id),
    );
    const row = result.rows[0];
    return row ? this.#remember(digest(id), row.output, row.is_error) : undefined;
  }

  #remember(key: string, outputJson: string, isError: boolean): Observation {
    const answer = { outputJson, isError };
    this.#seen.set(key, answer);
    return answer;
  }

  /** A query on the pool; fails at once while the database is known to be away. */
  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.#status.state !== 'ok') throw new Error(`the memo database is ${this.#status.state}`);
    try {
      return await this.#pool.query<R>(text, values);
    } catch (error) {
      this.#fail(error);
      throw error;
    }
  }

  /** Resolves after `ms`, on a NOTIFY for `key`, or when `signal` aborts, whichever comes first. */
  #wakeOn(key: string, ms: number, signal: AbortSignal): { promise: Promise<void>; cancel(): void } {
    let wake: Waker = () => {};
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => wake(), ms);
      const onAbort = (): void => wake();
      signal.addEventListener('abort', onAbort, { once: true });
      wake = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const set = this.#wakers.get(key);
        set?.delete(wake);
        if (set?.size === 0) this.#wakers.delete(key);
        resolve();
      };
    });
    let set = this.#wakers.get(key);
    if (!set) this.#wakers.set(key, (set = new Set()));
    set.add(wake);
    return { promise, cancel: wake };
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    if (this.#status.state === 'ok') this.#setStatus({ backend: 'postgres', state: 'unavailable', error: publicMessage(error) });
    this.#schedule();
  }

  #setStatus(status: Omit<MemoStatus, 'since'>): void {
    this.#status = { ...status, since: new Date().toISOString() };
    this.#options.onChange?.(this.status());
  }

  #schedule(): void {
    if (this.#closed || this.#timer || this.#maintaining) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#maintain();
    }, this.#options.retryMs);
    this.#timer.unref();
  }

  /** Brings the schema and the listener up; schedules another try for whatever is still down. */
  #maintain(): Promise<void> {
    this.#maintaining ??= (async () => {
      try {
        if (this.#status.state !== 'ok') {
          await this.#migrate();
          this.#setStatus({ backend: 'postgres', state: 'ok' });
          await this.#markServing().catch(() => {});
        }
        // Without the listener, waiters poll: slower to wake, still correct.
        if (!this.#listener) await this.#listen().catch(() => {});
      } catch (error) {
        if (this.#status.state === 'connecting') this.#startError = unmendable(error);
        const message = publicMessage(error);
        if (this.#status.state !== 'unavailable' || this.#status.error !== message)
          this.#setStatus({ backend: 'postgres', state: 'unavailable', error: message });
      } finally {
        this.#maintaining = undefined;
      }
      if (this.#status.state !== 'ok' || !this.#listener) this.#schedule();
    })();
    return this.#maintaining;
  }

  async #migrate(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [SCHEMA_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS toolsim_memo_schema (version integer NOT NULL)');
      const found = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM toolsim_memo_schema');
      const version = found.rows[0]?.version ?? 0;
      if (version > MEMO_SCHEMA_VERSION)
        throw new Error(`the memo database has schema version ${version}; this toolsim knows up to ${MEMO_SCHEMA_VERSION}`);
      for (let v = version; v < MEMO_SCHEMA_VERSION; v++) await client.query(MIGRATIONS[v]!);
      if (version < MEMO_SCHEMA_VERSION) {
        await client.query('DELETE FROM toolsim_memo_schema');
        await client.query('INSERT INTO toolsim_memo_schema (version) VALUES ($1)', [MEMO_SCHEMA_VERSION]);
      }
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(true);
      throw error;
    }
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#options.url,
      connectionTimeoutMillis: this.#options.timeoutMs,
      keepAlive: true,
      application_name: 'toolsim-listen',
    });
    const lost = (): void => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.end().catch(() => {});
      this.#schedule();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      for (const wake of [...(this.#wakers.get(message.payload ?? '') ?? [])]) wake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) await client.end();
    else this.#listener = client;
  }
}

/** One string per memo id: the claim's id, the NOTIFY payload, the LRU key. */
const digest = memoIdText;

function idValues(id: MemoId): unknown[] {
  return [id.snapshotId, Buffer.from(id.key, 'hex'), id.model, id.promptVersion];
}

/**
 * Refuses, before any connection, a `--memo-url` that is not a PostgreSQL URL (the message never
 * repeats it: it may hold a password).
 */
export function checkMemoUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const port = /^postgres(?:ql)?:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/.exec(url)?.[1];
    if (port !== undefined && Number(port) > 65535) throw new ConfigError(`--memo-url has port ${port}; a port is 1 to 65535`);
    throw new ConfigError('--memo-url is not a URL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new ConfigError(`--memo-url must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`);
  // A host may come as ?host=/path/to/socket instead.
  if (parsed.hostname === '' && !parsed.searchParams.has('host'))
    throw new ConfigError('--memo-url names no host; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  if (parsed.port !== '') {
    const port = Number(parsed.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new ConfigError(`--memo-url has port ${parsed.port}; a port is 1 to 65535`);
  }
}

/** SQLSTATE codes and Node error codes that no retry mends, with what to tell the operator. */
const UNMENDABLE: Readonly<Record<string, string>> = {
  ENOTFOUND: 'the host has no address (DNS); check the host name',
  EAI_FAIL: 'the host has no address (DNS); check the host name',
  ERR_INVALID_URL: 'the URL cannot be read',
  ERR_SOCKET_BAD_PORT: 'the port is out of range',
  '28P01': 'PostgreSQL refused the password',
  '28000': 'PostgreSQL refused the user (pg_hba.conf or role)',
  '3D000': 'the database does not exist',
};

/** What to say at start for an error that no retry mends, or undefined (the database is down or slow: retried). */
function unmendable(error: unknown): string | undefined {
  const code = codeOf(error);
  if (code !== undefined && UNMENDABLE[code]) return `${UNMENDABLE[code]} (${code}: ${messageOf(error)})`;
  if (error instanceof RangeError) return `the URL cannot be used (${messageOf(error)})`;
  return undefined;
}

function codeOf(error: unknown): string | undefined {
  if (error instanceof AggregateError && error.errors.length > 0) return codeOf(error.errors[0]);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * An error as `/readyz` may show it, to anyone: its code and the driver's words without the
 * names and addresses in them (hosts, ports, users, databases).
 */
export function publicMessage(error: unknown): string {
  const code = codeOf(error);
  const words = messageOf(error)
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, '…')
    .replace(/\b(getaddrinfo|connect|read|write) ([A-Z_]+) \S+/g, '$1 $2 …');
  return code !== undefined && !words.includes(code) ? `${words} (${code})` : words;
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return messageOf(error.errors[0]);
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
