/**
 * `deno bench -A bench/routing_bench.ts`: the whole routing side of one request on a cached route,
 * as the engine drives it: `decide()` (token cut, cache hit, Host check, identity headers),
 * then the response's `onResponse` and `responseHeaders` (keepalive count, CORS, `Server`,
 * `x-plane-backend-id`). Issue 13 asks for this path to be nearly free; compare against the
 * engine's own cost in `engine_bench.ts` and the floor row of `proxy.ts` (`deno task bench:proxy`).
 */
import { createProxy } from "../proxy/mod.ts";
import { startFakeController } from "../proxy/testing/fake_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { createLogger } from "../shared/log.ts";
import type { BackendName } from "../shared/names.ts";
import type { ForwardDecision, Header, RequestHead } from "../proxy/engine/types.ts";

const TOKEN = "tok123tok123tok123tok123tok123tok123tok1234";
const fake = startFakeController();
fake.routes.set(TOKEN, {
  "backend_id": "bench-backend" as BackendName,
  address: "127.0.0.1:1",
  "secret_token": "secret",
  cluster: "plane.test:9090",
  user: "ann",
  "user_data": { role: "editor", team: "bench" },
  subdomain: null,
});
const proxy = createProxy({
  cluster: "plane.test:9090",
  controllerUrl: fake.url,
  // The default level: nothing on this path may log.
  log: createLogger("proxy", { level: "info" }),
});
await waitFor(() => proxy.ready(), { message: "proxy ready" });
const HEAD: RequestHead = {
  method: "GET",
  target: `/${TOKEN}/app?x=1`,
  version: "1.1",
  headers: [["Host", "plane.test:9090"], ["User-Agent", "wrk"], ["Accept", "*/*"]],
};
const CONN = { remoteAddress: "127.0.0.1", tls: false };
const UPSTREAM: Header[] = [["content-type", "text/plain"], ["content-length", "12"]];
await proxy.decide(HEAD, CONN);

Deno.bench("decide() + onResponse + responseHeaders on a cached route", () => {
  const d = proxy.decide(HEAD, CONN) as ForwardDecision;
  d.onResponse?.(200);
  d.responseHeaders!(200, UPSTREAM);
});

globalThis.addEventListener("unload", () => {
  void proxy.close();
  void fake.close();
});
