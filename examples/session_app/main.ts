/**
 * The example session backend that `deno task dev` runs: one process per session, on $PORT.
 * `/` is a page that shows which backend it reached and proves a WebSocket round trip through
 * the proxy; `/ws` echoes messages with the backend's id; `/healthz` answers for probes.
 * Everything is relative to the page, so it works behind the proxy's `/{token}/` prefix.
 */
const port = Number(Deno.env.get("PORT") ?? "8080");
const backendId = Deno.env.get("SESSION_BACKEND_ID") ?? "unknown";
const key = Deno.env.get("SESSION_BACKEND_KEY") ?? "unknown";
const started = new Date().toISOString();
let messages = 0;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Plane session ${backendId}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }
  code { background: #f2f2f2; padding: 0 .3rem; border-radius: 4px; }
  #status { font-weight: bold; }
  .ok { color: #0a7d28; } .waiting { color: #8a6d00; } .failed { color: #b00020; }
</style>
</head>
<body>
<h1>Your session backend</h1>
<p>Backend <code id="backend">${backendId}</code> for key <code id="key">${key}</code>,
started ${started}.</p>
<p>WebSocket: <span id="status" class="waiting">connecting…</span></p>
<p id="reply"></p>
<script>
  const status = document.getElementById("status");
  const reply = document.getElementById("reply");
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);
  let sentAt = 0;
  socket.onopen = () => { sentAt = performance.now(); socket.send("ping from the browser"); };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    const ms = (performance.now() - sentAt).toFixed(1);
    status.textContent = "round trip OK (" + ms + " ms)";
    status.className = "ok";
    reply.textContent = "Backend " + data.backend + " echoed: " + data.echo;
    document.body.dataset.roundTrip = "ok";
  };
  socket.onerror = () => { status.textContent = "failed"; status.className = "failed"; };
</script>
</body>
</html>`;

Deno.serve({ hostname: "0.0.0.0", port, onListen() {} }, (req) => {
  const path = new URL(req.url).pathname;
  if (path.endsWith("/ws") && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (event) => {
      messages++;
      socket.send(JSON.stringify({ backend: backendId, echo: String(event.data), messages }));
    };
    return response;
  }
  if (path.endsWith("/healthz")) return Response.json({ ok: true, backend: backendId });
  return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
});
Deno.addSignalListener("SIGTERM", () => Deno.exit(143));
Deno.stdout.writeSync(new TextEncoder().encode(`session ${backendId} listening on ${port}\n`));
