/** docs/glossary.md holds src/ to one word per thing: no retired name is left in the code. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../src/config.js';
import { ROOT } from './helpers.js';

const glossary = readFileSync(join(ROOT, 'docs/glossary.md'), 'utf8');

/** The backquoted names in the "retired" column of the "Retired names" table. */
function retiredNames(): string[] {
  const section = glossary.slice(glossary.indexOf('## Retired names'));
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the glossary', () => {
  it('lists retired names, and src/ uses none of them (renamed options are read only as former names)', () => {
    const retired = retiredNames();
    expect(retired).toEqual(expect.arrayContaining(['--cache-mb', 'TOOLSIM_CACHE_MB', 'ExactCache', 'class Tally']));
    const former = new Set(
      Object.values(OPTIONS).flatMap((spec) => [
        ...('formerFlag' in spec ? [`--${spec.formerFlag}`] : []),
        ...('formerEnv' in spec ? [spec.formerEnv] : []),
      ]),
    );
    const found: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const name of retired) {
        const bare = name.replace(/^--/, '');
        // A renamed option keeps its former names in its own entry of the option table, and nowhere else.
        const allowed = former.has(name) ? (text.match(new RegExp(`former(Flag|Env): '${bare}'`, 'g'))?.length ?? 0) : 0;
        const uses = text.split(bare).length - 1;
        if (uses > allowed) found.push(`${relative(ROOT, file)}: ${name}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('names every renamed option under its current and former names', () => {
    for (const spec of Object.values(OPTIONS)) {
      if (!('formerFlag' in spec)) continue;
      expect(glossary).toContain(`\`--${spec.formerFlag}\`, \`${spec.formerEnv}\` | \`--${spec.flag}\`, \`${spec.env}\``);
    }
  });
});
