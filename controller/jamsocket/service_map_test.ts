import assert from "node:assert/strict";
import { imageForTag, resolveService, ServiceConfig, ServiceMap } from "./service_map.ts";
import { buildExecutable, toPlaneConnectRequest } from "./connect.ts";
import { HttpError } from "../http_error.ts";

const MAP = ServiceMap.parse({
  "acme/editor": { image: "registry.example/acme/editor:1" },
  "acme/editor/staging": { image: "registry.example/acme/editor:staging" },
  "acme/notebook": { image: "notebook", env: { MODE: "service" } },
});

Deno.test("resolveService() finds account/service[/environment] and namespaces keys by it", () => {
  const found = resolveService(MAP, { account: "acme", service: "editor" }, { devMode: false });
  assert.ok(found.ok);
  assert.equal(found.service.namespace, "acme/editor");
  assert.equal(found.service.config.max_idle_seconds, 300, "the default idle limit");
  const env = resolveService(MAP, {
    account: "acme",
    service: "editor",
    environment: "staging",
  }, { devMode: false });
  assert.ok(env.ok);
  assert.equal(env.service.environment, "staging");
  const missing = resolveService(MAP, { account: "acme", service: "x" }, { devMode: false });
  assert.ok(!missing.ok);
  assert.equal(missing.error.code, "ServiceNotFound");
  const bad = resolveService(MAP, { account: "a/b", service: "c" }, { devMode: true });
  assert.ok(!bad.ok);
});

Deno.test("resolveService() accepts the dev placeholder only in dev mode, and only unambiguously", () => {
  const refused = resolveService(MAP, { account: "-", service: "-" }, { devMode: false });
  assert.ok(!refused.ok);
  assert.equal(refused.error.code, "DevModeUnavailable");
  const ambiguous = resolveService(MAP, { account: "-", service: "-" }, { devMode: true });
  assert.ok(!ambiguous.ok);
  assert.equal(ambiguous.error.code, "AmbiguousService");
  const one = resolveService(MAP, { account: "-", service: "notebook" }, { devMode: true });
  assert.ok(one.ok);
  assert.equal(one.service.namespace, "acme/notebook");
  const exact = resolveService(
    { ...MAP, "-/-": ServiceConfig.parse({ image: "dev" }) },
    { account: "-", service: "-" },
    { devMode: true },
  );
  assert.ok(exact.ok);
  assert.equal(exact.service.config.image, "dev");
});

Deno.test("imageForTag() prefers the tags map, else swaps the tag or digest", () => {
  const config = ServiceConfig.parse({
    image: "localhost:5000/acme/editor:1",
    tags: { beta: "other:beta" },
  });
  assert.equal(imageForTag(config, undefined), "localhost:5000/acme/editor:1");
  assert.equal(imageForTag(config, "beta"), "other:beta");
  assert.equal(imageForTag(config, "2"), "localhost:5000/acme/editor:2");
  assert.equal(imageForTag(config, "sha256:abc"), "localhost:5000/acme/editor@sha256:abc");
  assert.equal(imageForTag(ServiceConfig.parse({ image: "echo" }), "v2"), "echo:v2");
});

Deno.test("ServiceMap refuses bad keys and reserved env names", () => {
  assert.ok(!ServiceMap.safeParse({ "just-a-service": { image: "x" } }).success);
  assert.ok(!ServiceMap.safeParse({ "a/b": { image: "x", env: { PORT: "1" } } }).success);
  assert.ok(!ServiceMap.safeParse({ "a/b": {} }).success);
});

Deno.test("toPlaneConnectRequest() maps a Jamsocket connect onto Plane's, idle 300 when absent", () => {
  const found = resolveService(MAP, { account: "acme", service: "notebook" }, { devMode: false });
  assert.ok(found.ok);
  const request = toPlaneConnectRequest(found.service, {
    key: "doc",
    spawn: { executable: { env: { USER_VAR: "1", MODE: "user" }, mount: true } },
    user: "ann",
    auth: { a: 1 },
  });
  assert.deepEqual(request.key, { name: "doc", namespace: "acme/notebook", tag: "notebook" });
  assert.equal(request.spawn_config?.max_idle_seconds, 300);
  assert.deepEqual(request.spawn_config?.executable, {
    image: "notebook",
    env: { MODE: "user", "USER_VAR": "1", "JAMSOCKET_SERVICE": "notebook" },
    mount: true,
  });
  assert.equal(request.user, "ann");
  const noSpawn = toPlaneConnectRequest(found.service, {
    key: "doc",
    spawn: false,
    user: null,
    auth: {},
  });
  assert.equal(noSpawn.spawn_config, null);
  assert.throws(
    () => buildExecutable(found.service, { executable: { env: { "SESSION_BACKEND_ID": "x" } } }),
    (err) => err instanceof HttpError && err.kind === "ReservedEnvironmentVariable",
  );
});
