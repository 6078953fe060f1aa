/**
 * `npm run bench [-- --quick] [--only exact,peer,batch,rollouts,ingest,scale,neighbors,miss,blocking,shapes] [--out FILE]`:
 * runs each scenario and writes bench/RESULTS.md. Not a test: figures depend on the machine.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { keptLongRunSection } from './lib/long-run-section.js';
import { RESULTS } from './lib/paths.js';
import { FULL, QUICK, type Section, verdict } from './lib/report.js';
import { median } from './lib/stats.js';
import { blockingScenario } from './scenarios/blocking.js';
import { ingestLog, serveLargeCache } from './scenarios/cache.js';
import { againstMountebank, batchVsSingle, exactInProcess, exactVsBare, httpFixture } from './scenarios/http.js';
import { missTier, nearestNeighbors, oneToolCache } from './scenarios/neighbors.js';
import { rolloutsVsPlain } from './scenarios/rollouts.js';
import { shapesScenario } from './shapes.js';

const SCENARIOS = ['exact', 'peer', 'batch', 'rollouts', 'ingest', 'scale', 'neighbors', 'miss', 'blocking', 'shapes'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } },
});
const mode = values.quick ? QUICK : FULL;
const only = new Set((values.only?.split(',') ?? SCENARIOS) as Scenario[]);
for (const name of only)
  if (!SCENARIOS.includes(name)) throw new Error(`--only: unknown scenario ${name}; choose from ${SCENARIOS.join(', ')}`);
const wants = (name: Scenario): boolean => only.has(name);
const log = (message: string): void => void process.stderr.write(`bench: ${message}\n`);

const started = new Date();
const loadBefore = loadavg();
// The machine's load through the run (1-minute average every 5 s): other work shares these cores.
const loads: number[] = [];
const sampler = setInterval(() => loads.push(loadavg()[0]!), 5_000);
sampler.unref();
const sections: Section[] = [];
const record = (section: Section): void => {
  sections.push(section);
  for (const f of section.figures)
    log(`${section.title} | ${f.name}: ${f.value} ${f.target ? `(target ${f.target}: ${verdict(f.met)})` : ''}`);
};

if (wants('exact') || wants('peer') || wants('batch') || wants('rollouts')) {
  log('building the 10k working set and starting toolsim');
  const fixture = await httpFixture();
  try {
    if (wants('exact')) record(await exactVsBare(fixture, mode));
    if (wants('exact')) record(await exactInProcess(fixture, mode));
    if (wants('batch')) record(await batchVsSingle(fixture, mode));
    if (wants('peer')) record(await againstMountebank(fixture, mode));
    if (wants('rollouts')) record(await rolloutsVsPlain(fixture, mode));
  } finally {
    await fixture.close();
  }
}
if (wants('ingest') || wants('scale')) {
  log(`generating and ingesting ${mode.ingestCalls} calls`);
  const ingested = await ingestLog(mode);
  if (wants('ingest')) record(ingested.section);
  if (wants('scale')) record(await serveLargeCache(ingested.db, mode));
}
if (wants('neighbors') || wants('miss') || wants('blocking')) {
  log(`building a cache of ${mode.oneToolCalls} calls of one tool`);
  const cache = await oneToolCache(mode);
  if (wants('neighbors')) record(nearestNeighbors(cache, mode));
  if (wants('miss')) record(await missTier(cache, mode));
  if (wants('blocking')) record(await blockingScenario(cache, mode.quick ? 2 : 4));
}
if (wants('shapes')) {
  log(`learning the output shape of a tool of ${mode.oneToolCalls} calls`);
  record(await shapesScenario(mode.oneToolCalls, mode.quick ? 1 : 3));
}

clearInterval(sampler);
const cpu = cpus();
const command = `npm run bench${values.quick ? ' -- --quick' : ''}${values.only ? ` -- --only ${values.only}` : ''}`;
const lines = [
  '# toolsim benchmark results',
  '',
  `Written by \`${command}\` (bench/run.ts). Benchmarks, not tests: the figures belong to this machine on this day.`,
  '',
  `- date: ${started.toISOString()} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`,
  `- machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}`,
  `- Node ${process.version}; mode: ${mode.quick ? 'quick (smaller sizes than the targets name; not for the record)' : 'full'}`,
  `- load average at start ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(
      ' ',
    )}; during the run (1-minute average, every 5 s) median ${median(loads).toFixed(1)}, range ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} on ${cpus().length} CPUs`,
  '',
  `**The client and the servers share this ${cpu.length}-core machine**, which other work was using at the same time: autocannon runs ` +
    'in the bench process, each server under test in its own process. Absolute figures are therefore low and noisy; comparisons ' +
    'are ratios within one run, the two sides alternating in rounds, reported as median (min–max, n=rounds).',
  '',
  '| scenario | figure | value | target | |',
  '|---|---|---|---|---|',
  ...sections.flatMap((s) =>
    s.figures.map((f) => `| ${s.title.replace(/^(\d+)\..*/, '$1')} | ${f.name} | ${f.value} | ${f.target} | ${verdict(f.met)} |`),
  ),
  '',
  ...sections.flatMap((s) => [`## ${s.title}`, '', ...s.details, '']),
];
const out = values.out ?? RESULTS;
// The long run's figures come from `npm run soak -- --long --write`; they stay.
const kept = keptLongRunSection(out);
writeFileSync(out, kept ? `${lines.join('\n').replace(/\n*$/, '\n\n')}${kept}` : lines.join('\n'));
log(`wrote ${out}`);
