/**
 * The web dashboard (decisions.md §3.10, issue 15: it "works in Chromium and Firefox") in
 * headless Firefox, driven over WebDriver BiDi (`firefox.ts`), against a real cluster run as
 * users run it (`plane controller|drone|proxy` subprocesses with deno.json's permissions, the
 * controller behind an API key): log in with the key, watch a backend the test creates go to
 * `ready` on the backends page without a reload, open it, see its log lines, terminate it with
 * the button and see `terminated`, with no script error or CSP violation on the way. The
 * Chromium test (`dashboard_browser_test.ts`) covers the rest of the dashboard; this one checks
 * that its essentials do not depend on Chromium. A screenshot goes to
 * `bench_out/dashboard_firefox.png`.
 */
import assert from "node:assert/strict";
import { isPng, type Process, REQUIRE_BROWSER, SCREENSHOT_DIR } from "./chromium.ts";
import { type Browser, firefoxLeft, firefoxMissing, launchFirefox, ourFirefox } from "./firefox.ts";
import { RECORD_STATUSES, SLOW_IMAGE } from "./dashboard_scenario.ts";
import { defaultImages, startPlaneCluster } from "./plane_process.ts";

const KEY = "dashboard-firefox-test-key";

/**
 * Run in every document before its own scripts (a string: this file is type-checked without
 * the DOM library). Firefox reports neither CSP violations nor failed loads over BiDi's log
 * events, so the page records them itself; uncaught errors come as `pageerror` too.
 */
const RECORD_PROBLEMS = `
  window.problems = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    window.problems.push("CSP " + e.violatedDirective + " " + e.blockedURI));
  window.addEventListener("error", (e) => window.problems.push("error " + e.message));
  window.addEventListener("unhandledrejection", (e) =>
    window.problems.push("unhandled rejection " + String(e.reason)));
`;

const missing = await firefoxMissing("dashboard Firefox browser test");

Deno.test({
  name: `dashboard in headless Firefox: log in, a backend goes ready live, its logs, terminate ` +
    `with the button; screenshot${missing ? " (not run: Firefox is missing)" : ""}`,
  ignore: missing && !REQUIRE_BROWSER,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "plane-dashboard-firefox-" });
    await using cluster = await startPlaneCluster({
      apiKeys: [KEY],
      images: { ...defaultImages(), slow: SLOW_IMAGE },
    });
    let browser: Browser | null = null;
    let seen: Process[] = [];
    let left: Process[] = [];
    try {
      browser = await launchFirefox(root, { width: 1100, height: 720 });
      const page = (await browser.pages())[0] ?? await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(String(err)));
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      await page.evaluateOnNewDocument(RECORD_PROBLEMS);

      // `localhost` is one of the names Firefox may reach (FIREFOX_PREFS).
      const dashboard = `${cluster.controllerUrl.replace("127.0.0.1", "localhost")}/dashboard`;
      const response = await page.goto(dashboard);
      assert.equal(response?.status(), 200);
      assert.equal(response?.headers()["x-frame-options"], "DENY");

      // Log in: a wrong key is refused on the form, the right one opens the cluster page.
      // By id: Firefox gives a password field no ARIA role to find it by, and its label's name
      // is the field's too.
      const keyField = page.locator("#api-key");
      const logIn = page.locator('::-p-aria([name="Log in"][role="button"])');
      await keyField.fill("not-the-key");
      await logIn.click();
      await page.waitForSelector("::-p-text(That key is not accepted.)");
      await keyField.fill(KEY);
      await logIn.click();
      await page.waitForSelector(`#drones tr[data-drone="${cluster.droneName}"]`);

      // Backends page: record each row's statuses as the page redraws them, then create one.
      await page.locator('::-p-aria([name="Backends"][role="link"])').click();
      await page.waitForSelector("#backend-count::-p-text(of 0 backends)");
      await page.evaluate(RECORD_STATUSES);
      const connected = await cluster.connect({
        "spawn_config": { executable: { image: "slow" } },
      });
      assert.equal(connected.status, 200, JSON.stringify(connected.body));
      const id = String(connected.body.backend_id);
      await page.waitForSelector(`tr[data-backend="${id}"] [data-status="ready"]`, {
        timeout: 30_000,
      });
      const statuses = await page.evaluate(`window.seen[${JSON.stringify(id)}]`) as string[];
      assert.ok(statuses && statuses.length >= 2, `seen live: ${statuses}`);
      assert.notEqual(statuses[0], "ready", `first seen before ready: ${statuses}`);
      assert.equal(statuses.at(-1), "ready");
      assert.equal(await page.evaluate("window.loaded"), true, "the page was not reloaded");

      // One backend: its status history and log lines.
      await page.locator(`tr[data-backend="${id}"] ::-p-aria([name="${id}"][role="link"])`)
        .click();
      await page.waitForSelector('#current-status [data-status="ready"]');
      for (const status of ["scheduled", "ready"]) {
        await page.waitForSelector(`#history li[data-status="${status}"]`);
      }
      await page.waitForSelector("#logs li::-p-text(listening on)", { timeout: 15_000 });
      seen = await ourFirefox(root);
      assert.ok(seen.some((p) => p.args.includes("firefox-esr")), "Firefox's processes are found");
      await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
      const path = `${SCREENSHOT_DIR}dashboard_firefox.png` as const;
      await page.screenshot({ path, fullPage: true });
      const png = await isPng(path);
      assert.ok(png.signature, `${path} is a PNG`);
      assert.ok(png.size > 4_096, `${path} is ${png.size} bytes, expected a real page`);

      // Terminate with the button; the status follows live.
      await page.locator('::-p-aria([name="Soft terminate"][role="button"])').click();
      await page.waitForSelector('#current-status [data-status="terminated"]', {
        timeout: 30_000,
      });
      await page.waitForSelector('#history li[data-status="terminated"]');
      assert.equal(
        await page.evaluate('document.getElementById("soft-terminate").disabled'),
        true,
      );
      const info = await (await cluster.api(`/ctrl/b/${id}`)).json();
      assert.equal(info.status, "terminated");

      assert.deepEqual(await page.evaluate("window.problems"), [], "no errors or CSP violations");
      assert.deepEqual(errors, [], "no script errors");
    } finally {
      await browser?.close();
      left = await firefoxLeft(root, seen);
    }
    assert.deepEqual(left.map((p) => `${p.pid} ${p.args.slice(0, 120)}`), [], "no Firefox left");
  },
});
