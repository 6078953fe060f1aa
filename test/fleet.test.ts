/**
 * A fleet: three `toolsim serve` processes on loopback share one cache file, one throwaway
 * PostgreSQL memo (--memo-url) and one Anthropic stand-in that counts requests. Each stand-in
 * answer is distinct (a counter), so two improvisations of one call would show as two answers.
 *
 * Checks: 12 concurrent identical misses spread over the replicas make one LLM request and get one
 * answer; every replica answers every distinct miss identically, one request per distinct call;
 * after every replica restarts the answers are the same with no new request; with PostgreSQL
 * stopped, exact answers go on, fuzzy calls not seen before are misses `memo_unavailable`, /readyz
 * stays 200 and says the memo is unavailable, and once PostgreSQL is back the fleet recovers by itself.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingest } from '../src/ingest/ingest.js';
import { Store } from '../src/store/store.js';
import { freePort, onCleanup, ROOT, tempDir, writeLog } from './helpers.js';
import { type ServeProcess, serveProcess } from './server-process.js';
import { type FakeAnthropic, startFakeAnthropic } from './support/fake-anthropic.js';
import { type Postgres, startPostgres } from './support/postgres.js';
import { weatherRecord } from './support/records.js';

const pg = await startPostgres();
if (!pg) console.warn('fleet test skipped: PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql)');

interface Answer {
  tier: string;
  output: unknown;
  is_error: boolean;
  reason?: string;
  match: { memoized?: boolean };
}

const weather = (city: string, temp: number): object => weatherRecord(city, temp);
/**
 * HAProxy from Debian's package with deploy/haproxy/haproxy.cfg, its bind and servers replaced by
 * loopback ones; undefined (said) without the binary, an error under CI=true (.ci/run installs it).
 */
async function startHaproxy(replicas: readonly ServeProcess[]): Promise<{ url: string } | undefined> {
  const bin = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
  if (!bin) {
    if (process.env['CI'] === 'true') throw new Error('haproxy not found: apt-get install haproxy');
    console.warn('HAProxy step skipped: haproxy not found (apt-get install haproxy)');
    return undefined;
  }
  const port = await freePort();
  const servers = replicas.map((r, i) => `  server replica${i + 1} ${new URL(r.url).host} check`).join('\n');
  const config = readFileSync(join(ROOT, 'deploy/haproxy/haproxy.cfg'), 'utf8')
    .replace(/^ {2}bind :8080$/m, `  bind 127.0.0.1:${port}`)
    .replace(/(^ {2}server .*\n?)+/m, `${servers}\n`);
  const path = join(tempDir(), 'haproxy.cfg');
  writeFileSync(path, config);
  const child = spawn(bin, ['-db', '-f', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      async () =>
        await fetch(new URL('/readyz', url)).then(
          (r) => r.status,
          () => 0,
        ),
      { timeout: 10_000, interval: 100 },
    )
    .toBe(200)
    .catch((error: unknown) => {
      throw new Error(`HAProxy did not come up: ${stderr}`, { cause: error });
    });
  return { url };
}

const near = (city: string): object => ({ tool: 'get_weather', arguments: { city, unit: 'C' } });

afterAll(async () => {
  await pg?.close();
});

// One test in steps: helpers clean up (temp folders, child processes) after each test.
describe.skipIf(!pg)('a fleet of three replicas sharing a PostgreSQL memo', () => {
  const db = (): Postgres => pg!;
  let cache: string;
  let stand: FakeAnthropic;
  let replicas: ServeProcess[] = [];
  let improvised = 0;
  // The stand-in's answer: it fits the shapes learnt from both tools' recordings (get_weather's and set_alert's keys).
  const improvise = (): object => ({ city: 'Improvised', temp: 100 + improvised++, ok: true, alert: 'low' });

  const setUp = async (): Promise<void> => {
    const dir = tempDir();
    cache = join(dir, 'cache.db');
    const writer = Store.open(cache);
    await ingest({
      store: writer,
      inputs: [
        writeLog(dir, 'a.jsonl', [
          weather('Paris', 18),
          weather('London', 14),
          weather('Berlin', 16),
          // A tool that writes (by its name): a rollout that sets another alert diverges.
          { server: 'weather', tool: 'set_alert', arguments: { city: 'Paris', level: 'high' }, output: { ok: true, alert: 'high' } },
        ]),
      ],
    });
    writer.close();
    // Slow enough that the 12 concurrent calls below all arrive while the first is being improvised.
    stand = await startFakeAnthropic({
      kind: 'slow',
      delayMs: 400,
      after: { kind: 'answer', output: improvise },
    });
    onCleanup(() => stand.close());
  };

  const start = (count = 3): Promise<ServeProcess[]> =>
    Promise.all(
      Array.from({ length: count }, () =>
        serveProcess(['--db', cache, '--memo-url', db().url, '--fuzzy', 'on', '--llm-deadline-ms', '5000'], {
          ANTHROPIC_API_KEY: 'sk-test-fleet',
          ANTHROPIC_BASE_URL: stand.url,
        }),
      ),
    );
  const stop = async (): Promise<void> => {
    for (const r of replicas) r.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.exited));
    replicas = [];
  };
  const call = async (replica: { url: string }, body: object): Promise<Answer> => {
    const response = await fetch(new URL('/v1/call', replica.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Answer;
  };
  const readyz = async (replica: ServeProcess): Promise<{ status: number; body: { status: string; memo?: { state: string } } }> => {
    const response = await fetch(new URL('/readyz', replica.url));
    return { status: response.status, body: (await response.json()) as { status: string; memo?: { state: string } } };
  };

  const distinct = ['Pariss', 'Londn', 'Berlim', 'Parris', 'Lodnon', 'Berln'];
  const answers = new Map<string, unknown>();

  it('gives one answer per call across replicas and restarts, one LLM request each, and rides out a PostgreSQL outage', async () => {
    await setUp();
    // 1. Three replicas start at once (the schema is created once, under the advisory lock).
    replicas = await start();
    // 2. 12 concurrent identical misses spread over the 3 replicas: one LLM request, one answer.
    for (const r of replicas) expect((await readyz(r)).body.memo?.state).toBe('ok');
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call(replicas[i % 3]!, near('Paaris'))));
    expect(results.map((r) => r.tier)).toEqual(Array(12).fill('fuzzy'));
    expect(new Set(results.map((r) => JSON.stringify(r.output))).size).toBe(1);
    expect(stand.requests.length).toBe(1);
    const concurrentRequests = stand.requests.length;
    const concurrentAnswers = new Set(results.map((r) => JSON.stringify(r.output))).size;
    answers.set('Paaris', results[0]!.output);

    // Every replica answers every distinct miss identically, one request per distinct call.
    for (const city of distinct) {
      const each = await Promise.all(replicas.map((r) => call(r, near(city))));
      expect(each.map((r) => r.tier)).toEqual(['fuzzy', 'fuzzy', 'fuzzy']);
      expect(new Set(each.map((r) => JSON.stringify(r.output))).size).toBe(1);
      answers.set(city, each[0]!.output);
    }
    expect(stand.requests.length).toBe(1 + distinct.length);
    expect(new Set([...answers.values()].map((a) => JSON.stringify(a))).size).toBe(answers.size);

    const distinctRequests = stand.requests.length - concurrentRequests;
    // 3. Every replica restarts: the same answers, no new LLM request.
    await stop();
    replicas = await start();
    const before = stand.requests.length;
    for (const [city, output] of answers) {
      const each = await Promise.all(replicas.map((r) => call(r, near(city))));
      for (const answer of each) {
        expect(answer.tier).toBe('fuzzy');
        expect(answer.match.memoized).toBe(true);
        expect(answer.output).toEqual(output);
      }
    }
    expect(stand.requests.length).toBe(before);

    // Through the example HAProxy config (deploy/haproxy), pointed at these replicas: the same answers.
    const balancer = await startHaproxy(replicas);
    if (balancer) {
      for (const [city, output] of answers) expect((await call(balancer, near(city))).output).toEqual(output);
      expect(stand.requests.length).toBe(before);
    }

    // A rollout whose consecutive calls land on different replicas, its state in PostgreSQL: after a
    // write no recording has (on replica 2), its read of the recorded call (on replica 3) is
    // improvised with its history, never the recording; the same calls as another rollout, through
    // HAProxy, get the same answers without a new LLM request.
    const alert = { tool: 'set_alert', arguments: { city: 'Paris', level: 'low' } };
    const steps = [near('Paris'), alert, near('Paris'), near('Paris')];
    const crossed: Answer[] = [];
    for (const [i, body] of steps.entries()) crossed.push(await call(replicas[i % 3]!, { ...body, trajectory_id: 'fleet-rollout' }));
    expect(crossed.map((a) => a.tier)).toEqual(['exact', 'fuzzy', 'fuzzy', 'fuzzy']);
    expect(crossed[2]!.match).toMatchObject({ rollout: { diverged_since: 2, history: 2 } });
    expect(crossed[3]!.match).toMatchObject({ rollout: { diverged_since: 2, history: 3 } });
    const rolloutRequests = stand.requests.length - before;
    const shown = await fetch(new URL('/v1/rollouts/fleet-rollout', replicas[1]!.url)).then((r) => r.json());
    expect(shown).toMatchObject({ calls: 4, servers: [{ server: 'weather', state: 'diverged', diverged_since: 2, answered: 4 }] });
    const again = balancer ?? replicas[0]!;
    const replayed: Answer[] = [];
    for (const body of steps) replayed.push(await call(again, { ...body, trajectory_id: 'fleet-rollout-again' }));
    expect(replayed.map((a) => JSON.stringify([a.tier, a.output]))).toEqual(crossed.map((a) => JSON.stringify([a.tier, a.output])));
    expect(stand.requests.length).toBe(before + rolloutRequests);
    // Those calls are this fleet's: later steps count requests from here.
    const afterRollouts = stand.requests.length;

    // 4. PostgreSQL stops mid-run, here while an improvisation is in flight: its answer cannot be
    // stored, so it is not served (another replica could not serve the same); exact answers go on,
    // unseen fuzzy calls are labelled misses, /readyz says so.
    stand.script({
      kind: 'slow',
      delayMs: 1500,
      after: { kind: 'answer', output: improvise },
    });
    const inFlight = call(replicas[0]!, near('Parisss'));
    await expect.poll(() => stand.requests.length, { timeout: 5000, interval: 20 }).toBe(afterRollouts + 1);
    await db().stop();
    const lost = await inFlight;
    expect(lost.tier).toBe('miss');
    expect(lost.reason).toBe('memo_unavailable');
    for (const r of replicas) {
      const exact = await call(r, near('London'));
      expect(exact.tier).toBe('exact');
      expect(exact.output).toEqual({ city: 'London', temp: 14 });
      // An answer this replica has already seen never changes: it is still served.
      const seen = await call(r, near('Pariss'));
      expect(seen.tier).toBe('fuzzy');
      expect(seen.output).toEqual(answers.get('Pariss'));
    }
    expect(stand.requests.length).toBe(afterRollouts + 1);
    const startedAt = performance.now();
    const unseen = await Promise.all(replicas.map((r) => call(r, near('Berrlin'))));
    for (const answer of unseen) {
      expect(answer.tier).toBe('miss');
      expect(answer.reason).toBe('memo_unavailable');
    }
    // Wide guard: a dead database costs at most a connection attempt, never the LLM deadline.
    const missMs = performance.now() - startedAt;
    expect(missMs).toBeLessThan(4000);
    expect(stand.requests.length).toBe(afterRollouts + 1);
    for (const r of replicas) {
      const ready = await readyz(r);
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ready');
      expect(ready.body.memo?.state).toBe('unavailable');
    }

    // A replica started while PostgreSQL is down starts anyway, and answers exact calls.
    const [late] = await start(1);
    expect((await call(late!, near('Paris'))).tier).toBe('exact');
    expect((await readyz(late!)).body.memo?.state).toBe('unavailable');
    replicas.push(late!);

    // 5. PostgreSQL is back: the replicas (the late one too) reconnect by themselves.
    await db().start();
    const restartedAt = performance.now();
    await expect
      .poll(async () => (await Promise.all(replicas.map(readyz))).map((r) => r.body.memo?.state), { timeout: 15_000, interval: 250 })
      .toEqual(['ok', 'ok', 'ok', 'ok']);
    const recoveredMs = performance.now() - restartedAt;
    const after = await Promise.all(replicas.map((r) => call(r, near('Berrlin'))));
    expect(after.map((r) => r.tier)).toEqual(['fuzzy', 'fuzzy', 'fuzzy', 'fuzzy']);
    expect(new Set(after.map((r) => JSON.stringify(r.output))).size).toBe(1);
    expect(stand.requests.length).toBe(afterRollouts + 2);
    expect(replicas.some((r) => r.logs.some((line) => /shared memo unavailable/.test(String(line['msg']))))).toBe(true);
    console.log(
      `[figures] fleet of 3 replicas, one PostgreSQL memo: 12 concurrent identical misses -> ${concurrentRequests} LLM request, ${concurrentAnswers} distinct answer; ` +
        `${distinct.length} distinct misses x 3 replicas -> ${distinctRequests} LLM requests, 1 answer each; after restarting all: ${answers.size} calls x 3 replicas identical, 0 new requests; ` +
        `PostgreSQL stopped: an improvisation in flight -> memo_unavailable (not served unstored), exact and seen fuzzy answers served, unseen fuzzy -> memo_unavailable in ${Math.round(missMs)} ms (3 calls), /readyz 200 memo unavailable, a replica started meanwhile serves exact; ` +
        `PostgreSQL back: all ${replicas.length} memo ok after ${Math.round(recoveredMs)} ms, 1 request for the new call; ` +
        `a rollout over replicas 1, 2, 3, 1 -> exact, then ${crossed.length - 1} improvised with its history (${rolloutRequests} LLM requests), the same calls again through ${balancer ? 'HAProxy' : 'one replica'} -> the same answers, 0 new requests`,
    );
    await stop();
  }, 90_000);
});
