/** The table of `toolsim` commands, in the order help lists them. */
import type { Command } from './command.js';
import { explainCommand } from './explain.js';
import { ingestCommand } from './ingest.js';
import { llmCheckCommand } from './llm-check.js';
import { replayCommand } from './replay.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { statsCommand } from './stats.js';
import { toolsCommand } from './tools.js';

export const COMMANDS: Readonly<Record<string, Command>> = {
  ingest: ingestCommand,
  serve: serveCommand,
  explain: explainCommand,
  replay: replayCommand,
  tools: toolsCommand,
  stats: statsCommand,
  report: reportCommand,
  'llm-check': llmCheckCommand,
};
