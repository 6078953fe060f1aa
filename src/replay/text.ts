/** The replay report as terminal text: summary, per server, per tool, miss reasons, differences. */
import { type Cell, formatNumber, percent, table } from '../core/format.js';
import { firstDifference } from './first-difference.js';
import type { DifferingAnswer, GroupReport, ReplayReport } from './report.js';

/** Differing answers listed per section in the terminal; --json and --html list them all. */
export const LISTED_IN_TERMINAL = 50;

const ms = (n: number): string => n.toFixed(n < 10 ? 2 : 1);

function tierCells(g: GroupReport): Cell[] {
  return [g.calls, g.exact, g.fuzzy, g.miss, g.errors, percent(g.exact, g.calls), percent(g.fuzzy, g.calls), percent(g.miss, g.calls)];
}
const TIER_HEADERS = ['calls', 'exact', 'fuzzy', 'miss', 'errors', 'exact%', 'fuzzy%', 'miss%'];
const LATENCY_HEADERS = ['p50 ms', 'p90 ms', 'p99 ms'];
const latencyCells = (g: GroupReport): Cell[] => [ms(g.latencyMs.p50), ms(g.latencyMs.p90), ms(g.latencyMs.p99)];

const reasons = (g: GroupReport): string =>
  Object.entries(g.missReasons)
    .map(([reason, n]) => `${reason} ${formatNumber(n)}`)
    .join(', ');

export function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function listing(title: string, answers: readonly DifferingAnswer[], keys: number): string[] {
  if (answers.length === 0) return [];
  const lines = [`${title}: ${formatNumber(answers.length)} calls on ${formatNumber(keys)} keys`];
  for (const d of answers.slice(0, LISTED_IN_TERMINAL)) {
    const recorded = d.recordedOutputs !== null && d.recordedOutputs > 1 ? `, ${d.recordedOutputs} recorded outputs` : '';
    // Cut around where the two first differ, with a caret there; is_error apart when only it differs.
    const diff = firstDifference(JSON.stringify(d.expected), JSON.stringify(d.served));
    const [e, s] = [d.expectedIsError ? '(error) ' : '', d.servedIsError ? '(error) ' : ''];
    const pad = Math.max(e.length, s.length);
    lines.push(
      `  ${d.file}:${d.line}  ${d.server}/${d.tool}  key ${d.key.slice(0, 12)}${recorded}`,
      `    arguments ${clip(JSON.stringify(d.arguments), 100)}`,
      `    expected  ${e.padEnd(pad)}${diff.expected}`,
      `    served    ${s.padEnd(pad)}${diff.served}`,
      diff.at < 0
        ? '              the same output; only is_error differs'
        : `              ${' '.repeat(pad)}${diff.caret} first difference at character ${formatNumber(diff.at + 1)}`,
    );
  }
  if (answers.length > LISTED_IN_TERMINAL)
    lines.push(`  … and ${formatNumber(answers.length - LISTED_IN_TERMINAL)} more (--json or --html lists all)`);
  return lines;
}

export function reportText(report: ReplayReport): string {
  const { overall } = report;
  const out: string[] = [
    `replay of ${formatNumber(overall.calls)} calls from ${report.inputs.join(', ')} against ${report.target.kind} ${report.target.name} ` +
      `in ${report.seconds.toFixed(2)} s`,
  ];
  if (report.rejected > 0 || report.failedInputs > 0) {
    out.push(`${formatNumber(report.rejected)} lines rejected, ${formatNumber(report.failedInputs)} inputs unreadable or cut short`);
  }
  if (report.expectedFailures > 0) {
    out.push(
      `${formatNumber(report.expectedFailures)} calls whose recorded output is an infrastructure failure (transient): replayed, not compared`,
    );
  }
  const compared =
    overall.compared === 0
      ? 'no exact answer had an expected output'
      : `${formatNumber(overall.compared)} exact answers compared with the expected output: ` +
        `${formatNumber(overall.differing)} differ on keys whose recordings agree, ` +
        `${formatNumber(overall.differingHiddenState)} on keys whose recordings disagree`;
  out.push(
    '',
    table(
      [...TIER_HEADERS, 'differ', 'hidden', ...LATENCY_HEADERS],
      [[...tierCells(overall), overall.differing, overall.differingHiddenState, ...latencyCells(overall)]],
    ),
    compared,
  );
  if (overall.diverged > 0)
    out.push(
      `${formatNumber(overall.diverged)} answers in diverged state: their trajectory had made a write no recording has on that server, so they were improvised with its history (docs/canonical-key.md)`,
    );
  if (overall.fuzzyCompared > 0)
    out.push(`${formatNumber(overall.fuzzyMatching)} of ${formatNumber(overall.fuzzyCompared)} fuzzy answers equal the expected output`);
  out.push(
    '',
    table(
      ['server', ...TIER_HEADERS, ...LATENCY_HEADERS],
      report.servers.map((g) => [g.server, ...tierCells(g), ...latencyCells(g)]),
    ),
    '',
    table(
      ['server', 'tool', ...TIER_HEADERS, 'differ', 'hidden', 'p50 ms', 'p99 ms', 'miss reasons'],
      report.tools.map((g) => [
        g.server,
        g.tool,
        ...tierCells(g),
        g.differing,
        g.differingHiddenState,
        ms(g.latencyMs.p50),
        ms(g.latencyMs.p99),
        reasons(g),
      ]),
    ),
  );
  if (report.missReasons.length > 0) {
    out.push(
      '',
      table(
        ['miss reason', 'calls', 'share'],
        report.missReasons.map((m) => [m.reason, m.calls, percent(m.calls, overall.calls)]),
      ),
    );
  }
  const { differing } = report;
  const unexplained = listing(
    'exact answers that differ from the expected output although every recording of the key agrees',
    differing.unexplained,
    differing.unexplainedKeys,
  );
  const hidden = listing(
    'exact answers that differ on keys whose recordings disagree (hidden state: the repeat policy serves one of them)',
    differing.hiddenState,
    differing.hiddenStateKeys,
  );
  if (unexplained.length > 0) out.push('', ...unexplained);
  if (hidden.length > 0) out.push('', ...hidden);
  if (report.errors.length > 0) {
    out.push('', `calls refused by the target (${formatNumber(overall.errors)}):`);
    for (const e of report.errors.slice(0, 20))
      out.push(`  ${e.file}:${e.line}  ${e.server}/${e.tool}  ${e.code}: ${clip(e.message, 120)}`);
  }
  if (report.gates.length > 0) {
    out.push(
      '',
      table(
        ['gate', 'limit', 'actual', 'result'],
        report.gates.map((g) => [g.gate, gateValue(g.gate, g.limit), gateValue(g.gate, g.actual), g.passed ? 'pass' : 'FAIL']),
      ),
    );
  }
  return out.join('\n');
}

export function gateValue(gate: string, value: number): string {
  return gate === '--max-differ' ? formatNumber(value) : `${(100 * value).toFixed(1)}%`;
}
