/** The transcript formats `toolsim ingest --format` reads, in the order `auto` tries them. */
import { anthropic } from './anthropic.js';
import { claudeCode } from './claude-code.js';
import type { Format } from './format.js';
import { hermes } from './hermes.js';
import { mcpJsonRpc } from './mcp-jsonrpc.js';
import { openAiChat } from './openai-chat.js';
import { openAiResponses } from './openai-responses.js';
import { toolsim } from './toolsim.js';

// Most specific first: a Claude Code line holds an Anthropic message; Hermes text may sit in `messages`.
export const FORMATS: readonly Format[] = [toolsim, mcpJsonRpc, claudeCode, openAiResponses, anthropic, openAiChat, hermes];

export const FORMAT_NAMES = ['auto', ...FORMATS.map((f) => f.name)] as const;

export function formatNamed(name: string): Format | undefined {
  return FORMATS.find((f) => f.name === name);
}

/** The format a value looks like, or undefined. */
export function detectFormat(value: unknown): Format | undefined {
  return FORMATS.find((f) => f.detect(value));
}
