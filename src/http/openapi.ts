/** The OpenAPI document as the app generates it, built on an empty in-memory cache. */
import { buildApp } from '../app.js';
import { createMetrics } from '../metrics.js';
import { Simulator } from '../simulator.js';
import { Store } from '../store.js';

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
