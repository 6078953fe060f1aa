/**
 * The output shapes of one snapshot's tools, and their declared output schemas compiled: what the
 * guard holds an improvised answer to (src/shapes/guard.ts). Like the neighbour index, a tool's
 * shape is learnt the first time the tool is asked about, in the neighbour index worker when the
 * source is a cache file (reading and parsing every recorded answer of a 100k-call tool takes
 * seconds), then kept for the snapshot's life: bounded per tool (shape.ts), one per tool.
 */
import type { JsonObject, ToolInfo } from '../core/types.js';
import type { CompiledSchema, Guide } from '../shapes/guard.js';
import { learnFromStored, type StoredAnswer } from '../shapes/learn.js';
import type { OutputShape } from '../shapes/shape.js';
import { askIndexWorker } from './neighbor-index.js';
import type { ShapeReply, ShapeRequest } from './shape-task.js';

/** Where recorded answers come from (the Store). */
export interface AnswerSource {
  outputsOf(server: string, tool: string): Iterable<StoredAnswer>;
  /** The cache file, when there is one: the worker thread then reads it on its own. */
  readonly path?: string;
  readonly snapshotId?: string;
}

/** What the guard needs of one tool, once its shape is learnt. */
export interface ToolGuide extends Guide {
  /** The learnt shape (also when a declared schema is what guards successes: errors use it). */
  shape: OutputShape;
  /** Why a declared output schema does not guard the tool (it cannot be compiled). */
  schemaProblem?: string;
}

export class OutputShapes {
  readonly #source: AnswerSource;
  readonly #declared = new Map<string, JsonObject>();
  readonly #guides = new Map<string, ToolGuide>();
  readonly #learning = new Map<string, Promise<void>>();
  /** Shapes learnt by `shapeNow` before their guide was ready. */
  readonly #learnt = new Map<string, OutputShape>();
  readonly #worker: boolean;

  constructor(source: AnswerSource, tools: readonly ToolInfo[], options: { worker?: boolean } = {}) {
    this.#source = source;
    this.#worker = options.worker ?? true;
    for (const t of tools) if (t.output_schema) this.#declared.set(toolId(t.server, t.tool), t.output_schema);
  }

  /** The tool's guide, once `ready` has resolved for it. */
  guideOf(server: string, tool: string): ToolGuide | undefined {
    return this.#guides.get(toolId(server, tool));
  }

  isReady(server: string, tool: string): boolean {
    return this.#guides.has(toolId(server, tool));
  }

  /**
   * The tool's learnt shape now: from its guide when `ready` has resolved, else learnt here and now
   * on this thread (commands; a server awaits `ready` first) and kept for `ready` to complete.
   */
  shapeNow(server: string, tool: string): OutputShape {
    const id = toolId(server, tool);
    const known = this.#guides.get(id)?.shape ?? this.#learnt.get(id);
    if (known) return known;
    const shape = learnFromStored(this.#source.outputsOf(server, tool));
    this.#learnt.set(id, shape);
    return shape;
  }

  /** Resolves once the tool's shape is learnt (off the event loop for a cache file); concurrent callers share one. */
  ready(server: string, tool: string): Promise<void> {
    const id = toolId(server, tool);
    if (this.#guides.has(id)) return Promise.resolve();
    let learning = this.#learning.get(id);
    if (!learning) {
      learning = this.#learn(server, tool).finally(() => this.#learning.delete(id));
      this.#learning.set(id, learning);
    }
    return learning;
  }

  async #learn(server: string, tool: string): Promise<void> {
    const id = toolId(server, tool);
    const path = this.#source.path;
    let shape: OutputShape | undefined = this.#learnt.get(id);
    if (!shape && this.#worker && path !== undefined && path !== ':memory:' && path !== '') {
      const request: Omit<ShapeRequest, 'id'> = { task: 'shape', path, snapshotId: this.#source.snapshotId, server, tool };
      const reply = (await askIndexWorker(request)) as ShapeReply | undefined;
      if (reply && 'shape' in reply) shape = reply.shape;
    }
    // No worker (no file, a worker that died, or a file that moved on): learnt here.
    shape ??= learnFromStored(this.#source.outputsOf(server, tool));
    const guide: ToolGuide = { shape };
    const declared = this.#declared.get(id);
    if (declared) {
      // Ajv is loaded only for caches that declare output schemas.
      const { compileSchema } = await import('../shapes/schema-guard.js');
      const compiled = compileSchema(declared);
      if (compiled.ok) guide.schema = compiled.schema as CompiledSchema;
      else guide.schemaProblem = compiled.reason;
    }
    this.#guides.set(id, guide);
  }
}

const toolId = (server: string, tool: string): string => JSON.stringify([server, tool]);
