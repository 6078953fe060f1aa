/**
 * The pages under docs/ describe the outside faces of toolsim; these checks hold them to the code:
 * the error registry, the miss reasons, the metrics, the command line, and every reference to a page.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliReference } from '../src/commands/reference.js';
import { ERRORS } from '../src/core/errors.js';
import { createMetrics } from '../src/core/metrics.js';
import { MISS_REASONS } from '../src/core/types.js';
import { ROOT } from './helpers.js';

const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** The rows of the Markdown table whose header row starts with `| first |`, as arrays of cells. */
function tableRows(markdown: string, first: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${first} |`));
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const unquote = (cell: string | undefined): string => (cell ?? '').replace(/^`|`$/g, '');

function files(dir: string, ext: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return files(path, ext);
    return name.endsWith(ext) ? [path] : [];
  });
}

describe('docs', () => {
  it('docs/http-api.md lists every error code of the registry with its status, and no other', () => {
    const rows = tableRows(read('docs/http-api.md'), 'code');
    const documented = rows.map(([code, status]) => [unquote(code), Number(status)]);
    const registry = Object.entries(ERRORS).map(([code, { status }]) => [code, status]);
    expect(documented.sort()).toEqual(registry.sort());
  });

  it('docs/http-api.md lists every miss reason, and no other', () => {
    const rows = tableRows(read('docs/http-api.md'), 'reason');
    expect(rows.map(([reason]) => unquote(reason)).sort()).toEqual([...MISS_REASONS].sort());
  });

  it('docs/metrics.md lists every metric with its type and labels, and no other', () => {
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const registry = metrics.registry.getMetricsAsArray().map((m) => {
      const labels = 'labelNames' in m && Array.isArray(m.labelNames) ? (m.labelNames as string[]) : [];
      return [m.name, String(m.type), labels.join(', ')];
    });
    const documented = tableRows(read('docs/metrics.md'), 'metric').map(([name, type, labels]) => [
      unquote(name),
      type ?? '',
      (labels ?? '')
        .split(',')
        .map((l) => unquote(l.trim()))
        .filter(Boolean)
        .join(', '),
    ]);
    expect(documented.sort()).toEqual(registry.sort());
  });

  it('docs/cli.md is generated from the command table and the options (run `npm run docs` after changing them)', () => {
    expect(read('docs/cli.md'), 'docs/cli.md is stale: run `npm run docs`').toBe(cliReference());
  });

  it('every docs/ page named in the code, the tests, the README or the docs exists', () => {
    const sources = ['README.md', ...files('src', '.ts'), ...files('test', '.ts'), ...files('bench', '.ts'), ...files('docs', '.md')];
    const missing: string[] = [];
    for (const source of sources) {
      for (const [page] of read(source).matchAll(/docs\/[a-z0-9/-]+\.md/g)) {
        if (!existsSync(join(ROOT, page))) missing.push(`${source}: ${page}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
