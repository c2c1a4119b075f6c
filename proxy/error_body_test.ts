import assert from "node:assert/strict";
import {
  engineErrorMessage,
  errorBody,
  errorContent,
  errorPage,
  escapeHtml,
  prefersHtml,
} from "./error_body.ts";
import { ApiError } from "../shared/api_error.ts";

Deno.test("errorBody() is {id, kind, message} JSON for every status the proxy makes", () => {
  for (const status of [400, 403, 404, 405, 408, 410, 431, 500, 502, 503, 504, 505, 599]) {
    const body = JSON.parse(errorBody(status));
    assert.deepEqual(Object.keys(body), ["id", "kind", "message"], String(status));
    assert.equal(typeof body.id, "string");
    assert.ok(body.id.length > 0);
    assert.ok(body.message.includes(": "), `${status}: message names a fix: ${body.message}`);
  }
  assert.equal(JSON.parse(errorBody(410)).kind, "Gone");
  assert.equal(JSON.parse(errorBody(403, "Use the subdomain: x")).message, "Use the subdomain: x");
  assert.notEqual(JSON.parse(errorBody(400)).id, JSON.parse(errorBody(400)).id);
  // Kinds the controller also uses parse as its ApiError.
  assert.ok(ApiError.safeParse(JSON.parse(errorBody(400))).success);
  assert.ok(ApiError.safeParse(JSON.parse(errorBody(502))).success);
});

Deno.test("engineErrorMessage() names the framing problem for a 400", () => {
  assert.equal(
    engineErrorMessage(400, "both Content-Length and Transfer-Encoding"),
    "Cannot read the request: both Content-Length and Transfer-Encoding; " +
      "send one well-formed HTTP/1.1 request",
  );
  assert.equal(engineErrorMessage(408, "body timeout"), undefined);
  assert.equal(engineErrorMessage(400, ""), undefined);
});

const NAVIGATION = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif," +
  "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

Deno.test("prefersHtml() picks HTML only when text/html outranks application/json", () => {
  // A browser navigation (Chromium's Accept) and other explicit HTML requests.
  assert.equal(prefersHtml(NAVIGATION), true);
  assert.equal(prefersHtml("text/html"), true);
  assert.equal(prefersHtml(" TEXT/HTML ; q=0.5 , application/json;q=0.4"), true);
  assert.equal(prefersHtml("text/*"), true);
  // fetch() and XHR defaults, API clients, images (a favicon request), no Accept at all.
  assert.equal(prefersHtml(null), false);
  assert.equal(prefersHtml("*/*"), false);
  assert.equal(prefersHtml("application/json, text/plain, */*"), false);
  assert.equal(prefersHtml("application/json, text/html"), false);
  assert.equal(prefersHtml("image/avif,image/webp,image/apng,image/*,*/*;q=0.8"), false);
  assert.equal(prefersHtml("text/plain"), false);
  // The most specific range decides (RFC 9110 §12.5.1); q=0 means "not acceptable".
  assert.equal(prefersHtml("text/html;q=0, */*"), false);
  assert.equal(prefersHtml("text/html, application/*;q=0.2"), true);
  assert.equal(prefersHtml("*/*;q=0.1, text/html;q=0.1, application/json;q=0.5"), false);
  // A malformed weight or range is skipped, not trusted.
  assert.equal(prefersHtml("text/html;q=lots"), false);
  assert.equal(prefersHtml("text/html;q=2"), false);
  assert.equal(prefersHtml("html, text"), false);
});

Deno.test("errorContent() answers JSON by default and an HTML page to browsers", () => {
  const json = errorContent(410, { accept: "*/*" });
  assert.deepEqual(json.headers, [["Content-Type", "application/json"], ["Vary", "Accept"]]);
  assert.equal(JSON.parse(json.body).kind, "Gone");

  const html = errorContent(410, { accept: NAVIGATION });
  assert.deepEqual(html.headers, [
    ["Content-Type", "text/html; charset=utf-8"],
    ["Vary", "Accept"],
    ["Cache-Control", "no-store"],
    ["Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:"],
  ]);
  assert.match(html.body, /^<!doctype html>/);
  assert.match(html.body, /<title>Session ended<\/title>/);
  assert.match(html.body, /<h1>This session has ended<\/h1>/);
  assert.match(html.body, /Error 410 · id <code>[a-z0-9]+<\/code>/);
  assert.match(html.body, /connect again for a new connection URL/);
  // The page asks for nothing else: no favicon request, no external assets.
  assert.match(html.body, /<link rel="icon" href="data:,">/);
  assert.doesNotMatch(html.body, /(src|href)="(?!data:)/);
  assert.ok(new TextEncoder().encode(html.body).length < 2048, "the page is small");
});

Deno.test("errorPage() says in plain words what happened for each status", () => {
  const headings: [number, RegExp][] = [
    [410, /This session has ended/],
    [504, /This session is still starting/],
    [502, /This session cannot be reached/],
    [503, /This session cannot be reached/],
    [404, /Nothing is here/],
    [400, /This request could not be served/],
    [403, /This request could not be served/],
    [431, /This request could not be served/],
    [500, /Something went wrong/],
  ];
  for (const [status, heading] of headings) {
    const page = errorPage(status, { id: "abc123" });
    assert.match(page, heading, String(status));
    assert.ok(page.includes(`Error ${status} · id <code>abc123</code>`), String(status));
  }
  assert.match(errorPage(504, { id: "x" }), /Reload the page/);
});

Deno.test("errorPage() escapes everything it interpolates", () => {
  const page = errorPage(403, {
    id: `"><script>alert(1)</script>`,
    message: `Host not in this backend's cluster: use <b>"a&b"</b>`,
  });
  assert.doesNotMatch(page, /<script>|<b>/);
  assert.ok(page.includes("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(page.includes("backend&#39;s cluster: use &lt;b&gt;&quot;a&amp;b&quot;&lt;/b&gt;"));
  assert.equal(escapeHtml(`<a href='x'>&"`), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
});
