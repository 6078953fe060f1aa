/**
 * The replay report as one self-contained HTML page: inline CSS, no script, no fonts or images
 * from the network. Tier shares per tool are stacked CSS bars.
 */
import { percent } from '../core/format.js';
import type { DifferingAnswer, GroupReport, ReplayReport } from './report.js';
import { clip, gateValue } from './text.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const n = (x: number): string => x.toLocaleString('en-US');
const ms = (x: number): string => x.toFixed(x < 10 ? 2 : 1);

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:84rem;padding:0 1rem;color:#1d2330}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde1e8;padding-bottom:.2rem}
.meta{color:#5b6475}table{border-collapse:collapse;margin:.5rem 0}td.l{white-space:nowrap}td,th{padding:.25rem .6rem;text-align:right;border-bottom:1px solid #eceef2}
th{background:#f5f6f9;font-weight:600}td.l,th.l{text-align:left}code{font:12px ui-monospace,Menlo,monospace}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde1e8;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}.bars{display:grid;grid-template-columns:minmax(12rem,max-content) 1fr 4rem;gap:.3rem .8rem;align-items:center}
.bar{display:flex;height:1.1rem;border-radius:3px;overflow:hidden;background:#eceef2}.bar span{display:block;height:100%}
.exact{background:#2e9d5b}.fuzzy{background:#e0a526}.miss{background:#d64541}.errors{background:#7a7f8c}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:-1px;border-radius:2px}
.pass{color:#2e9d5b;font-weight:600}.fail{color:#d64541;font-weight:600}details{margin:.3rem 0}pre{white-space:pre-wrap;word-break:break-all;background:#f5f6f9;padding:.4rem;margin:.2rem 0}
`;

function bar(g: GroupReport): string {
  const part = (cls: string, count: number): string =>
    count === 0
      ? ''
      : `<span class="${cls}" style="width:${((100 * count) / g.calls).toFixed(3)}%" title="${cls} ${n(count)} (${percent(count, g.calls)})"></span>`;
  return `<div class="bar">${part('exact', g.exact)}${part('fuzzy', g.fuzzy)}${part('miss', g.miss)}${part('errors', g.errors)}</div>`;
}

const missReasons = (g: GroupReport): string =>
  Object.entries(g.missReasons)
    .map(([reason, count]) => `${reason} ${n(count)}`)
    .join(', ');

function tierTable(label: string[], rows: GroupReport[], cells: (g: GroupReport) => string[]): string {
  const head = [
    ...label.map((l) => `<th class="l">${l}</th>`),
    ...['calls', 'exact', 'fuzzy', 'miss', 'errors', 'exact %', 'miss %', 'differ', 'hidden state', 'p50 ms', 'p90 ms', 'p99 ms'].map(
      (h) => `<th>${h}</th>`,
    ),
    '<th class="l">miss reasons</th>',
  ];
  const body = rows.map(
    (g) =>
      `<tr>${cells(g)
        .map((c) => `<td class="l">${escapeHtml(c)}</td>`)
        .join('')}` +
      [
        n(g.calls),
        n(g.exact),
        n(g.fuzzy),
        n(g.miss),
        n(g.errors),
        percent(g.exact, g.calls),
        percent(g.miss, g.calls),
        n(g.differing),
        n(g.differingHiddenState),
        ms(g.latencyMs.p50),
        ms(g.latencyMs.p90),
        ms(g.latencyMs.p99),
      ]
        .map((c) => `<td>${c}</td>`)
        .join('') +
      `<td class="l">${missReasons(g)}</td></tr>`,
  );
  return `<table><tr>${head.join('')}</tr>${body.join('')}</table>`;
}

function differing(title: string, note: string, answers: readonly DifferingAnswer[], keys: number): string {
  if (answers.length === 0) return `<h2>${title}</h2><p>None.</p>`;
  const items = answers.map((d) => {
    const json = (value: unknown): string => escapeHtml(JSON.stringify(value, null, 1));
    return (
      `<details><summary><code>${escapeHtml(`${d.file}:${d.line}`)}</code> ${escapeHtml(`${d.server}/${d.tool}`)} <code>${d.key.slice(0, 12)}</code>` +
      `${d.recordedOutputs !== null && d.recordedOutputs > 1 ? ` (${d.recordedOutputs} recorded outputs)` : ''}` +
      `<br><span class="meta">expected <code>${escapeHtml(clip(JSON.stringify(d.expected), 70))}</code> served <code>${escapeHtml(clip(JSON.stringify(d.served), 70))}</code></span></summary>` +
      `arguments<pre>${json(d.arguments)}</pre>expected${d.expectedIsError ? ' (error)' : ''}<pre>${json(d.expected)}</pre>` +
      `served${d.servedIsError ? ' (error)' : ''}<pre>${json(d.served)}</pre></details>`
    );
  });
  return `<h2>${title}: ${n(answers.length)} calls on ${n(keys)} keys</h2><p class="meta">${note}</p>${items.join('')}`;
}

export function reportHtml(report: ReplayReport): string {
  const { overall } = report;
  const card = (label: string, value: string, sub: string): string => `<div class="card">${label}<b>${value}</b>${sub}</div>`;
  const gates =
    report.gates.length === 0
      ? ''
      : `<h2>Gates</h2><table><tr><th class="l">gate</th><th>limit</th><th>actual</th><th class="l">result</th></tr>${report.gates
          .map(
            (g) =>
              `<tr><td class="l">${g.gate}</td><td>${gateValue(g.gate, g.limit)}</td><td>${gateValue(g.gate, g.actual)}</td>` +
              `<td class="l ${g.passed ? 'pass' : 'fail'}">${g.passed ? 'pass' : 'FAIL'}</td></tr>`,
          )
          .join('')}</table>`;
  const reasons =
    report.missReasons.length === 0
      ? '<p>No misses.</p>'
      : `<table><tr><th class="l">reason</th><th>calls</th><th>share of all calls</th></tr>${report.missReasons
          .map((m) => `<tr><td class="l">${m.reason}</td><td>${n(m.calls)}</td><td>${percent(m.calls, overall.calls)}</td></tr>`)
          .join('')}</table>`;
  const errors =
    report.errors.length === 0
      ? ''
      : `<h2>Calls refused by the target (${n(overall.errors)})</h2><table><tr><th class="l">where</th><th class="l">tool</th><th class="l">error</th></tr>${report.errors
          .map(
            (e) =>
              `<tr><td class="l"><code>${escapeHtml(`${e.file}:${e.line}`)}</code></td><td class="l">${escapeHtml(`${e.server}/${e.tool}`)}</td>` +
              `<td class="l">${escapeHtml(`${e.code}: ${e.message}`)}</td></tr>`,
          )
          .join('')}</table>`;
  const bars = report.tools
    .map((g) => `<div><code>${escapeHtml(g.server)}</code> ${escapeHtml(g.tool)}</div>${bar(g)}<div>${n(g.calls)}</div>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>toolsim replay: ${percent(overall.exact, overall.calls)} exact of ${n(overall.calls)} calls</title><style>${STYLE}</style></head><body>
<h1>toolsim replay</h1>
<p class="meta">${n(overall.calls)} calls from ${report.inputs.map((i) => `<code>${escapeHtml(i)}</code>`).join(', ')} against ${report.target.kind}
<code>${escapeHtml(report.target.name)}</code>, ${escapeHtml(report.startedAt)}, ${report.seconds.toFixed(2)} s.
${report.rejected > 0 ? `${n(report.rejected)} lines rejected.` : ''}</p>
<div class="cards">${card('exact', percent(overall.exact, overall.calls), `${n(overall.exact)} calls`)}${card('fuzzy', percent(overall.fuzzy, overall.calls), `${n(overall.fuzzy)} calls`)}
${card('miss', percent(overall.miss, overall.calls), `${n(overall.miss)} calls`)}${card('differ from expected', n(overall.differing), `+ ${n(overall.differingHiddenState)} on hidden-state keys`)}
${card('latency p50 / p99', `${ms(overall.latencyMs.p50)} / ${ms(overall.latencyMs.p99)}`, `ms (${report.target.kind === 'url' ? 'per request' : 'per call'})`)}</div>
${gates}
<h2>Tier shares per tool</h2>
<p class="legend"><span class="exact"></span>exact<span class="fuzzy"></span>fuzzy<span class="miss"></span>miss<span class="errors"></span>refused</p>
<div class="bars">${bars}</div>
<h2>Per server</h2>${tierTable(['server'], report.servers, (g) => [g.server])}
<h2>Per tool</h2>${tierTable(['server', 'tool'], report.tools, (g) => [g.server, g.tool])}
<h2>Miss reasons</h2>${reasons}
${differing(
  'Exact answers that differ from the expected output',
  'Every recording of these keys agrees, yet the test set expects something else: the cache and the test set disagree.',
  report.differing.unexplained,
  report.differing.unexplainedKeys,
)}
${differing(
  'Differing answers on keys whose recordings disagree',
  'These keys were recorded with different outputs (tools with hidden state); the repeat policy serves one of them, so some calls must differ.',
  report.differing.hiddenState,
  report.differing.hiddenStateKeys,
)}
${errors}
</body></html>
`;
}
