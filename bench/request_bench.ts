/**
 * `deno bench bench/request_bench.ts`: the routing side's per-request header work, which runs
 * on every forwarded request (the forged-header filter reads every inbound field name).
 */
import { upstreamHeaders } from "../proxy/request.ts";
import type { Header, RequestHead } from "../proxy/engine/types.ts";
import type { RouteInfo } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

const BROWSER: Header[] = [
  ["Host", "plane.test"],
  ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"],
  ["Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
  ["Accept-Language", "en-US,en;q=0.9"],
  ["Accept-Encoding", "gzip, deflate, br"],
  ["Connection", "keep-alive"],
  ["Cookie", "session=abc123; theme=dark"],
  ["Upgrade-Insecure-Requests", "1"],
  ["Sec-Fetch-Dest", "document"],
  ["Sec-Fetch-Mode", "navigate"],
  ["Sec-Fetch-Site", "none"],
  ["X-Request-Id", "4bf92f3577b34da6a3ce929d0e0e4736"],
];
const HEAD: RequestHead = {
  method: "GET",
  target: "/abc123/app",
  version: "1.1",
  headers: BROWSER,
};
const ROUTE = {
  cluster: "plane.test",
  address: "127.0.0.1:8080",
  "backend_id": "backend123" as BackendName,
  "secret_token": "secret987",
  user: "auser123",
  "user_data": { access: "readonly" },
  subdomain: null,
} as unknown as RouteInfo;
const REQUEST = {
  kind: "route" as const,
  token: "abc123",
  upstreamTarget: "/app",
  path: "/abc123/app",
};
const CONN = { remoteAddress: "127.0.0.1", tls: false };

Deno.bench("upstreamHeaders: browser-like request (12 fields)", () => {
  upstreamHeaders(HEAD, CONN, REQUEST, ROUTE);
});
