/**
 * Test fixture: a controller on a fresh Postgres database, served on an ephemeral loopback
 * port so real WebSocket clients (fake drones and proxies) can connect. Timings are short.
 */
import { createTestDatabase, type TestDatabase } from "../db/test_database.ts";
import { type Controller, createController } from "../mod.ts";
import type { ControllerConfigInput } from "../config.ts";
import { createLogger, type LogLevel } from "../../shared/log.ts";
import type { Database } from "../db/database.ts";
import { controllerStartingResponse } from "../starting_response.ts";

export interface TestController extends AsyncDisposable {
  controller: Controller;
  db: Database;
  database: TestDatabase;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** fetch against this controller, with the path relative to its URL. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Starts a second controller on the same database (many controllers, one database). */
  another(config?: Partial<ControllerConfigInput>): Promise<TestController>;
  close(): Promise<void>;
}

export const FAST_TIMINGS = {
  heartbeatIntervalMs: 500,
  actionResendIntervalMs: 500,
  sweepIntervalMs: 200,
  cleanupIntervalMs: 3_600_000,
  sseKeepAliveMs: 1_000,
} satisfies Partial<ControllerConfigInput>;

export interface TestControllerOptions {
  /** Loopback port to bind (default 0: any free port); a restart reuses its predecessor's. */
  port?: number;
}

export async function startTestController(
  config: Partial<ControllerConfigInput> = {},
  database?: TestDatabase,
  options: TestControllerOptions = {},
): Promise<TestController> {
  const ownsDatabase = database === undefined;
  const t = database ?? (await createTestDatabase());
  const db = ownsDatabase ? t.db : t.open();
  const level = (Deno.env.get("PLANE_TEST_LOG") as LogLevel | undefined) ?? "error";
  const log = createLogger("controller", { level });
  let controller: Controller | null = null;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} },
    // A restart on its predecessor's port is dialled by drones and proxies before
    // createController returns: answer as the real entry point does while starting.
    (req, info) => controller?.fetch(req, info) ?? controllerStartingResponse(),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  controller = await createController({
    db,
    log,
    config: { db: t.url, controllerUrl: url, ...FAST_TIMINGS, ...config },
  });
  let closed = false;
  const self: TestController = {
    controller,
    db,
    database: t,
    url,
    request: (path, init) => fetch(`${url}${path}`, init),
    another: (more) => startTestController({ ...config, ...more }, t),
    async close() {
      if (closed) return;
      closed = true;
      await controller!.close();
      await server.shutdown();
      if (ownsDatabase) await t[Symbol.asyncDispose]();
      else await db.close();
    },
    [Symbol.asyncDispose]: () => self.close(),
  };
  return self;
}
