import assert from "node:assert/strict";
import { freePort } from "../../testing/free_port.ts";

Deno.test("the example session app serves its page, health and a WebSocket echo on $PORT", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", new URL("./main.ts", import.meta.url).pathname],
    env: { PORT: String(port), SESSION_BACKEND_ID: "b123", SESSION_BACKEND_KEY: "doc" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    assert.match(first.value ?? "", /session b123 listening/);
    reader.releaseLock();
    const page = await (await fetch(`http://127.0.0.1:${port}/tok/`)).text();
    assert.match(page, /Backend <code id="backend">b123<\/code> for key <code id="key">doc/);
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json(), {
      ok: true,
      backend: "b123",
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/tok/ws`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("hi");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("WebSocket failed"));
    });
    assert.deepEqual(JSON.parse(reply), { backend: "b123", echo: "hi", messages: 1 });
    ws.close();
    await new Promise((r) => (ws.onclose = r));
  } finally {
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 143);
    await child.stdout.cancel().catch(() => {});
  }
});
