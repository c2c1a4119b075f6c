/**
 * What the dashboard browser tests (`dashboard_browser_test.ts` in Chromium,
 * `dashboard_firefox_browser_test.ts` in Firefox) share, whatever drives the browser: the
 * slowly starting image and the in-page recorder of backend statuses.
 */
import { ECHO_BACKEND } from "./env.ts";

/**
 * A local-runtime image that listens only after two seconds: long enough for the backends
 * page to show the backend before `ready`.
 */
export const SLOW_IMAGE = {
  command: [
    "sh",
    "-c",
    `sleep 2; exec "$0" run --allow-net --allow-env "$1"`,
    Deno.execPath(),
    ECHO_BACKEND,
  ],
};

/**
 * Run in the page (a string: the tests are type-checked without the DOM library): records each
 * backend row's statuses as the page redraws them in `window.seen`, and marks the document
 * (`window.loaded`) so a reload would show.
 */
export const RECORD_STATUSES = `
  window.loaded = true;
  window.seen = {};
  new MutationObserver(() => {
    for (const tr of document.querySelectorAll("#backends tr[data-backend]")) {
      const id = tr.getAttribute("data-backend");
      const status = tr.querySelector("[data-status]")?.getAttribute("data-status") ?? "";
      const list = (window.seen[id] ??= []);
      if (list.at(-1) !== status) list.push(status);
    }
  }).observe(document.getElementById("main"), { childList: true, subtree: true });
`;
