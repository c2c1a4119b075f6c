/**
 * Test stand-ins for the official Jamsocket clients (jamsocket-api.md §6): the exact requests
 * they send (paths, cache-busting query strings, headers, bodies) and their parsing, strict
 * where theirs is — `isConnectResponse`, `isBackendState`, the CLI's exact content-type check
 * and error envelope, and the browser client's chunk-by-chunk SSE parsing.
 */

/** `@jamsocket/server`'s cache buster: a bare base-36 token, not `k=v`. */
function rand(): string {
  return Math.random().toString(36).slice(2);
}

/** `@jamsocket/server`'s error: `response.ok` false → status and statusText only. */
export class JamsocketHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "JamsocketHttpError";
  }
}

/** `@jamsocket/server` `isConnectResponse`. */
export function isConnectResponse(value: unknown): boolean {
  const v = value as Record<string, unknown>;
  return typeof v === "object" && v !== null && typeof v.backend_id === "string" &&
    typeof v.spawned === "boolean" && typeof v.status === "string" &&
    typeof v.token === "string" && typeof v.url === "string" &&
    typeof v.status_url === "string";
}

/** `@jamsocket/server` `isBackendState`: string `time`, optional fields never null. */
export function isBackendState(value: unknown): boolean {
  const v = value as Record<string, unknown>;
  if (typeof v !== "object" || v === null) return false;
  if (typeof v.status !== "string" || typeof v.time !== "string") return false;
  if ("termination_reason" in v && typeof v.termination_reason !== "string") return false;
  if ("termination_kind" in v && typeof v.termination_kind !== "string") return false;
  if ("exit_error" in v && typeof v.exit_error !== "boolean") return false;
  return true;
}

/** `@jamsocket/server` 1.x `new Jamsocket({account, token, service, apiUrl})`. */
export class ServerClient {
  constructor(
    readonly options: { apiUrl: string; account: string; service: string; token: string },
  ) {}

  /** `new Jamsocket({dev: true, port})`: localhost, and `-` for account, service and token. */
  static dev(port: number): ServerClient {
    return new ServerClient({
      apiUrl: `http://localhost:${port}`,
      account: "-",
      service: "-",
      token: "-",
    });
  }

  async connect(request?: unknown): Promise<Record<string, unknown>> {
    const { apiUrl, account, service, token } = this.options;
    const response = await fetch(
      `${apiUrl}/v2/service/${account}/${service}/connect?${rand()}`,
      {
        method: "POST",
        headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(request || {}),
      },
    );
    const body = await response.text();
    if (!response.ok) {
      throw new JamsocketHttpError(
        response.status,
        `Error connecting: ${response.status} ${response.statusText}`,
      );
    }
    const parsed = JSON.parse(body);
    if (!isConnectResponse(parsed)) throw new Error(`Invalid connect response: ${body}`);
    return parsed;
  }

  async status(backendId: string): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.options.apiUrl}/v2/backend/${backendId}/status?${rand()}`);
    const body = await response.text();
    if (!response.ok) {
      throw new JamsocketHttpError(response.status, `${response.status} ${response.statusText}`);
    }
    const parsed = JSON.parse(body);
    if (!isBackendState(parsed)) throw new Error(`Invalid backend state: ${body}`);
    return parsed;
  }
}

export interface StreamRead {
  entries: Record<string, unknown>[];
  /** Non-empty lines that were not `data:` lines ("Skipping message from SSE endpoint"). */
  skipped: string[];
  /** `data:` lines that were not JSON on their own (an event split across chunks). */
  parseErrors: string[];
  /** True when the server closed the stream. */
  ended: boolean;
  headers: Headers;
}

/**
 * `@jamsocket/client` 1.x: `fetch(status_url + "/stream?" + rand + "}")`, each received chunk
 * split on `\n`, each `data:` line parsed alone. Reads until `until` (or the end with null).
 */
export async function browserStatusStream(
  statusUrl: string,
  until: string | null,
  options: { suffix?: string } = {},
): Promise<StreamRead> {
  const response = await fetch(`${statusUrl}${options.suffix ?? "/stream"}?${rand()}}`, {
    mode: "cors",
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new JamsocketHttpError(response.status, `stream answered ${response.status}`);
  }
  const read: StreamRead = {
    entries: [],
    skipped: [],
    parseErrors: [],
    ended: false,
    headers: response.headers,
  };
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      read.ended = true;
      break;
    }
    let stop = false;
    for (const line of decoder.decode(value).split("\n")) {
      if (line.trim() === "") continue;
      if (!line.startsWith("data:")) {
        read.skipped.push(line);
        continue;
      }
      try {
        const entry = JSON.parse(line.slice(5).trim());
        read.entries.push(entry);
        const status = entry.status ?? entry.state;
        if (until !== null && status === until) stop = true;
      } catch {
        read.parseErrors.push(line);
      }
    }
    if (stop) break;
  }
  await reader.cancel().catch(() => {});
  return read;
}

/**
 * The CLI's request (`cli/src/lib/request.ts`): auth and identity headers, JSON with a
 * Content-Length, and the answer accepted only with `content-type === "application/json"`;
 * ≥ 400 is reported from the error envelope as `"{status} - {code}: {message} (id: {id})"`.
 */
export async function cliRequest(
  apiUrl: string,
  method: string,
  path: string,
  options: { token?: string; account?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown; error: string | null; code: string | null }> {
  const headers: Record<string, string> = {
    "Authorization": `Bearer ${options.token ?? "-"}`,
    "X-Jamsocket-Account": options.account ?? "-",
    "X-Jamsocket-User": "someone@example.com",
    "X-User-Host": "user@host",
    "User-Agent": "jamsocket-cli/0.10.2 linux-x64 node-20.0.0",
  };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] = "application/json";
    headers["Content-Length"] = String(new TextEncoder().encode(body).byteLength);
  }
  const response = await fetch(`${apiUrl}${path}`, { method, headers, ...(body ? { body } : {}) });
  const text = await response.text();
  if (response.headers.get("content-type") !== "application/json") {
    throw new Error(`Unexpected content-type: ${response.headers.get("content-type")}`);
  }
  const parsed = JSON.parse(text);
  if (response.status >= 400) {
    const e = parsed.error;
    if (
      typeof e !== "object" || typeof e.code !== "string" || typeof e.message !== "string" ||
      typeof e.id !== "string" || !("status" in e)
    ) {
      throw new Error(`Not an error envelope: ${text}`);
    }
    return {
      status: response.status,
      body: parsed,
      error: `${e.status} - ${e.code}: ${e.message} (id: ${e.id})`,
      code: e.code,
    };
  }
  return { status: response.status, body: parsed, error: null, code: null };
}
