/**
 * Issue 12 item 3 through a real `plane proxy`: a browser that opens a dead session URL, a
 * session still starting past the proxy's wait, or asks for `/favicon.ico` gets a page saying
 * so in plain words (API clients keep the JSON error), and `/favicon.ico` is a quiet 404: no
 * route lookup, no warning in the proxy's log. The page in a real Chromium is in
 * `browser_test.ts`.
 */
import assert from "node:assert/strict";
import { type PlaneCluster, startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";

/** Chromium's Accept for a page navigation, and for a favicon. */
const NAVIGATION = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif," +
  "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
const FAVICON = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

async function get(url: string, accept: string) {
  const res = await fetch(url, { headers: { accept } });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function loud(cluster: PlaneCluster) {
  return cluster.proxy!.logs.filter((l) => l.level === "warn" || l.level === "error");
}

Deno.test("proxy error pages: a dead session URL is a page for browsers and JSON for API clients; /favicon.ico is a quiet 404", async () => {
  await using cluster = await startPlaneCluster({ logLevel: "debug" });

  // A browser asks every page's origin for its icon: no token can be `favicon.ico`.
  const icon = await get(`${cluster.proxyUrl}/favicon.ico`, FAVICON);
  assert.equal(icon.status, 404, icon.body);
  assert.equal(icon.headers.get("content-type"), "application/json");
  assert.equal(JSON.parse(icon.body).kind, "NotFound");
  assert.match(JSON.parse(icon.body).message, /rel="icon"/);
  assert.equal(icon.headers.get("access-control-allow-origin"), "*");
  assert.match(icon.headers.get("server") ?? "", /^Plane\//);
  const iconPage = await get(`${cluster.proxyUrl}/favicon.ico`, NAVIGATION);
  assert.equal(iconPage.status, 404);
  assert.match(iconPage.body, /Nothing is here/);
  assert.deepEqual(loud(cluster), [], "no warning or error for /favicon.ico");

  const connected = await cluster.connectReady({
    key: { name: "error-pages" },
    "spawn_config": { executable: { image: "echo" } },
  });
  const url = String(connected.url);
  assert.equal((await get(url, NAVIGATION)).status, 200);
  const terminated = await cluster.api(`/ctrl/b/${connected.backend_id}/hard-terminate`, {
    method: "POST",
  });
  assert.equal(terminated.status, 200, await terminated.text());
  let dead = await get(url, NAVIGATION);
  await waitFor(async () => (dead = await get(url, NAVIGATION)).status === 410, {
    message: "the proxy to answer 410 for the terminated session",
  });
  assert.equal(dead.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(dead.headers.get("cache-control"), "no-store");
  assert.equal(dead.headers.get("vary"), "Accept");
  assert.equal(dead.headers.get("access-control-allow-origin"), "*");
  assert.match(dead.headers.get("server") ?? "", /^Plane\//);
  assert.match(dead.body, /<title>Session ended<\/title>/);
  assert.match(dead.body, /<h1>This session has ended<\/h1>/);
  assert.match(dead.body, /Error 410 · id <code>[a-z0-9]+<\/code>/);

  const api = await get(url, "*/*");
  assert.equal(api.status, 410);
  assert.equal(api.headers.get("content-type"), "application/json");
  assert.equal(JSON.parse(api.body).kind, "Gone");
  assert.deepEqual(loud(cluster), [], "a dead session is no warning either");
});

Deno.test("proxy error pages: a session still starting past --route-wait-seconds says so to a browser", async () => {
  await using cluster = await startPlaneCluster({ proxyArgs: ["--route-wait-seconds", "1"] });
  const connected = await cluster.connect({ "spawn_config": { executable: { image: "silent" } } });
  assert.equal(connected.status, 200, JSON.stringify(connected.body));
  const page = await get(String(connected.body.url), NAVIGATION);
  assert.equal(page.status, 504, page.body);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(page.body, /<h1>This session is still starting<\/h1>/);
  assert.match(page.body, /Reload the page to try again/);
});
