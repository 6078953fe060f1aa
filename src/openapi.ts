/**
 * The OpenAPI document as the app generates it, built on an empty in-memory cache. Run directly
 * (`npm run openapi`), it writes openapi/openapi.json.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.js';
import { createMetrics } from './core/metrics.js';
import { Simulator } from './simulator/simulator.js';
import { Store } from './store/store.js';

export async function openApiDocument(): Promise<string> {
  const store = Store.open(':memory:');
  const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
  const simulator = new Simulator({ store, metrics });
  const app = await buildApp({ simulator: () => simulator, metrics });
  try {
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    store.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = new URL('../../openapi/openapi.json', import.meta.url);
  writeFileSync(path, await openApiDocument());
  process.stdout.write(`wrote ${path.pathname}\n`);
}
