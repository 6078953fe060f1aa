#!/usr/bin/env node
/**
 * Draws src/'s parts and the imports between them, from the real imports (dependency-cruiser), as
 * a Mermaid graph inside docs/architecture.md. `--check` fails when the committed picture is not
 * what the code imports today (npm test runs it), so the picture cannot drift.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const doc = `${root}docs/architecture.md`;
const START = '<!-- graph:start (npm run architecture writes this block) -->';
const END = '<!-- graph:end -->';

const json = execFileSync(
  `${root}node_modules/.bin/depcruise`,
  ['src', '--include-only', '^src/', '--collapse', '^src/(tiers/fuzzy|protocols/formats|[^/]+)/', '--output-type', 'json'],
  { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
);
/** @type {{ modules: { source: string; dependencies: { resolved: string }[] }[] }} */
const { modules } = JSON.parse(json);

const name = (path) => path.replace(/^src\//, '').replace(/\/$/, '/');
const id = (path) => name(path).replace(/[^a-z0-9]/gi, '_');
const parts = modules.map((m) => m.source).sort();
const edges = [];
for (const m of modules) {
  for (const d of m.dependencies) {
    if (d.resolved === m.source || d.resolved === 'src/core/') continue;
    edges.push(`  ${id(m.source)} --> ${id(d.resolved)}`);
  }
}
const graph = ['```mermaid', 'flowchart TD', ...parts.map((p) => `  ${id(p)}["${name(p)}"]`), ...[...new Set(edges)].sort(), '```'].join(
  '\n',
);

const text = readFileSync(doc, 'utf8');
const from = text.indexOf(START);
const to = text.indexOf(END);
if (from < 0 || to < from) throw new Error(`${doc} has no ${START} ... ${END} block`);
const updated = `${text.slice(0, from + START.length)}\n${graph}\n${text.slice(to)}`;
if (process.argv.includes('--check')) {
  if (updated !== text) {
    process.stderr.write('docs/architecture.md does not match the imports in src/: run `npm run architecture` and commit it\n');
    process.exit(1);
  }
} else {
  writeFileSync(doc, updated);
  process.stdout.write(`wrote ${doc}\n`);
}
