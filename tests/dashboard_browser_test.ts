/**
 * The web dashboard (decisions.md §3.10, issue 15) in headless Chromium against a real
 * cluster run as users run it (`plane controller|drone|proxy` subprocesses with deno.json's
 * permissions, the controller behind an API key): log in with the key, drain and undrain the
 * drone, watch a backend the test creates appear and go to `ready` on the backends page without
 * a reload, open it, see its history and log lines and its usage chart, terminate it with the
 * button and see `terminated`. Its key and a log line are HTML (`<img onerror>`): they must show
 * as text and run nothing. Screenshots of the three pages go to `bench_out/dashboard_*.png`.
 */
import assert from "node:assert/strict";
import {
  type BrowserContext,
  chromiumLeft,
  chromiumMissing,
  isPng,
  launchChromium,
  ourChromium,
  type Process,
  REQUIRE_BROWSER,
  SCREENSHOT_DIR,
} from "./chromium.ts";
import { defaultImages, startPlaneCluster } from "./plane_process.ts";
import { RECORD_STATUSES, SLOW_IMAGE } from "./dashboard_scenario.ts";

const KEY = "dashboard-browser-test-key";
/** HTML in a key name and a log line: shown as text, never run (`window.pwned` stays unset). */
const XSS_KEY = `<img src=x onerror="window.pwned=1">dash-key`;
const XSS_LINE = `<img src=x onerror="window.pwned=2">log-line`;

const missing = await chromiumMissing("dashboard browser test");

async function screenshot(page: Awaited<ReturnType<BrowserContext["newPage"]>>, name: string) {
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}${name}`;
  await page.screenshot({ path, fullPage: true });
  const png = await isPng(path);
  assert.ok(png.signature, `${path} is a PNG`);
  assert.ok(png.size > 4_096, `${path} is ${png.size} bytes, expected a real page`);
}

Deno.test({
  name: `dashboard in headless Chromium: log in, drain, a backend goes ready live, its logs, ` +
    `terminate with the button; screenshots${missing ? " (not run: Chromium is missing)" : ""}`,
  ignore: missing && !REQUIRE_BROWSER,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "plane-dashboard-" });
    await using cluster = await startPlaneCluster({
      apiKeys: [KEY],
      images: {
        ...defaultImages(),
        slow: SLOW_IMAGE,
      },
    });
    let context: BrowserContext | null = null;
    let seen: Process[] = [];
    let left: Process[] = [];
    try {
      context = await launchChromium(root, { width: 1100, height: 720 });
      const page = context.pages()[0] ?? await context.newPage();
      // Script errors and CSP violations (reported on the console) fail the test.
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(String(err)));
      page.on("console", (message) => {
        // Chromium logs each 401 as a failed load: the probe before login and the wrong key.
        if (message.type() === "error" && !/status of 401/.test(message.text())) {
          errors.push(message.text());
        }
      });

      // Chromium resolves only `localhost` (CHROMIUM_ARGS), IP literals included.
      const dashboard = `${cluster.controllerUrl.replace("127.0.0.1", "localhost")}/dashboard`;
      const response = await page.goto(dashboard);
      assert.equal(response?.status(), 200);
      assert.equal(await response?.headerValue("x-frame-options"), "DENY");

      // Log in: a wrong key is refused on the form, the right one opens the cluster page.
      await page.getByLabel("API key").fill("not-the-key");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByText("That key is not accepted.").waitFor();
      await page.getByLabel("API key").fill(KEY);
      await page.getByRole("button", { name: "Log in" }).click();

      // Cluster page: the drone, ready; drain and undrain it with the buttons.
      const droneName = cluster.droneName!;
      const row = page.locator(`#drones tr[data-drone="${droneName}"]`);
      await row.waitFor();
      assert.match(await row.innerText(), /\(default\)\s+ready/);
      await page.getByRole("button", { name: `Drain ${droneName}` }).click();
      await row.getByText("draining").waitFor();
      const state = await (await cluster.api(`/ctrl/c/${cluster.cluster}/state`)).json();
      assert.equal(state.drones[0].draining, true, "the button drained the drone");
      await page.getByRole("button", { name: `Undrain ${droneName}` }).click();
      await row.getByText("ready").waitFor();
      await screenshot(page, "dashboard_cluster.png");

      // Backends page: record each row's statuses as the page redraws them, then create one.
      await page.getByRole("link", { name: "Backends" }).click();
      await page.locator("#backend-count", { hasText: "of 0 backends" }).waitFor();
      await page.evaluate(RECORD_STATUSES);
      const connected = await cluster.connect({
        key: { name: XSS_KEY },
        "spawn_config": { executable: { image: "slow" } },
      });
      assert.equal(connected.status, 200, JSON.stringify(connected.body));
      const id = String(connected.body.backend_id);
      await page.locator(`tr[data-backend="${id}"] [data-status="ready"]`).waitFor({
        timeout: 30_000,
      });
      const statuses = await page.evaluate(
        (id) => (window as unknown as { seen: Record<string, string[]> }).seen[id],
        id,
      );
      assert.ok(statuses && statuses.length >= 2, `seen live: ${statuses}`);
      assert.notEqual(statuses[0], "ready", `first seen before ready: ${statuses}`);
      assert.equal(statuses.at(-1), "ready");
      assert.equal(
        await page.evaluate(() => (window as unknown as { loaded?: boolean }).loaded),
        true,
        "the page was not reloaded",
      );
      const backendRow = page.locator(`tr[data-backend="${id}"]`);
      assert.ok((await backendRow.innerText()).includes(XSS_KEY), "the key shows as text");
      // Filters: status, key, drone.
      await page.getByLabel("Status").selectOption("terminated");
      await backendRow.waitFor({ state: "detached" });
      await page.getByLabel("Status").selectOption("ready");
      await page.getByLabel("Key contains").fill("dash-key");
      await page.getByLabel("Drone contains").fill(droneName.slice(3));
      await backendRow.waitFor();
      await page.getByLabel("Drone contains").fill("no-such-drone");
      await backendRow.waitFor({ state: "detached" });
      await page.getByLabel("Drone contains").fill("");
      await backendRow.waitFor();
      await screenshot(page, "dashboard_backends.png");

      // One backend: status history, logs (an HTML line stays text), usage chart.
      await backendRow.getByRole("link", { name: id }).click();
      await page.locator('#current-status [data-status="ready"]').waitFor();
      for (const status of ["scheduled", "ready"]) {
        await page.locator(`#history li[data-status="${status}"]`).waitFor();
      }
      await page.locator("#logs li", { hasText: "listening on" }).waitFor({ timeout: 15_000 });
      const printed = await fetch(
        new URL(`print?text=${encodeURIComponent(XSS_LINE)}`, String(connected.body.url)),
      );
      assert.equal(await printed.text(), "printed");
      await page.locator("#logs li", { hasText: XSS_LINE }).waitFor({ timeout: 15_000 });
      assert.equal(await page.locator("#logs img, #backends img, main img").count(), 0);
      // Drones sample every 10 s (plane-0.5.md §3.8); the cluster page started listening.
      await page.locator("#usage svg").first().waitFor({ timeout: 30_000 });
      seen = await ourChromium(root);
      await screenshot(page, "dashboard_backend.png");

      // Terminate with the button; the status follows live.
      await page.getByRole("button", { name: "Soft terminate" }).click();
      await page.locator('#current-status [data-status="terminated"]').waitFor({
        timeout: 30_000,
      });
      await page.locator('#history li[data-status="terminated"]').waitFor();
      assert.equal(await page.getByRole("button", { name: "Soft terminate" }).isDisabled(), true);
      assert.equal(await page.getByRole("button", { name: "Hard terminate" }).isDisabled(), true);
      const info = await (await cluster.api(`/ctrl/b/${id}`)).json();
      assert.equal(info.status, "terminated");

      assert.equal(
        await page.evaluate(() => (window as unknown as { pwned?: number }).pwned),
        undefined,
        "no HTML from the API ran",
      );
      assert.deepEqual(errors, [], "no script errors or CSP violations");
    } finally {
      await context?.close();
      left = await chromiumLeft(root, seen);
    }
    assert.deepEqual(left.map((p) => `${p.pid} ${p.args.slice(0, 120)}`), [], "no Chromium left");
  },
});
