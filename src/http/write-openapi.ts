/** Writes openapi/openapi.json from the route schemas (`npm run openapi`). */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from './openapi.js';

const path = new URL('../../../openapi/openapi.json', import.meta.url);
writeFileSync(path, await openApiDocument());
process.stdout.write(`wrote ${path.pathname}\n`);
