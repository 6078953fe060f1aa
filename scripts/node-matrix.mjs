// The Node versions CI runs toolsim under: for each range of package.json's engines.node
// (`^20.19 || ^22.14 || ^24`), its lowest and highest published version. Reads the npm registry's
// `node` versions (`npm view node versions --json`) on stdin; prints them space-separated.
// docs/decisions/node-versions.md says why these.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `^M` or `^M.m` ranges only: what engines may say (a test holds it to that). */
export function nodeMatrix(engines, versions) {
  const matrix = [];
  for (const range of engines.split('||').map((r) => r.trim())) {
    const m = /^\^(\d+)(?:\.(\d+))?$/.exec(range);
    if (!m) throw new Error(`engines.node range ${range}: only ^major or ^major.minor is understood`);
    const [major, minor] = [Number(m[1]), Number(m[2] ?? 0)];
    const admitted = versions
      .filter((v) => /^\d+\.\d+\.\d+$/.test(v))
      .map((v) => v.split('.').map(Number))
      .filter(([a, b]) => a === major && b >= minor)
      .sort((x, y) => x[1] - y[1] || x[2] - y[2]);
    if (admitted.length === 0) throw new Error(`no published Node in ${range}`);
    for (const v of new Set([admitted[0].join('.'), admitted.at(-1).join('.')])) matrix.push(v);
  }
  return matrix;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = new URL('..', import.meta.url);
  const { engines } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  const versions = JSON.parse(readFileSync(0, 'utf8'));
  process.stdout.write(`${nodeMatrix(engines.node, versions).join(' ')}\n`);
}
