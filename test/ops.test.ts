/**
 * Operators' files: the Prometheus rules and alerts (checked and unit-tested by promtool), the
 * Grafana dashboard (every query valid PromQL over the recording rules shipped beside it, every
 * panel with a value when the fuzzy tier is off), and /metrics itself.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createMetrics } from '../src/core/metrics.js';
import { Simulator } from '../src/simulator/simulator.js';
import { cacheOf, onCleanup, ROOT, tempDir } from './helpers.js';

const PROMETHEUS_DIR = join(ROOT, 'deploy/prometheus');
const DASHBOARD = join(ROOT, 'deploy/grafana/toolsim.json');
const RULE_FILES = readdirSync(PROMETHEUS_DIR)
  .filter((f) => f.endsWith('.yml') && !f.endsWith('.test.yml'))
  .map((f) => join(PROMETHEUS_DIR, f));

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
if (!hasPromtool) {
  // CI installs promtool (.ci/run): there a missing promtool is a failure, never a silent skip.
  if (process.env['CI']) throw new Error("promtool not found; .ci/run installs Debian's prometheus package");
  console.warn("promtool not found: the promtool checks are skipped (install Debian's prometheus package; .ci/run does)");
}

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8', cwd: PROMETHEUS_DIR });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** Metric names toolsim exports, histograms with their series suffixes. */
async function exportedNames(): Promise<Set<string>> {
  const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
  const names = new Set<string>(['up']);
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

describe('Grafana dashboard', () => {
  it('has the panels operators need, laid out on the 24-column grid without overlaps', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const wanted of [
      'Tier shares',
      'Miss reasons',
      'Top tools by misses (dashboard range)',
      'Latency percentiles',
      'LLM requests / s by outcome',
      'LLM tokens / s by type',
      'LLM failure share',
      'Memo and single-flight hits / s',
    ]) {
      expect(titles).toContain(wanted);
    }
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps another panel`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['job', 'instance']);
  });

  it('reads the recording rules it ships, never a raw counter', () => {
    const rules = readFileSync(join(PROMETHEUS_DIR, 'toolsim-rules.yml'), 'utf8');
    const recorded = new Set([...rules.matchAll(/record: (\S+)/g)].map((m) => m[1]!));
    const used = new Set(queries.flatMap((q) => q.expr.match(/\b[a-z_]+:[a-z_0-9:]+\b(?=\{)/g) ?? []));
    expect([...used].filter((name) => !recorded.has(name))).toEqual([]);
    for (const series of [
      'job_instance:toolsim_fuzzy_memo_hits:rate5m',
      'job_instance:toolsim_singleflight_joins:rate5m',
      'job_instance_type:toolsim_llm_tokens:rate5m',
      'job_instance_reason:toolsim_misses:rate5m',
      'job_instance_tier_le:toolsim_call_duration_seconds_bucket:rate5m',
    ]) {
      expect(used).toContain(series);
    }
    // Raw series only where no rule applies: the recorded-calls gauge and `up`.
    for (const { panel, expr } of queries) {
      expect(expr, panel).not.toMatch(/\b(rate|increase|irate)\(/);
      const raw = (expr.match(/\b(toolsim_[a-z_]+|up)\b(?=\{)/g) ?? []).filter((name) => !/:/.test(name));
      expect(
        raw.filter((name) => name !== 'toolsim_cache_calls' && name !== 'up'),
        panel,
      ).toEqual([]);
    }
  });

  /** The dashboard's queries as recording rules promtool can load (Grafana's variables made plain values). */
  function dashboardRules(): string {
    const rules = queries.map((q, i) => {
      const expr = q.expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$__range_s', '3600')
        .replaceAll('$__range', '1h')
        .replaceAll('$job', 'toolsim')
        .replaceAll('$instance', '.*');
      return `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr)}`;
    });
    const file = join(tempDir(), 'dashboard-queries.yml');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
    return file;
  }

  it.skipIf(!hasPromtool)('has queries that are valid PromQL (checked by promtool as recording rules)', () => {
    const result = promtool(['check', 'rules', dashboardRules()]);
    expect(result.output).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(result.status).toBe(0);
  });

  it.skipIf(!hasPromtool)('shows a value in every panel, 0 rather than "No data", when the fuzzy tier is off', () => {
    // A server without an LLM: exact answers and fuzzy_disabled misses, no toolsim_llm_* series at all.
    const series = [
      ['toolsim_calls_total{job="toolsim", instance="a", tier="exact", server="s", tool="t"}', '0+60x40'],
      ['toolsim_calls_total{job="toolsim", instance="a", tier="miss", server="s", tool="t"}', '0+6x40'],
      ['toolsim_misses_total{job="toolsim", instance="a", reason="fuzzy_disabled"}', '0+6x40'],
      ['toolsim_call_duration_seconds_bucket{job="toolsim", instance="a", tier="exact", le="0.001"}', '0+60x40'],
      ['toolsim_call_duration_seconds_bucket{job="toolsim", instance="a", tier="exact", le="+Inf"}', '0+60x40'],
      ['toolsim_call_duration_seconds_bucket{job="toolsim", instance="a", tier="miss", le="0.001"}', '0+6x40'],
      ['toolsim_call_duration_seconds_bucket{job="toolsim", instance="a", tier="miss", le="+Inf"}', '0+6x40'],
      ['toolsim_cache_calls{job="toolsim", instance="a"}', '1957x40'],
      ['up{job="toolsim", instance="a"}', '1x40'],
    ];
    const tests = queries.map(
      (_, i) =>
        `      - expr: clamp_max(count(dashboard:query_${i}), 1)\n        eval_time: 30m\n        exp_samples: [{labels: "{}", value: 1}]`,
    );
    const file = join(tempDir(), 'dashboard.test.yml');
    writeFileSync(
      file,
      [
        'rule_files:',
        `  - ${join(PROMETHEUS_DIR, 'toolsim-rules.yml')}`,
        `  - ${dashboardRules()}`,
        'evaluation_interval: 30s',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        ...series.map(([name, values]) => `      - series: '${name}'\n        values: "${values}"`),
        '    promql_expr_test:',
        ...tests,
        '',
      ].join('\n'),
    );
    const result = promtool(['test', 'rules', file]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it.skipIf(!hasPromtool)('shows no NaN: an LLM histogram that never grew and traffic that stopped give 0, not NaN', () => {
    // The fuzzy tier on but never asked (its unlabelled duration histogram is exported at 0), and
    // calls that stop after 20 minutes: histogram_quantile of buckets that did not grow is NaN.
    const llmBuckets = ['1', '10', '+Inf'].map((le) => [
      `toolsim_llm_duration_seconds_bucket{job="toolsim", instance="a", le="${le}"}`,
      '0x60',
    ]);
    const series = [
      ['toolsim_calls_total{job="toolsim", instance="a", tier="exact", server="s", tool="t"}', '0+60x20 1200x40'],
      ['toolsim_calls_total{job="toolsim", instance="a", tier="miss", server="s", tool="t"}', '0+6x20 120x40'],
      ['toolsim_misses_total{job="toolsim", instance="a", reason="fuzzy_disabled"}', '0+6x20 120x40'],
      ['toolsim_call_duration_seconds_bucket{job="toolsim", instance="a", tier="exact", le="0.001"}', '0+60x20 1200x40'],
      ['toolsim_call_duration_seconds_bucket{job="toolsim", instance="a", tier="exact", le="+Inf"}', '0+60x20 1200x40'],
      ['toolsim_llm_duration_seconds_count{job="toolsim", instance="a"}', '0x60'],
      ...llmBuckets,
      ['toolsim_cache_calls{job="toolsim", instance="a"}', '1957x60'],
      ['up{job="toolsim", instance="a"}', '1x60'],
    ];
    // `q != q` keeps exactly the NaN samples of q.
    const tests = queries.flatMap((_, i) =>
      ['10m', '50m'].map(
        (at) => `      - expr: dashboard:query_${i} != dashboard:query_${i}\n        eval_time: ${at}\n        exp_samples: []`,
      ),
    );
    const file = join(tempDir(), 'nan.test.yml');
    writeFileSync(
      file,
      [
        'rule_files:',
        `  - ${join(PROMETHEUS_DIR, 'toolsim-rules.yml')}`,
        `  - ${dashboardRules()}`,
        'evaluation_interval: 30s',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        ...series.map(([name, values]) => `      - series: '${name}'\n        values: "${values}"`),
        '    promql_expr_test:',
        ...tests,
        '',
      ].join('\n'),
    );
    const result = promtool(['test', 'rules', file]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
    // The check can fail: the LLM panel's old query gave NaN here.
    const old = join(tempDir(), 'old.test.yml');
    const oldQuery = 'histogram_quantile(0.99, sum by (le) (job_instance_le:toolsim_llm_duration_seconds_bucket:rate5m)) or vector(0)';
    writeFileSync(
      old,
      readFileSync(file, 'utf8')
        .replace(/ {4}promql_expr_test:[\s\S]*/, '    promql_expr_test:\n')
        .concat(`      - expr: (${oldQuery}) != (${oldQuery})\n        eval_time: 10m\n        exp_samples: []\n`),
    );
    expect(promtool(['test', 'rules', old]).status).not.toBe(0);
  });

  it.skipIf(!hasPromtool)('is a panel check that can fail: a query without a fallback is empty with the fuzzy tier off', () => {
    const file = join(tempDir(), 'empty.test.yml');
    writeFileSync(
      file,
      [
        'rule_files:',
        `  - ${join(PROMETHEUS_DIR, 'toolsim-rules.yml')}`,
        'evaluation_interval: 30s',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        `      - series: 'toolsim_calls_total{job="toolsim", instance="a", tier="exact", server="s", tool="t"}'`,
        '        values: "0+60x40"',
        '    promql_expr_test:',
        '      - expr: clamp_max(count(sum by (type) (job_instance_type:toolsim_llm_tokens:rate5m)), 1)',
        '        eval_time: 30m',
        '        exp_samples: [{labels: "{}", value: 1}]',
        '',
      ].join('\n'),
    );
    expect(promtool(['test', 'rules', file]).status).not.toBe(0);
  });
});

describe('Prometheus rules', () => {
  it('record the tier shares and alert on misses, LLM failures, an unavailable LLM, latency and a down target', async () => {
    const text = RULE_FILES.map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(text).toContain('record: job_tier:toolsim_calls:ratio_rate5m');
    for (const alert of [
      'ToolsimInvalidArgumentsHigh',
      'ToolsimRecordedFailuresHigh',
      'ToolsimTargetDown',
      'ToolsimMissShareHigh',
      'ToolsimLLMFailures',
      'ToolsimLLMUnavailable',
      'ToolsimExactLatencyHigh',
      'ToolsimLatencyHigh',
    ]) {
      expect(text).toContain(`alert: ${alert}`);
    }
    const names = await exportedNames();
    const used = new Set(text.match(/\btoolsim_[a-z_]+(?=\{|\[)/g) ?? []);
    expect([...used].filter((name) => !names.has(name))).toEqual([]);
  });

  it.skipIf(!hasPromtool)('pass promtool check rules', () => {
    const result = promtool(['check', 'rules', ...RULE_FILES]);
    expect(result.output).not.toContain('FAILED');
    expect(result.status).toBe(0);
  });

  it.skipIf(!hasPromtool)('fire as their unit tests expect (promtool test rules)', () => {
    const result = promtool(['test', 'rules', 'toolsim-alerts.test.yml']);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});

describe.skipIf(!hasPromtool)('GET /metrics', () => {
  it('passes promtool check metrics after exact answers and misses', async () => {
    const cache = await cacheOf([
      { server: 'whois', tool: 'whois_lookup', arguments: { domain: 'amazon.com' }, output: { created: '1994-11-01' } },
    ]);
    // With the process metrics, as `toolsim serve` exports them.
    const metrics = createMetrics({ cacheCalls: () => 1 });
    const simulator = new Simulator({ store: cache.store, metrics });
    const app = await buildApp({ simulator: () => simulator, metrics });
    onCleanup(() => app.close());
    for (const tool of ['whois_lookup', 'nope']) {
      const res = await app.inject({ method: 'POST', url: '/v1/call', payload: { tool, arguments: { domain: 'amazon.com' } } });
      expect(res.statusCode).toBe(200);
    }
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('toolsim_calls_total{tier="exact",server="whois",tool="whois_lookup"} 1');
    expect(text).toContain('toolsim_misses_total{reason="unknown_tool"} 1');
    expect(text).toContain('nodejs_active_handles{');
    const result = promtool(['check', 'metrics'], text);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('is a check that can fail', () => {
    const result = promtool(['check', 'metrics'], '# HELP bad_count x\n# TYPE bad_count counter\nbad_count 1\n');
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('_total');
  });
});
