/** JSON-RPC 2.0 methods: name -> handler returning a JSON-safe result. */
export type RpcMethods = Readonly<Record<string, (params: unknown) => unknown>>;

/**
 * An error a JSON-RPC method throws to answer with its own code (`-32602` for invalid params) instead of
 * `-32603 Internal error`.
 *
 * @example
 * ```ts
 * throw new RpcError(-32602, "Invalid params: several instances, name one", { instances: ["logs-db", "jobs-db"] });
 * ```
 */
export class RpcError extends Error {
  readonly rpcCode: number;
  readonly data: unknown;
  constructor(rpcCode: number, message: string, data?: unknown) {
    super(message);
    this.name = "RpcError";
    this.rpcCode = rpcCode;
    this.data = data;
  }
}

interface RpcResponse {
  jsonrpc: "2.0";
  id: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export async function handleRpc(body: unknown, methods: RpcMethods): Promise<RpcResponse | RpcResponse[]> {
  if (Array.isArray(body)) {
    if (body.length === 0) return failure(null, -32600, "Invalid Request: empty batch");
    return Promise.all(body.map((call) => handleOne(call, methods)));
  }
  return handleOne(body, methods);
}

async function handleOne(call: unknown, methods: RpcMethods): Promise<RpcResponse> {
  const request = call as { jsonrpc?: unknown; method?: unknown; id?: unknown; params?: unknown } | null;
  const id = typeof request?.id === "string" || typeof request?.id === "number" ? request.id : null;
  if (!request || typeof request !== "object" || request.jsonrpc !== "2.0" || typeof request.method !== "string") {
    return failure(id, -32600, "Invalid Request: expected {jsonrpc: \"2.0\", method, id}");
  }
  const method = Object.hasOwn(methods, request.method) ? methods[request.method] : undefined;
  if (!method) return failure(id, -32601, `Method not found: ${request.method}`, { methods: Object.keys(methods) });
  try {
    return { jsonrpc: "2.0", id, result: await method(request.params) };
  } catch (err) {
    if (err instanceof RpcError) return failure(id, err.rpcCode, err.message, err.data);
    return failure(id, -32603, "Internal error", { message: (err as Error).message });
  }
}

function failure(id: string | number | null, code: number, message: string, data?: unknown): RpcResponse {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}
