/**
 * A proxy worker (Deno `Worker`, started by `worker_pool.ts`): its own engine, route cache,
 * connection monitor and tunnel registry behind its own listener on the shared port
 * (`reusePort`). The controller socket stays in the main thread: route requests and keepalives
 * go up as messages, controller messages come down to every worker.
 */
/// <reference lib="deno.worker" />
import { createProxy, type Proxy } from "./mod.ts";
import { type ProxyServer, serveProxy } from "./serve.ts";
import { ConnectionCap } from "./connection_cap.ts";
import type { FromWorker, ToWorker, WorkerSetup } from "./worker_protocol.ts";
import type { ControllerLinkHandlers } from "./controller_link.ts";
import { takeSnapshot } from "./metrics.ts";
import { createLogger, Unreachable } from "../shared/mod.ts";

function post(message: FromWorker) {
  self.postMessage(message);
}

let handlers: ControllerLinkHandlers | null = null;
let connected = false;
let running: { proxy: Proxy; server: ProxyServer } | null = null;

async function start(setup: WorkerSetup) {
  const log = createLogger("proxy", { level: setup.logLevel }).child(`worker-${setup.index}`);
  connected = setup.connected;
  const proxy = createProxy({
    cluster: setup.cluster,
    controllerUrl: "http://main-thread.invalid",
    name: setup.name,
    rootRedirectUrl: setup.rootRedirectUrl,
    pathRouting: setup.pathRouting,
    routeWaitMs: setup.routeWaitMs,
    keepAliveIntervalMs: setup.keepAliveIntervalMs,
    link(h) {
      handlers = h;
      if (connected) queueMicrotask(() => h.onConnected());
      return {
        get connected() {
          return connected;
        },
        send(message) {
          if (!connected) return false;
          post({ kind: "send", message });
          return true;
        },
        close: () => Promise.resolve(),
      };
    },
    log,
  });
  try {
    const server = await serveProxy(proxy, {
      hostname: setup.hostname,
      httpPort: setup.httpPort,
      https: setup.https,
      limits: setup.limits ?? {},
      connectionCap: setup.connectionCap &&
        new ConnectionCap(setup.connectionCap.limit, {
          buffer: setup.connectionCap.buffer,
          slot: setup.index,
        }),
      reusePort: true,
      log,
    });
    running = { proxy, server };
    post({ kind: "listening", httpPort: server.httpPort, httpsPort: server.httpsPort });
  } catch (err) {
    await proxy.close();
    post({ kind: "failed", message: err instanceof Error ? err.message : String(err) });
  }
}

async function stop(graceMs: number) {
  if (running !== null) {
    await running.server.close({ graceMs });
    await running.proxy.close();
  }
  post({ kind: "stopped" });
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.kind) {
    case "setup":
      void start(message.setup);
      break;
    case "link":
      connected = message.connected;
      if (connected) handlers?.onConnected();
      break;
    case "message":
      handlers?.onMessage(message.message);
      break;
    case "stats":
      if (running !== null) {
        // This worker's isolate: the main one's `Deno.memoryUsage()` does not see it.
        const { heapUsed, heapTotal } = Deno.memoryUsage();
        const snapshot = takeSnapshot(running.server.stats, running.proxy.routes.counters, {
          used: heapUsed,
          total: heapTotal,
        });
        post({ kind: "stats", id: message.id, snapshot });
      }
      break;
    case "stop":
      void stop(message.graceMs);
      break;
    case "crash":
      setTimeout(() => {
        throw new Error("Proxy worker crash requested (test)");
      });
      break;
    default:
      throw new Unreachable(message);
  }
};
