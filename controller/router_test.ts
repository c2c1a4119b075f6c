import assert from "node:assert/strict";
import { Router } from "./router.ts";
import { HttpError } from "./http_error.ts";

const router = new Router([
  { method: "GET", pattern: "/ctrl/c/:cluster/state", handler: "state" },
  { method: "POST", pattern: "/ctrl/b/revoke", handler: "revoke" },
  { method: "GET", pattern: "/ctrl/b/:backend", handler: "info" },
]);

Deno.test("Router.match() extracts decoded parameters", () => {
  const m = router.match("GET", "/ctrl/c/localhost%3A9090/state");
  assert.deepEqual(m, { kind: "found", handler: "state", params: { cluster: "localhost:9090" } });
  assert.equal(router.match("HEAD", "/ctrl/b/abc").kind, "found");
});

Deno.test("Router.match() prefers literal routes in table order and reports 405 and 404", () => {
  assert.deepEqual(router.match("POST", "/ctrl/b/revoke"), {
    kind: "found",
    handler: "revoke",
    params: {},
  });
  assert.deepEqual(router.match("DELETE", "/ctrl/b/abc"), {
    kind: "method_not_allowed",
    allowed: ["GET"],
    handlers: ["info"],
  });
  assert.deepEqual(router.match("GET", "/ctrl/c//state"), { kind: "not_found" });
  assert.deepEqual(router.match("GET", "/nope"), { kind: "not_found" });
});

Deno.test("Router.match() answers a malformed escape with a 400 HttpError", () => {
  assert.throws(
    () => router.match("GET", "/ctrl/b/%E0%A4%A"),
    (err) => err instanceof HttpError && err.status === 400,
  );
});

Deno.test("Router.match() answers a control character in a parameter with a 400 naming it", () => {
  for (const path of ["/ctrl/b/%00", "/ctrl/b/a%00b", "/ctrl/c/x%0Ay/state", "/ctrl/b/%7F"]) {
    assert.throws(
      () => router.match("GET", path),
      (err) =>
        err instanceof HttpError && err.status === 400 &&
        /must not contain control/.test(err.message),
      path,
    );
  }
});
