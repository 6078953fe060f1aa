/** Tool names as agents' protocols spell them. */

/** `mcp__<server>__<tool>` names (Claude Code, Anthropic MCP) carry their server. */
export function splitName(name: string): { server?: string; tool: string } {
  const match = /^mcp__(.+?)__(.+)$/s.exec(name);
  return match ? { server: match[1]!, tool: match[2]! } : { tool: name };
}
