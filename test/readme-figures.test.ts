/**
 * Figures and defaults the README states that could drift from the code: every row of its option
 * tables (flag, environment variable, default) read against the option table in src/config.ts, the
 * defaults quoted in its prose, and its metrics table against the app's registry; and every file of
 * the repository the README and docs/ name exists (a moved test or module leaves no stale path).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPTIONS, type OptionSpec } from '../src/config.js';
import { createMetrics } from '../src/core/metrics.js';
import { ROOT } from './support/paths.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The rows of every Markdown table whose header row starts with `| first |`. */
function tables(markdown: string, first: string): { line: number; cells: string[] }[] {
  const lines = markdown.split('\n');
  const rows: { line: number; cells: string[] }[] = [];
  lines.forEach((line, start) => {
    if (!line.startsWith(`| ${first} |`)) return;
    for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
      rows.push({
        line: i + 1,
        cells: lines[i]!.slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((cell) => cell.trim()),
      });
    }
  });
  return rows;
}

const specs = Object.values(OPTIONS) as OptionSpec[];
const byFlag = (flag: string): OptionSpec[] => specs.filter((s) => s.flag === flag);

/** How the README writes a default: `value`, or none for an empty one; `0` (none) for a 0 that means no limit. */
function shownDefault(spec: OptionSpec): string {
  const value = spec.default;
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) return 'none';
  return `\`${Array.isArray(value) ? value.join(',') : String(value)}\``;
}

describe('README figures', () => {
  const rows = tables(README, 'flag');

  it('has option tables to check', () => {
    expect(rows.length).toBeGreaterThan(25);
  });

  it('states every option’s environment variable and default as the option table in src/config.ts has them', () => {
    const wrong: string[] = [];
    for (const { line, cells } of rows) {
      const [flagCell = '', envCell = '', defaultCell = ''] = cells;
      const flag = /^`--([a-z0-9-]+)`$/.exec(flagCell)?.[1];
      const matching = flag ? byFlag(flag) : [];
      if (matching.length === 0) {
        wrong.push(`README.md:${line}: ${flagCell} is no option`);
        continue;
      }
      const env = /^`([A-Z0-9_]+)`/.exec(envCell)?.[1];
      const shown = defaultCell.replace(/ \(none\)$/, '');
      const fits = matching.some((spec) => spec.env === env && shownDefault(spec) === shown);
      if (!fits) {
        const want = matching.map((s) => `${s.env} ${shownDefault(s)}`).join(' or ');
        wrong.push(`README.md:${line}: ${flagCell} says ${env} ${shown}, the option table ${want}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('quotes the answer LRU’s memory default as the option table has it, wherever it names it', () => {
    const mib = OPTIONS.lruMb.default;
    const quoted = [...README.matchAll(/`--lru-mb`[^.\n]{0,40}?(\d+) MiB/g)].map((m) => Number(m[1]));
    expect(quoted.length).toBeGreaterThan(0);
    expect(quoted).toEqual(quoted.map(() => mib));
  });

  it('lists every metric of the registry in its metrics table, and no other', () => {
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const registry = metrics.registry.getMetricsAsArray().map((m) => [m.name, String(m.type)]);
    const documented = tables(README, 'metric').map(({ cells }) => [cells[0]!.replace(/^`|`$/g, ''), cells[1]!]);
    expect(documented.sort()).toEqual(registry.sort());
  });
});

describe('paths named in the README and docs/', () => {
  const pages = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((p) => p.endsWith('.md'))
      .map((p) => `docs/${p}`),
  ];

  it('exist (placeholders in capitals aside)', () => {
    const missing: string[] = [];
    const pattern =
      /(?<![\w./-])((?:src|test|bench|scripts|deploy|examples)\/[A-Za-z0-9_./-]*\.(?:ts|mjs|md|py|yaml|cfg|json|jsonl|sh|conf))/g;
    for (const page of pages) {
      for (const [, path] of readFileSync(join(ROOT, page), 'utf8').matchAll(pattern)) {
        if (/[A-Z]{3,}/.test(path!) || existsSync(join(ROOT, path!))) continue;
        missing.push(`${page}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
