/**
 * MCP JSON-RPC traffic: JSON Lines of the messages between a client and one server (a line may
 * also be a batch array, or `{"message": {...}}` as some proxies log it). `tools/call` requests pair
 * with their responses by JSON-RPC id; the result is stored as the CallToolResult it is, so an MCP
 * replay is byte-faithful. `tools/list` results fill the catalog, the `initialize` result records
 * the server's identity. Server: `--server`, else the `serverInfo.name` of the initialize result.
 */
import { asArray, type Format, isObject, type NativeRecord, nativeTool, Pairing, type Reader, str } from './format.js';

const messageOf = (value: unknown): unknown =>
  isObject(value) && isObject(value['message']) && !('jsonrpc' in value) ? value['message'] : value;

function isJsonRpc(value: unknown): boolean {
  const message = messageOf(Array.isArray(value) ? value[0] : value);
  return isObject(message) && message['jsonrpc'] === '2.0';
}

export const mcpJsonRpc: Format = {
  name: 'mcp-jsonrpc',
  detect: isJsonRpc,
  reader(sink, options): Reader {
    const pairing = new Pairing(sink, 'mcp-jsonrpc');
    /** Methods of requests still waiting, by id: a response alone does not say what it answers. */
    const methods = new Map<string, string>();
    let recordedServer: string | undefined;
    const server = (): string | undefined => options.server ?? recordedServer;

    const message = (raw: unknown, line: number): void => {
      const m = messageOf(raw);
      if (!isObject(m)) return;
      const id = typeof m['id'] === 'string' || typeof m['id'] === 'number' ? String(m['id']) : undefined;
      if (id === undefined) return; // notifications carry no call or answer
      const method = str(m['method']);
      if (method !== undefined) {
        methods.set(id, method);
        if (method !== 'tools/call') return;
        const params = isObject(m['params']) ? m['params'] : {};
        const name = str(params['name']);
        if (name === undefined) {
          sink.problem('a tools/call request without "params.name"; not stored', line);
          methods.delete(id);
          return;
        }
        const call = { tool: name, arguments: params['arguments'] ?? {}, line };
        const where = server();
        pairing.call(id, where === undefined ? call : { ...call, server: where });
        return;
      }
      const asked = methods.get(id);
      methods.delete(id);
      if (isObject(m['error'])) {
        if (asked === 'tools/call') {
          const call = pairing.drop(id);
          sink.unpaired(
            `call ${JSON.stringify(id)} of ${call?.tool ?? '?'} got a JSON-RPC error (${String(m['error']['message'])}); not a tool result, not stored`,
            line,
          );
        }
        return;
      }
      const result = m['result'];
      if (!isObject(result)) return;
      if (asked === 'tools/call' || (asked === undefined && pairing.has(id))) {
        pairing.result(
          id,
          result,
          result['isError'] === true,
          line,
          isObject(result['_meta']) ? result['_meta']['toolsim/transient'] : undefined,
        );
      } else if (asked === 'tools/list' || (asked === undefined && Array.isArray(result['tools']))) {
        for (const tool of asArray(result['tools'])) {
          const name = isObject(tool) ? str(tool['name']) : undefined;
          if (name !== undefined && isObject(tool))
            sink.record(
              nativeTool(server(), name, tool['description'], tool['inputSchema'], {
                outputSchema: tool['outputSchema'],
                annotations: tool['annotations'],
              }),
              line,
            );
        }
      } else if (asked === 'initialize' || (asked === undefined && isObject(result['serverInfo']))) {
        const info = isObject(result['serverInfo']) ? result['serverInfo'] : {};
        recordedServer ??= str(info['name']);
        const where = server();
        const record: NativeRecord = { kind: 'server' };
        if (where !== undefined) record['server'] = where;
        for (const [field, value] of [
          ['name', info['name']],
          ['version', info['version']],
          ['instructions', result['instructions']],
          ['protocol_version', result['protocolVersion']],
        ] as const) {
          if (typeof value === 'string') record[field] = value;
        }
        sink.record(record, line);
      }
    };

    return {
      value(value, line) {
        if (Array.isArray(value)) for (const item of value) message(item, line);
        else message(value, line);
      },
      end() {
        pairing.flush();
        methods.clear();
      },
    };
  },
};
