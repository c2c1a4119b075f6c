import assert from "node:assert/strict";
import { startTestController } from "../testing/test_controller.ts";

Deno.test("dashboard: page and assets are served with a strict CSP and no framing", async () => {
  await using t = await startTestController({ apiKeys: ["dashboard-test-key"] });
  for (
    const [path, type] of [
      ["/dashboard", "text/html; charset=utf-8"],
      ["/dashboard/", "text/html; charset=utf-8"],
      ["/dashboard/app.js", "text/javascript; charset=utf-8"],
      ["/dashboard/app.css", "text/css; charset=utf-8"],
    ] as const
  ) {
    // No key needed: the files hold no data (the API calls they make are authenticated).
    const response = await t.request(path);
    const text = await response.text();
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), type);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, "no inline or eval script");
    assert.match(csp, /style-src 'self'(;|$)/, "no inline style");
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(response.headers.get("x-frame-options"), "DENY");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.ok(text.length > 100, `${path} has content`);
  }
  const page = await (await t.request("/dashboard")).text();
  assert.doesNotMatch(page, /<script(?![^>]*\bsrc=)/, "no inline script in the page");
  assert.doesNotMatch(page, /\sstyle=/, "no inline style attribute");
  const script = await (await t.request("/dashboard/app.js")).text();
  assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  const head = await t.request("/dashboard", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
});
