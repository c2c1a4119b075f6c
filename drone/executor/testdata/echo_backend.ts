/**
 * A tiny backend for runtime tests: HTTP on $PORT answering with the Plane variables it was
 * given, `/exit?code=N` to exit by itself, `/ws` echoing WebSocket messages (`/ws?headers=1`
 * first sends the upgrade request's headers as JSON). Prints one line to stdout and one to
 * stderr at start.
 */
const port = Number(Deno.env.get("PORT"));
const names = [
  "PORT",
  "SESSION_BACKEND_ID",
  "SESSION_BACKEND_KEY",
  "SESSION_BACKEND_FENCING_TOKEN",
  "SESSION_BACKEND_STATIC_TOKEN",
  "JAMSOCKET_SERVICE",
  "USER_VAR",
  "PYTHONPATH",
];
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
  const url = new URL(req.url);
  if (url.pathname === "/exit") {
    setTimeout(() => Deno.exit(Number(url.searchParams.get("code") ?? "0")), 10);
    return new Response("bye");
  }
  if (url.pathname === "/print") {
    Deno.stdout.writeSync(new TextEncoder().encode(`${url.searchParams.get("text") ?? ""}\n`));
    return new Response("printed");
  }
  if (url.pathname === "/ws") {
    // Read before the upgrade: the request is gone after it.
    const headers = JSON.stringify(Object.fromEntries(req.headers));
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(e.data);
    if (url.searchParams.has("headers")) socket.onopen = () => socket.send(headers);
    return response;
  }
  const env = Object.fromEntries(names.map((n) => [n, Deno.env.get(n) ?? null]));
  const headers = Object.fromEntries(req.headers);
  return Response.json({ env, path: url.pathname + url.search, method: req.method, headers });
});
// As PID 1 in a container the kernel ignores SIGTERM unless the process handles it; exit
// the way a shell reports death by SIGTERM so every runtime reports the same code.
// IGNORE_SIGTERM=1 makes a backend that only SIGKILL stops (soft → hard escalation tests).
const ignoreSigterm = Deno.env.get("IGNORE_SIGTERM") === "1";
Deno.addSignalListener("SIGTERM", () => {
  if (!ignoreSigterm) Deno.exit(143);
});
const encoder = new TextEncoder();
Deno.stdout.writeSync(encoder.encode(`listening on ${port}\n`));
Deno.stderr.writeSync(encoder.encode(`stderr hello\n`));
