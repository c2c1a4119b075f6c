/**
 * Headless Chromium for the browser tests: Debian's `chromium` package driven by
 * `npm:playwright-core` (Playwright's own browser download is not reachable here).
 *
 * Chromium's own network chatter is switched off and every hostname but `localhost` fails to
 * resolve, so all traffic stays on loopback. Without `/usr/bin/chromium` a browser test is
 * ignored (and says so), unless `PLANE_REQUIRE_BROWSER=1` (`.ci/run`), where it fails.
 */
import { chromium } from "playwright-core";
import { waitFor } from "../testing/wait_for.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const REQUIRE_BROWSER = Deno.env.get("PLANE_REQUIRE_BROWSER") === "1";
export const SCREENSHOT_DIR = new URL("../bench_out/", import.meta.url).pathname;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/**
 * Flags needed as root in a container, and to keep Chromium off the network: no background
 * requests (updates, sync, field trials, safe browsing), no QUIC, and no DNS but `localhost`.
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
];

/**
 * True when Chromium is missing and the tests are to be ignored (said on stderr); throws when
 * it is missing but required.
 */
export async function chromiumMissing(what: string): Promise<boolean> {
  const missing = await Deno.stat(CHROMIUM).then(() => false, () => true);
  if (!missing) return false;
  if (REQUIRE_BROWSER) {
    throw new Error(
      `The ${what} must run here (PLANE_REQUIRE_BROWSER=1) but ${CHROMIUM} is missing ` +
        "(apt-get install -y chromium)",
    );
  }
  // deno-lint-ignore no-console
  console.error(
    `NOT RUN: ${what} (${CHROMIUM} is missing; apt-get install -y chromium, or set ` +
      "PLANE_REQUIRE_BROWSER=1 to fail)",
  );
  return true;
}

export type BrowserContext = Awaited<ReturnType<typeof chromium.launchPersistentContext>>;

/** A fresh profile under `root`, with a home of its own so Chromium writes nothing under ~. */
export function launchChromium(
  root: string,
  viewport: { width: number; height: number },
): Promise<BrowserContext> {
  const home = `${root}/home`;
  return chromium.launchPersistentContext(`${root}/profile`, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timeout: 30_000,
    env: { ...Deno.env.toObject(), HOME: home, "XDG_CONFIG_HOME": `${home}/.config` },
  });
}

export interface Process {
  pid: number;
  ppid: number;
  args: string;
}

/** Live processes (zombies have exited; only their parent's bookkeeping is left). */
export async function processes(): Promise<Process[]> {
  const ps = await new Deno.Command("ps", {
    args: ["-eo", "pid=,ppid=,stat=,args="],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(ps.stdout).split("\n").flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!match || match[3]!.startsWith("Z")) return [];
    return [{ pid: Number(match[1]), ppid: Number(match[2]), args: match[4]! }];
  });
}

/**
 * Browser processes of this test: descendants of this process whose executable's path names
 * `program` (not just any argument: the `plane` subprocesses and this test's own command line
 * may name it too), and those naming `root` (the browser's profile and home), such as the crash
 * handlers Chromium detaches from itself.
 */
export async function ourBrowser(root: string, program: string): Promise<Process[]> {
  const all = await processes();
  const ours = new Set([Deno.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!ours.has(p.pid) && ours.has(p.ppid)) {
        ours.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) =>
    (ours.has(p.pid) && p.args.split(" ", 1)[0]!.includes(program)) || p.args.includes(root)
  );
}

/** Chromium processes of this test (see `ourBrowser`). */
export function ourChromium(root: string): Promise<Process[]> {
  return ourBrowser(root, "chromium");
}

/**
 * Waits until none of `seen` nor anything of `ourBrowser(root, program)` is left (the last of
 * a browser's processes exit just after close() returns); removes `root` then. Returns what is
 * left.
 */
export async function browserLeft(
  root: string,
  seen: Process[],
  program: string,
): Promise<Process[]> {
  const pids = new Set(seen.map((p) => p.pid));
  let left: Process[] = [];
  await waitFor(async () => {
    left = [
      ...await ourBrowser(root, program),
      ...(await processes()).filter((p) => pids.has(p.pid)),
    ];
    return left.length === 0;
  }, { timeoutMs: 10_000, message: `every ${program} process to exit` }).catch(() => {});
  if (left.length === 0) await Deno.remove(root, { recursive: true });
  return left;
}

/** Waits until no Chromium process of this test is left; removes `root` then (`browserLeft`). */
export function chromiumLeft(root: string, seen: Process[]): Promise<Process[]> {
  return browserLeft(root, seen, "chromium");
}

export async function isPng(path: string): Promise<{ size: number; signature: boolean }> {
  const bytes = await Deno.readFile(path);
  return {
    size: bytes.length,
    signature: PNG_SIGNATURE.every((byte, i) => bytes[i] === byte),
  };
}
