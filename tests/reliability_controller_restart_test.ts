/**
 * Reliability figure (targets.md §4): the controller restarted under traffic. A proxy
 * (`startProxy`, the `plane proxy` wiring) and a drone serve a backend; a WebSocket through the
 * proxy echoes continuously while the controller is stopped and a new one starts on the same
 * database and port. The WebSocket keeps echoing throughout, the proxy and the drone reconnect
 * by themselves, and a new connect succeeds — and is served through the proxy — within 5 s of
 * the new controller starting.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { createTestDatabase } from "../controller/db/test_database.ts";
import { startTestDrone, waitForSchedulable } from "./env.ts";
import { startProxy } from "../cli/proxy_command.ts";
import { ProxyConfig } from "../proxy/config.ts";
import { openRawWebSocket, request } from "../proxy/testing/http_client.ts";
import { createLogger, type LogLevel } from "../shared/log.ts";

const CLUSTER = "localhost:9090";
const level = (Deno.env.get("PLANE_TEST_LOG") as LogLevel | undefined) ?? "error";

/** Rejects if `promise` has not settled within `ms` (so a stuck socket fails fast). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function connect(url: string, key: string) {
  const response = await fetch(`${url}/ctrl/connect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: { name: key }, "spawn_config": { executable: { image: "echo" } } }),
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("reliability: a controller restarted under traffic keeps proxied WebSockets open; proxy and drone reconnect; new connects succeed within 5 s", async () => {
  await using database = await createTestDatabase();
  const config = { defaultCluster: CLUSTER };
  let controller = await startTestController(config, database);
  const port = Number(new URL(controller.url).port);
  const drone = await startTestDrone({ controllerUrl: controller.url, cluster: CLUSTER });
  const proxy = await startProxy(
    ProxyConfig.parse({
      controllerUrl: controller.url,
      cluster: CLUSTER,
      hostname: "127.0.0.1",
      httpPort: 0,
      logLevel: level,
    }),
    { log: createLogger("proxy", { level }), shutdownMs: 1_000 },
  );
  const proxyPort = proxy.server.httpPort;
  const ready = async () => (await request(proxyPort, "/ready")).status;
  try {
    await waitForSchedulable(controller.db, drone.drone.name);
    await waitFor(async () => (await ready()) === 200, { message: "proxy ready" });

    // A backend, and a WebSocket to it through the proxy.
    const first = await connect(controller.url, "restart-first");
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const firstPath = new URL(first.body.url).pathname;
    const ws = await openRawWebSocket(proxyPort, `${firstPath}ws`, CLUSTER);
    assert.equal(ws.response.status, 101, ws.response.body);

    // Echo continuously until told to stop; every message must come back, in order.
    let echoes = 0;
    let echoing = true;
    const echoLoop = (async () => {
      while (echoing) {
        const text = `m${echoes}`;
        await ws.send(text);
        assert.equal(await within(ws.receive(), 2_000, `echo of ${text}`), text);
        echoes++;
      }
    })();
    try {
      await waitFor(() => echoes >= 5, { message: "echoes before the restart" });

      // Stop the controller.
      const droneConnections = drone.drone.status.connections;
      const echoesBeforeStop = echoes;
      await controller.close();
      await waitFor(() => !drone.drone.status.connected, {
        message: "drone saw the controller go",
      });
      assert.equal(await ready(), 503, "the proxy reports the lost controller on /ready");
      // Traffic goes on while no controller runs at all.
      const echoesAtStop = echoes;
      await waitFor(() => echoes >= echoesAtStop + 20, { message: "echoes with no controller" });
      const echoesBeforeStart = echoes;

      // Start a new one on the same database and port.
      controller = await startTestController(config, database, { port });
      const newStarted = performance.now();
      const since = () => Math.round(performance.now() - newStarted);

      // Once the drone is back (a client would retry its connect until then), connect.
      await waitFor(async () => {
        const { rows } = await controller.db.query(
          `select 1 from node join drone on drone.id = node.id
           where node.name = $1 and node.controller = $2 and drone.last_local_time is not null`,
          [drone.drone.name, controller.controller.name],
        );
        return rows.length === 1;
      }, { timeoutMs: 5_000, message: "the drone schedulable on the new controller" });
      const droneBackAfter = since();
      const answer = await connect(controller.url, "restart-second");
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const second = answer.body;
      const connectedAfter = since();
      // Served end to end: the proxy learns the new route from the new controller.
      const secondPath = new URL(second.url).pathname;
      const served = await waitFor(async () => {
        const res = await request(proxyPort, secondPath, [["Host", CLUSTER]]);
        return res.status === 200 ? res : null;
      }, { timeoutMs: 5_000 - since(), message: "the new backend through the proxy" });
      assert.equal(served.headers.get("x-plane-backend-id"), second.backend_id);
      const servedAfter = since();
      assert.ok(servedAfter < 5_000, `served ${servedAfter} ms after the new controller started`);

      await waitFor(async () => (await ready()) === 200, { message: "proxy ready again" });
      const proxyReadyAfter = since();
      await waitFor(() => drone.drone.status.connections > droneConnections, {
        message: "drone reconnected",
      });
      await waitForSchedulable(controller.db, drone.drone.name);

      // The established WebSocket kept echoing through the whole restart, and still does.
      const echoesAtEnd = echoes;
      await waitFor(() => echoes >= echoesAtEnd + 5, { message: "echoes after the restart" });
      assert.ok(echoesBeforeStart > echoesBeforeStop, "echoes while no controller ran");
      // The first backend still holds its key on the new controller.
      const again = await connect(controller.url, "restart-first");
      assert.equal(again.status, 200);
      assert.equal(again.body.backend_id, first.body.backend_id);
      assert.equal(again.body.spawned, false);

      // deno-lint-ignore no-console
      console.log(
        `controller restart: WebSocket echoed ${echoes} messages without a loss ` +
          `(${echoesBeforeStart - echoesBeforeStop} while no controller ran); after the new ` +
          `controller started: drone back at ${droneBackAfter} ms, connect ok at ${connectedAfter} ms, ` +
          `served ` +
          `through the proxy at ${servedAfter} ms, proxy /ready 200 by ${proxyReadyAfter} ms`,
      );
    } finally {
      echoing = false;
      await echoLoop;
      ws.close();
    }
  } finally {
    await proxy.stop();
    await drone[Symbol.asyncDispose]();
    await controller.close();
  }
});
