/**
 * Latency of memoized fuzzy answers (`node dist/bench/memo-hits.js [--baseline DIST] [--rounds 3]`):
 * a cache of recorded weather calls, 200 near calls improvised once (through the real SDK against
 * the stand-in Messages API) and memoized, then 20,000 calls answered from the memo, each timed
 * through `Simulator.resolve` in process. With `--baseline DIST` (the dist/ of another build, say
 * main's: `git archive main | tar -x -C DIR`, then build it there), the two builds run in alternating
 * child processes and the p50/p99 of each are printed side by side: the guard must not change them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type SeenRequest, startFakeAnthropic } from '../test/support/fake-anthropic.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const OWN_DIST = resolve(HERE, '..');

interface Figures {
  p50Us: number;
  p99Us: number;
}

/** One measurement with the build in `dist` (its src/ modules imported by path). */
async function measure(dist: string): Promise<Figures> {
  const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(dist, path)).href)) as T;
  const { Store } = await load<typeof import('../src/store/store.js')>('src/store/store.js');
  const { ingest } = await load<typeof import('../src/ingest/ingest.js')>('src/ingest/ingest.js');
  const { createFuzzy } = await load<typeof import('../src/tiers/fuzzy/fuzzy-tier.js')>('src/tiers/fuzzy/fuzzy-tier.js');
  const { FUZZY_OPTIONS, resolveConfig } = await load<typeof import('../src/config.js')>('src/config.js');
  const { createMetrics } = await load<typeof import('../src/core/metrics.js')>('src/core/metrics.js');
  const { Simulator } = await load<typeof import('../src/simulator/simulator.js')>('src/simulator/simulator.js');
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-memo-hits-'));
  const stand = await startFakeAnthropic({ kind: 'answer', output: (r: SeenRequest) => ({ city: cityOf(r.body), temp: 20, unit: 'C' }) });
  try {
    const log = join(dir, 'log.jsonl');
    const cities = ['Paris', 'London', 'Berlin', 'Madrid', 'Rome', 'Vienna', 'Prague', 'Lisbon'];
    writeFileSync(
      log,
      `${cities.map((city, i) => JSON.stringify({ server: 'weather', tool: 'get_weather', arguments: { city }, output: { city, temp: 10 + i, unit: 'C' } })).join('\n')}\n`,
    );
    const store = Store.open(join(dir, 'cache.db'));
    await ingest({ store, inputs: [log] });
    const fuzzy = createFuzzy({ ...resolveConfig(FUZZY_OPTIONS, {}, {}), apiKey: 'sk-bench', baseUrl: stand.url, llmRetries: 0 });
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics, fuzzy: fuzzy.tier });
    const near = (i: number) => ({ server: 'weather', tool: 'get_weather', arguments: { city: `Town-${i}` } });
    for (let i = 0; i < 200; i++) {
      const answer = await simulator.resolve(near(i));
      if (answer.tier !== 'fuzzy') throw new Error(`call ${i} was not improvised: ${answer.reason}`);
    }
    const times: number[] = [];
    for (let n = 0; n < 20_000; n++) {
      const started = performance.now();
      const answer = await simulator.resolve(near(n % 200));
      times.push((performance.now() - started) * 1000);
      if (!answer.match.memoized) throw new Error('not a memo hit');
    }
    times.sort((a, b) => a - b);
    await fuzzy.close();
    simulator.close();
    return { p50Us: times[Math.floor(times.length / 2)]!, p99Us: times[Math.floor(times.length * 0.99)]! };
  } finally {
    await stand.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function cityOf(body: Record<string, unknown>): string {
  const text = JSON.stringify(body['messages']);
  return /Town-\d+/.exec(text)?.[0] ?? 'Town';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      baseline: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      child: { type: 'string' },
    },
  });
  if (values.child) {
    process.stdout.write(`${JSON.stringify(await measure(values.child))}\n`);
    return;
  }
  const builds = [
    { name: 'this build', dist: OWN_DIST },
    ...(values.baseline ? [{ name: 'baseline', dist: resolve(values.baseline) }] : []),
  ];
  const results = new Map<string, Figures[]>(builds.map((b) => [b.name, []]));
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
      const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', build.dist], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`${build.name}: ${run.stderr}`);
      results.get(build.name)!.push(JSON.parse(run.stdout.trim().split('\n').pop()!) as Figures);
    }
  }
  for (const [name, figures] of results) {
    const med = (f: (x: Figures) => number): string =>
      figures
        .map(f)
        .sort((a, b) => a - b)
        [Math.floor(figures.length / 2)]!.toFixed(1);
    process.stdout.write(
      `${name}: memoized fuzzy answer p50 ${med((x) => x.p50Us)} µs, p99 ${med((x) => x.p99Us)} µs (median of ${figures.length} rounds; each: ${figures.map((x) => `${x.p50Us.toFixed(1)}/${x.p99Us.toFixed(1)}`).join(', ')})\n`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
