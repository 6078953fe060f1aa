/** The names closest to a mistyped one, for error messages that say what was meant. */

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `--prot` is one edit from
 * `--port`. Names here are short (flags, servers), so the plain table is enough.
 */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** Names longer than this are not compared (a name is at most 256 characters where it is recorded). */
const MAX_COMPARED = 256;

/**
 * Up to `count` of `candidates` near `name` (case-insensitive), nearest first: within a third of
 * the longer name's length (at least one edit), or, for names of 3 characters or more, containing
 * it or contained in it.
 */
export function closest(name: string, candidates: Iterable<string>, count = 3): string[] {
  // A name no recorded one is near in length would cost a long table per candidate for nothing.
  if (name.length > MAX_COMPARED) return [];
  const needle = name.toLowerCase();
  return [...new Set(candidates)]
    .map((candidate) => {
      const hay = candidate.toLowerCase();
      const d = distance(needle, hay);
      const near = d <= Math.max(1, Math.floor(Math.max(needle.length, hay.length) / 3));
      const inside = Math.min(needle.length, hay.length) >= 3 && (hay.includes(needle) || needle.includes(hay));
      return { candidate, d, keep: near || inside };
    })
    .filter((c) => c.keep)
    .sort((a, b) => a.d - b.d || a.candidate.localeCompare(b.candidate))
    .slice(0, count)
    .map((c) => c.candidate);
}

/** `no recorded server "x"`, with the closest recorded ones, or all of them when none is close. */
export function unknownServer(given: string, servers: readonly string[]): string {
  const server = given.length <= 100 ? given : `${given.slice(0, 100)}…`;
  if (servers.length === 0) return `no recorded server "${server}": the cache records no server`;
  const near = closest(given, servers);
  const listed = servers.length <= 20 ? servers.join(', ') : `${servers.slice(0, 20).join(', ')} and ${servers.length - 20} more`;
  return near.length > 0
    ? `no recorded server "${server}"; did you mean ${near.map((s) => `"${s}"`).join(' or ')}? (recorded: ${listed})`
    : `no recorded server "${server}"; recorded: ${listed}`;
}
