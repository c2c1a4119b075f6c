/**
 * Headless Firefox for the browser tests: Debian's `firefox-esr` driven by `npm:puppeteer-core`
 * over WebDriver BiDi, which Firefox speaks natively (Playwright drives only its own patched
 * Firefox builds, and those cannot be downloaded here).
 *
 * Each run gets a fresh profile under a temporary root, with a home of its own, and
 * `FIREFOX_PREFS` keep Firefox off the network: all traffic stays on loopback. Without
 * `/usr/bin/firefox-esr` a browser test is ignored (and says so), unless
 * `PLANE_REQUIRE_BROWSER=1` (`.ci/run`), where it fails.
 */
import puppeteer from "puppeteer-core";
import { browserLeft, ourBrowser, type Process, REQUIRE_BROWSER } from "./chromium.ts";

export const FIREFOX = "/usr/bin/firefox-esr";

/**
 * A port on loopback that nothing listens on (`discard`, never served here): every request
 * Firefox would send off loopback goes to this "proxy" and fails at once.
 */
const DEAD_PROXY_PORT = 9;

/**
 * Preferences written to the profile's `user.js`, on top of puppeteer's own test defaults
 * (which already blank the Normandy, remote-settings and SNTP servers). Grouped by what they
 * stop; each would otherwise send a request off the machine.
 */
export const FIREFOX_PREFS: Record<string, string | number | boolean> = {
  // The backstop: a manual proxy on a dead loopback port for every scheme, and no exceptions
  // but loopback, so a request to any other host fails without a DNS lookup or a connection.
  // Firefox never proxies localhost/127.0.0.1 itself (network.proxy.allow_hijacking_localhost).
  "network.proxy.type": 1,
  "network.proxy.share_proxy_settings": true,
  "network.proxy.http": "127.0.0.1",
  "network.proxy.http_port": DEAD_PROXY_PORT,
  "network.proxy.ssl": "127.0.0.1",
  "network.proxy.ssl_port": DEAD_PROXY_PORT,
  "network.proxy.socks": "127.0.0.1",
  "network.proxy.socks_port": DEAD_PROXY_PORT,
  "network.proxy.socks_remote_dns": true,
  "network.proxy.no_proxies_on": "localhost, 127.0.0.1, [::1]",
  "network.proxy.allow_hijacking_localhost": false,
  // When the proxy cannot be reached, Firefox retries its own requests (remote settings,
  // below) directly, after a DNS lookup of the real host: seen with MOZ_LOG=nsHostResolver:5,
  // proxy:5 and strace until `allow_bypass` was off. Neither bypass nor failover, then.
  "network.proxy.failover_direct": false,
  "network.proxy.allow_bypass": false,
  // `localhost` resolves to loopback inside Firefox, without asking the system resolver.
  "network.dns.localDomains": "localhost",
  // DNS over HTTPS off by choice (mode 5), and no guessing, prefetching or speculation.
  "network.trr.mode": 5,
  "network.dns.disablePrefetch": true,
  "network.dns.disablePrefetchFromHTTPS": true,
  "network.prefetch-next": false,
  "network.predictor.enabled": false,
  "network.predictor.enable-prefetch": false,
  "network.http.speculative-parallel-limit": 0,
  "browser.urlbar.speculativeConnect.enabled": false,
  "browser.places.speculativeConnect.enabled": false,
  "browser.fixup.alternate.enabled": false,
  // Captive-portal detection and the connectivity check.
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "captivedetect.canonicalURL": "",
  // Updates: the application, add-ons, system add-ons, search engines, media plugins.
  "app.update.auto": false,
  "app.update.enabled": false,
  "app.update.disabledForTesting": true,
  "extensions.update.enabled": false,
  "extensions.systemAddon.update.enabled": false,
  "extensions.getAddons.cache.enabled": false,
  "extensions.blocklist.enabled": false,
  "browser.search.update": false,
  "media.gmp-manager.updateEnabled": false,
  "media.gmp-gmpopenh264.enabled": false,
  // Telemetry, health reports, studies, crash reports, pings.
  "toolkit.telemetry.enabled": false,
  "toolkit.telemetry.unified": false,
  "toolkit.telemetry.archive.enabled": false,
  "toolkit.telemetry.server": "",
  "toolkit.telemetry.shutdownPingSender.enabled": false,
  "toolkit.telemetry.firstShutdownPing.enabled": false,
  "toolkit.telemetry.newProfilePing.enabled": false,
  "toolkit.telemetry.updatePing.enabled": false,
  "toolkit.telemetry.bhrPing.enabled": false,
  "datareporting.healthreport.uploadEnabled": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "app.shield.optoutstudies.enabled": false,
  "browser.crashReports.unsubmittedCheck.enabled": false,
  "browser.tabs.crashReporting.sendReport": false,
  "browser.ping-centre.telemetry": false,
  // Safe Browsing (list downloads and lookups).
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.safebrowsing.downloads.enabled": false,
  "browser.safebrowsing.downloads.remote.enabled": false,
  "browser.safebrowsing.blockedURIs.enabled": false,
  "browser.safebrowsing.provider.google4.updateURL": "",
  "browser.safebrowsing.provider.google4.gethashURL": "",
  "browser.safebrowsing.provider.mozilla.updateURL": "",
  // Normandy (remote experiments) and remote settings. Release builds ignore a changed
  // `services.settings.server` and poll the real one all the same: only the dead proxy stops
  // that.
  "app.normandy.enabled": false,
  "app.normandy.api_url": "",
  "messaging-system.rsexperimentloader.enabled": false,
  "services.settings.server": "data:,#remote-settings-dummy/v1",
  "security.remote_settings.crlite_filters.enabled": false,
  "security.remote_settings.intermediates.enabled": false,
  // Everything else that phones home: push, region, geolocation, new-tab content, OCSP.
  "dom.push.connection.enabled": false,
  "browser.region.network.url": "",
  "browser.region.update.enabled": false,
  "geo.provider.network.url": "",
  "browser.newtabpage.activity-stream.feeds.telemetry": false,
  "browser.newtabpage.activity-stream.telemetry": false,
  "browser.newtabpage.activity-stream.feeds.snippets": false,
  "browser.newtabpage.activity-stream.default.sites": "",
  "security.OCSP.enabled": 0,
};

/**
 * True when Firefox is missing and the tests are to be ignored (said on stderr); throws when
 * it is missing but required.
 */
export async function firefoxMissing(what: string): Promise<boolean> {
  const missing = await Deno.stat(FIREFOX).then(() => false, () => true);
  if (!missing) return false;
  if (REQUIRE_BROWSER) {
    throw new Error(
      `The ${what} must run here (PLANE_REQUIRE_BROWSER=1) but ${FIREFOX} is missing ` +
        "(apt-get install -y firefox-esr)",
    );
  }
  // deno-lint-ignore no-console
  console.error(
    `NOT RUN: ${what} (${FIREFOX} is missing; apt-get install -y firefox-esr, or set ` +
      "PLANE_REQUIRE_BROWSER=1 to fail)",
  );
  return true;
}

export type Browser = Awaited<ReturnType<typeof puppeteer.launch>>;

/**
 * Headless Firefox with a fresh profile under `root` and a home of its own (Firefox writes
 * nothing under ~), the WebDriver BiDi endpoint on a loopback port of Firefox's choosing.
 */
export function launchFirefox(
  root: string,
  viewport: { width: number; height: number },
): Promise<Browser> {
  const home = `${root}/home`;
  return puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    userDataDir: `${root}/profile`,
    extraPrefsFirefox: FIREFOX_PREFS,
    defaultViewport: viewport,
    timeout: 30_000,
    env: {
      ...Deno.env.toObject(),
      HOME: home,
      "XDG_CONFIG_HOME": `${home}/.config`,
      "XDG_CACHE_HOME": `${home}/.cache`,
      // No crash reporter, and so no crash report to send.
      "MOZ_CRASHREPORTER_DISABLE": "1",
    },
  });
}

/** Firefox processes of this test (see `ourBrowser`). */
export function ourFirefox(root: string): Promise<Process[]> {
  return ourBrowser(root, "firefox");
}

/** Waits until no Firefox process of this test is left; removes `root` then (`browserLeft`). */
export function firefoxLeft(root: string, seen: Process[]): Promise<Process[]> {
  return browserLeft(root, seen, "firefox");
}
