/**
 * Issue 13: near the file-descriptor limit. `plane proxy` runs as a subprocess under
 * `ulimit -n 64`, with deno.json's permissions. By default it caps open client connections so
 * that each keeps a descriptor for its backend (`proxy/connection_cap.ts`): past the cap a
 * client gets a 503 with the proxy's JSON error body, and the refusals are logged once per
 * interval. With a cap above the limit, `accept()` fails with EMFILE: the proxy used to end its
 * accept loop on that error without a word and never accept again; now it logs once and goes
 * on accepting as soon as descriptors are free.
 */
import assert from "node:assert/strict";
import { planePermissions } from "./plane_process.ts";
import { startFakeController } from "../proxy/testing/fake_controller.ts";
import { waitFor } from "../testing/wait_for.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** `plane proxy` under `ulimit -n 64` with `extra` flags; its port, log lines and `/ready`. */
async function startLimitedProxy(fakeUrl: string, extra: string[]) {
  const command = [Deno.execPath(), "run", "-q", ...planePermissions(), MAIN, "proxy"]
    .concat(["--controller-url", fakeUrl, "--cluster", "plane.test", ...extra])
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
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    await reading;
  };
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
    return { port, lines, listening, ready, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Reads what the proxy wrote on `conn` until it closes (at most 64 KiB). */
async function readAll(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("plane proxy near the descriptor limit refuses new clients with a 503 it logs, and admits them again once others leave", async () => {
  await using fake = startFakeController();
  // Two workers share the one count: the cap is the process's, not each worker's.
  const proxy = await startLimitedProxy(fake.url, ["--workers", "2", "--max-connections", "4"]);
  const held: Deno.Conn[] = [];
  try {
    assert.equal(proxy.listening.maxConnections, 4);
    for (let i = 0; i < 4; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: proxy.port }));
    }
    // The four are accepted (idle keep-alive connections hold their slots): the fifth is refused.
    await waitFor(async () => {
      const extra = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      const answer = await readAll(extra);
      extra.close();
      return answer.startsWith("HTTP/1.1 503") ? answer : false;
    }, { message: "a client past the cap refused" }).then((answer) => String(answer)).then(
      (answer) => {
        assert.match(answer, /^retry-after: 1$/m);
        const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
        assert.equal(body.kind, "Unavailable");
        assert.match(body.message, /connection limit.*--max-connections/);
      },
    );
    const refused = (l: Record<string, unknown>) =>
      String(l.message).startsWith("Refusing connections with 503");
    await waitFor(() => proxy.lines.some(refused), { message: "the refusal log line" });
    const line = proxy.lines.find(refused)!;
    assert.equal(line.level, "error");
    assert.equal(line.limit, 4);
    for (const conn of held.splice(0)) conn.close();
    await waitFor(proxy.ready, { message: "serving again once the held connections left" });
    assert.equal(
      proxy.lines.filter((l) => String(l.message).includes("out of file descriptors")).length,
      0,
    );
  } finally {
    for (const conn of held) conn.close();
    await proxy.stop();
  }
});

Deno.test("plane proxy: out of file descriptors, it logs once, refuses nothing for good, and serves again once they are free", async () => {
  await using fake = startFakeController();
  // A cap above what 64 descriptors hold, so accept() itself runs out.
  const proxy = await startLimitedProxy(fake.url, ["--workers", "1", "--max-connections", "1000"]);
  const held: Deno.Conn[] = [];
  try {
    // More connections than the proxy has descriptors: the kernel completes them all, the
    // proxy cannot accept the rest.
    for (let i = 0; i < 80; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: proxy.port }));
    }
    const outOf = (l: Record<string, unknown>) =>
      String(l.message).includes("out of file descriptors");
    await waitFor(() => proxy.lines.some(outOf), { message: "the out-of-descriptors log line" });
    for (const conn of held.splice(0)) conn.close();
    // Descriptors are free again: the proxy accepts what was queued and new connections.
    await waitFor(proxy.ready, { message: "proxy serving again", timeoutMs: 10_000 });
    const logged = proxy.lines.filter(outOf);
    assert.equal(logged.length, 1, "logged once per interval, not once per failed accept");
    assert.equal(logged[0]!.level, "error");
    assert.ok(Number(logged[0]!.failedAccepts) >= 1);
  } finally {
    for (const conn of held) conn.close();
    await proxy.stop();
  }
});

Deno.test("plane proxy's default connection cap follows the descriptor limit", async () => {
  await using fake = startFakeController();
  const proxy = await startLimitedProxy(fake.url, ["--workers", "1"]);
  try {
    // (64 − 64 reserved) / 2 rounds to 0: at least one connection is always allowed.
    assert.equal(proxy.listening.maxConnections, 1);
  } finally {
    await proxy.stop();
  }
});
