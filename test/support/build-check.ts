/**
 * The integration project's globalSetup: a test never runs a stale dist/. Child processes
 * (`toolsim serve`, ingest, replay...) and the neighbour index worker run the compiled dist/src/,
 * while the tests import src/ directly; after an edit, `npx vitest run FILE` would test the new
 * sources against the old build. So before any integration test, every src/**\/*.ts is compared with
 * its dist/src/**\/*.js (missing, or older than its source or than tsconfig.json): if any is stale,
 * `tsc` rebuilds dist/ (as `npm run build` does) and says so; a build that fails stops the run.
 * Cost when dist/ is fresh (as under `npm test`, which builds first): one stat per source, a few ms.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The first source whose compiled file is missing or older than it (or than tsconfig.json), if any. */
export function staleSource(root = ROOT): string | undefined {
  const config = statSync(join(root, 'tsconfig.json')).mtimeMs;
  for (const source of sources(join(root, 'src'))) {
    const compiled = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js');
    if (!existsSync(compiled)) return relative(root, source);
    const built = statSync(compiled).mtimeMs;
    if (built < statSync(source).mtimeMs || built < config) return relative(root, source);
  }
  return undefined;
}

export default function setup(): void {
  const stale = staleSource();
  if (stale === undefined) return;
  const started = performance.now();
  process.stdout.write(`dist/ is older than ${stale}: building it (tsc -p tsconfig.json)...\n`);
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`dist/ is stale and the build failed; fix it before running the tests:\n${stdout}${stderr}`);
  }
  chmodSync(join(ROOT, 'dist/src/cli.js'), 0o755);
  process.stdout.write(`built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
