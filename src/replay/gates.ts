/** Pass/fail limits on a replay, so that it can gate a pipeline. */
import type { GateResult, ReplayReport } from './report.js';

export interface Gates {
  /** Least share of calls answered exactly (0..1). */
  minExact?: number | undefined;
  /** Largest share of calls answered as a miss (0..1). */
  maxMiss?: number | undefined;
  /** Largest share of calls answered by improvisation (0..1). */
  maxFuzzy?: number | undefined;
  /** Most exact answers that differ from the expected output on keys whose recordings agree. */
  maxDiffer?: number | undefined;
}

export function checkGates(report: ReplayReport, gates: Gates): GateResult[] {
  const { overall } = report;
  const results: GateResult[] = [];
  const check = (gate: string, limit: number | undefined, actual: number, passes: (actual: number, limit: number) => boolean): void => {
    if (limit !== undefined) results.push({ gate, limit, actual, passed: passes(actual, limit) });
  };
  check('--min-exact', gates.minExact, overall.exactRate, (a, l) => a >= l);
  check('--max-miss', gates.maxMiss, overall.missRate, (a, l) => a <= l);
  check('--max-fuzzy', gates.maxFuzzy, overall.fuzzyRate, (a, l) => a <= l);
  check('--max-differ', gates.maxDiffer, overall.differing, (a, l) => a <= l);
  return results;
}
