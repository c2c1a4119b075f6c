/**
 * The newcomer's example page in a real browser: a local dev cluster (`startDev`, local-process
 * runtime), a connect through the controller API, then headless Chromium (Debian's `chromium`
 * package, driven by `playwright-core`) opens the returned URL through the proxy and must show a
 * working WebSocket round trip. The screenshot goes to `bench_out/example_page.png`. Then the
 * same URL once its session has ended, through `plane` processes (issue 12 item 3): the
 * proxy's page must say so (`bench_out/session_ended_page.png`).
 *
 * Chromium's own network chatter is switched off and every hostname but `localhost` fails to
 * resolve, so all traffic stays on loopback. Without `/usr/bin/chromium` the test is ignored
 * (and says so), unless `PLANE_REQUIRE_BROWSER=1` (`.ci/run`), where it fails.
 */
import assert from "node:assert/strict";
import { startDev } from "../cli/dev_command.ts";
import { waitFor } from "../testing/wait_for.ts";
import { startPlaneCluster } from "./plane_process.ts";
import {
  type BrowserContext,
  CHROMIUM,
  chromiumLeft,
  chromiumMissing,
  isPng,
  launchChromium,
  ourChromium,
  type Process,
  REQUIRE_BROWSER,
  SCREENSHOT_DIR,
} from "./chromium.ts";
import { freePort } from "../testing/free_port.ts";

const SCREENSHOT = `${SCREENSHOT_DIR}example_page.png`;
const ENDED_SCREENSHOT = `${SCREENSHOT_DIR}session_ended_page.png`;

const missing = await chromiumMissing("browser test");

/** The fields of `GET /ctrl/c/{cluster}/state` drones this test reads. */
interface DroneState {
  ready: boolean;
  draining: boolean;
  "last_heartbeat_age": number | null;
}

Deno.test({
  name: `example page in headless Chromium through the proxy: WebSocket round trip, screenshot${
    missing ? ` (not run: ${CHROMIUM} is missing)` : ""
  }`,
  ignore: missing && !REQUIRE_BROWSER,
  async fn() {
    const data = await Deno.makeTempDir({ prefix: "plane-browser-test-" });
    // A fresh profile, and a home of its own so Chromium writes nothing under ~/.config.
    const root = await Deno.makeTempDir({ prefix: "plane-browser-" });
    const dev = await startDev({
      port: freePort(),
      proxyPort: freePort(),
      runtime: "local",
      data,
      logLevel: "error",
    });
    let context: BrowserContext | null = null;
    let seen: Process[] = [];
    let left: Process[] = [];
    try {
      // dev is up once its drone has registered; it is schedulable after its first heartbeat.
      await waitFor(async () => {
        const state = await (await fetch(`${dev.controller.url}/ctrl/c/${dev.cluster}/state`))
          .json() as { drones: DroneState[] };
        return state.drones.some((d) => d.ready && !d.draining && d.last_heartbeat_age !== null);
      }, { timeoutMs: 30_000, message: "the dev drone to be schedulable" });
      const connect = await fetch(`${dev.controller.url}/ctrl/connect`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ "spawn_config": { executable: { image: dev.image } } }),
      });
      const body = await connect.json();
      assert.equal(connect.status, 200, JSON.stringify(body));
      const { url, "backend_id": backendId } = body as { url: string; backend_id: string };
      assert.match(url, new RegExp(`^http://${dev.cluster}/`), "the URL goes through the proxy");

      const status = await fetch(
        `${dev.controller.url}/pub/b/${backendId}/status?wait=ready&timeout=30`,
      );
      assert.equal((await status.json()).status, "ready");

      context = await launchChromium(root, { width: 900, height: 500 });
      const page = context.pages()[0] ?? await context.newPage();
      const response = await page.goto(url, { timeout: 30_000 });
      assert.equal(response?.status(), 200);
      // The page sets data-round-trip="ok" once the backend's WebSocket echo came back.
      await page.waitForSelector('body[data-round-trip="ok"]', { timeout: 30_000 });

      assert.equal(await page.textContent("#backend"), backendId);
      const text = await page.innerText("body");
      assert.match(text, /round trip OK \(\d+(\.\d+)? ms\)/);
      assert.ok(
        text.includes(`Backend ${backendId} echoed: ping from the browser`),
        `the page shows the backend's echo:\n${text}`,
      );
      assert.equal(await page.title(), `Plane session ${backendId}`);
      // Browser, zygotes, renderers, utilities, crash handlers: all must be gone after close().
      seen = await ourChromium(root);
      assert.ok(seen.length > 1, "Chromium's processes are found");

      await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      const png = await isPng(SCREENSHOT);
      assert.ok(png.signature, `${SCREENSHOT} is a PNG`);
      assert.ok(png.size > 4_096, `${SCREENSHOT} is ${png.size} bytes, expected a real page`);
    } finally {
      await context?.close();
      await dev.stop();
      await Deno.remove(data, { recursive: true });
      left = await chromiumLeft(root, seen);
    }
    assert.deepEqual(left.map((p) => `${p.pid} ${p.args.slice(0, 120)}`), [], "no Chromium left");
  },
});

Deno.test({
  name: `dead session URL in headless Chromium: the proxy's page says the session ended${
    missing ? ` (not run: ${CHROMIUM} is missing)` : ""
  }`,
  ignore: missing && !REQUIRE_BROWSER,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "plane-browser-" });
    await using cluster = await startPlaneCluster();
    let context: BrowserContext | null = null;
    let seen: Process[] = [];
    let left: Process[] = [];
    try {
      const connected = await cluster.connectReady({
        key: { name: "dead-url" },
        "spawn_config": { executable: { image: "echo" } },
      });
      const url = String(connected.url);
      const terminated = await cluster.api(`/ctrl/b/${connected.backend_id}/hard-terminate`, {
        method: "POST",
      });
      assert.equal(terminated.status, 200, await terminated.text());
      await waitFor(async () => {
        const res = await fetch(url);
        await res.body?.cancel();
        return res.status === 410;
      }, { message: "the proxy to answer 410 for the terminated session" });

      context = await launchChromium(root, { width: 900, height: 500 });
      const page = context.pages()[0] ?? await context.newPage();
      const response = await page.goto(url, { timeout: 30_000 });
      assert.equal(response?.status(), 410);
      assert.equal(await response?.headerValue("content-type"), "text/html; charset=utf-8");
      // Plane's empty 410 was a blank "This page can't be found" in Chromium.
      assert.equal(await page.title(), "Session ended");
      const text = await page.innerText("body");
      assert.ok(text.includes("This session has ended"), `the page says so:\n${text}`);
      assert.ok(text.includes("Go back to the app to start a new session"), text);
      assert.match(text, /Error 410 · id [a-z0-9]+/);
      // The page names its own icon, so the browser asks the proxy for no /favicon.ico.
      assert.equal(await page.getAttribute('link[rel="icon"]', "href"), "data:,");
      seen = await ourChromium(root);

      await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: ENDED_SCREENSHOT, fullPage: true });
      const png = await isPng(ENDED_SCREENSHOT);
      assert.ok(png.signature, `${ENDED_SCREENSHOT} is a PNG`);
      assert.ok(png.size > 4_096, `${ENDED_SCREENSHOT} is ${png.size} bytes, expected a page`);
    } finally {
      await context?.close();
      left = await chromiumLeft(root, seen);
    }
    assert.deepEqual(left.map((p) => `${p.pid} ${p.args.slice(0, 120)}`), [], "no Chromium left");
  },
});
