/**
 * Issue 13: near the file-descriptor limit `accept()` fails with EMFILE. The proxy used to end
 * its accept loop on that error without a word, and never accepted again. Now it logs once
 * (per interval) and goes on accepting as soon as descriptors are free. `plane proxy` runs as a
 * subprocess under `ulimit -n 64`, with deno.json's permissions.
 */
import assert from "node:assert/strict";
import { planePermissions } from "./plane_process.ts";
import { startFakeController } from "../proxy/testing/fake_controller.ts";
import { waitFor } from "../shared/wait_for.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

Deno.test("plane proxy: out of file descriptors, it logs once, refuses nothing for good, and serves again once they are free", async () => {
  await using fake = startFakeController();
  const command = [Deno.execPath(), "run", "-q", ...planePermissions(), MAIN, "proxy"]
    .concat(["--controller-url", fake.url, "--cluster", "plane.test", "--workers", "1"])
    .concat(["--hostname", "127.0.0.1", "--http-port", "0"])
    .map((word) => `'${word}'`).join(" ");
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n 64 && exec ${command}`],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const reading = (async () => {
    let buffered = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) lines.push(JSON.parse(line));
    }
  })();
  const held: Deno.Conn[] = [];
  try {
    const listening = await waitFor(() => lines.find((l) => l.message === "Proxy listening"), {
      message: "proxy listening",
    });
    const port = Number(listening.http);
    const ready = async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/ready`, {
          signal: AbortSignal.timeout(1_000),
        });
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    };
    await waitFor(ready, { message: "proxy ready" });
    // More connections than the proxy has descriptors: the kernel completes them all, the
    // proxy cannot accept the rest.
    for (let i = 0; i < 80; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    const outOf = (l: Record<string, unknown>) =>
      String(l.message).includes("out of file descriptors");
    await waitFor(() => lines.some(outOf), { message: "the out-of-descriptors log line" });
    for (const conn of held.splice(0)) conn.close();
    // Descriptors are free again: the proxy accepts what was queued and new connections.
    await waitFor(ready, { message: "proxy serving again", timeoutMs: 10_000 });
    const logged = lines.filter(outOf);
    assert.equal(logged.length, 1, "logged once per interval, not once per failed accept");
    assert.equal(logged[0]!.level, "error");
    assert.ok(Number(logged[0]!.failedAccepts) >= 1);
  } finally {
    for (const conn of held) conn.close();
    child.kill("SIGTERM");
    await child.status;
    await reading;
  }
});
