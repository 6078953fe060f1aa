/** What `toolsim stats` reports: how many calls, keys and tools a cache holds, and how well keys are covered. */
import type Database from 'better-sqlite3';

export interface StoreStats {
  calls: number;
  keys: number;
  servers: number;
  tools: number;
  repeatedKeys: number;
  disagreeingKeys: number;
  /** Keys recorded exactly once: the thinnest coverage. */
  singleKeys: number;
  /** Calls that are recorded infrastructure failures (transient). */
  transientCalls: number;
  /** Keys whose every recording is such a failure: served as `recorded_failure` misses. */
  failureOnlyKeys: number;
  perTool: {
    server: string;
    tool: string;
    calls: number;
    /** Distinct argument sets (after --ignore-arg). */
    keys: number;
    singleKeys: number;
    repeatedKeys: number;
    disagreeingKeys: number;
    transientCalls: number;
    failureOnlyKeys: number;
  }[];
}

/** Counted from the recorded calls, not from the per-tool counts each ingest ends by writing. */
export function readStats(db: Database.Database): StoreStats {
  // Distinct outputs among the real recordings (those served), or among the failures when there is nothing else.
  const perKey = `SELECT tool_id, key, count(*) AS n, sum(transient) AS failures,
        CASE WHEN sum(transient) = count(*) THEN count(DISTINCT output_id * 2 + is_error)
             ELSE count(DISTINCT CASE WHEN transient = 0 THEN output_id * 2 + is_error END) END AS distinct_outputs
      FROM calls GROUP BY key`;
  const perTool = db
    .prepare(
      `SELECT server, tool, sum(n) AS calls, count(*) AS keys, sum(n = 1) AS singleKeys,
           sum(n > 1) AS repeatedKeys, sum(distinct_outputs > 1) AS disagreeingKeys,
           sum(failures) AS transientCalls, sum(failures = n) AS failureOnlyKeys
         FROM (${perKey}) k JOIN tools t ON t.id = k.tool_id GROUP BY t.id ORDER BY server, tool`,
    )
    .all() as StoreStats['perTool'];
  // Tools described in the catalog but never called still count as tools.
  const catalogOnly = db.prepare('SELECT server, tool FROM tools WHERE calls = 0').all() as { server: string; tool: string }[];
  for (const { server, tool } of catalogOnly) {
    if (!perTool.some((row) => row.server === server && row.tool === tool)) {
      perTool.push({
        server,
        tool,
        calls: 0,
        keys: 0,
        singleKeys: 0,
        repeatedKeys: 0,
        disagreeingKeys: 0,
        transientCalls: 0,
        failureOnlyKeys: 0,
      });
    }
  }
  perTool.sort((a, b) => (a.server === b.server ? (a.tool < b.tool ? -1 : 1) : a.server < b.server ? -1 : 1));
  const sum = (pick: (row: StoreStats['perTool'][number]) => number): number => perTool.reduce((acc, row) => acc + pick(row), 0);
  return {
    calls: sum((row) => row.calls),
    keys: sum((row) => row.keys),
    servers: new Set(perTool.map((row) => row.server)).size,
    tools: perTool.length,
    singleKeys: sum((row) => row.singleKeys),
    repeatedKeys: sum((row) => row.repeatedKeys),
    disagreeingKeys: sum((row) => row.disagreeingKeys),
    transientCalls: sum((row) => row.transientCalls),
    failureOnlyKeys: sum((row) => row.failureOnlyKeys),
    perTool,
  };
}
