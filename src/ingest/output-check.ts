/**
 * At the end of an ingest, each tool with a declared output schema has its recorded successful
 * answers checked against it as MCP carries them (`structuredContent`): MCP `tools/list` lists the
 * schema only where none misfits, since a client rejects a result that does not fit
 * (docs/log-format.md, "A tool"). Loaded only by ingests into caches that declare a schema (Ajv).
 */
import { checkRecorded, compileSchema } from '../shapes/schema-guard.js';
import type { IngestWriter } from '../store/ingest-writer.js';
import type { Store } from '../store/store.js';

export function checkDeclaredSchemas(store: Store, writer: IngestWriter): void {
  for (const tool of store.catalog()) {
    if (!tool.output_schema) continue;
    const compiled = compileSchema(tool.output_schema);
    const check = compiled.ok
      ? checkRecorded(compiled.schema, store.outputsOf(tool.server, tool.tool))
      : { answers: 0, misfits: 0, example: compiled.reason };
    // A schema that cannot be compiled is never listed: counted as one misfit with its reason.
    writer.setOutputCheck(tool.server, tool.tool, JSON.stringify(compiled.ok ? check : { ...check, misfits: 1 }));
  }
}
