/**
 * An example app server: the piece of your product that decides who gets which backend.
 * `GET /room/NAME` connects with key NAME (so everyone asking for the same room shares one
 * backend, started on first use) and redirects the browser to the connection URL; the proxy
 * holds that request until the backend is ready.
 *
 * Run it next to `deno task dev`:
 *
 * ```sh
 * deno run --allow-net --allow-env examples/app_server/main.ts
 * open http://localhost:8000/room/hello
 * ```
 *
 * Environment: `PORT` (default 8000), `PLANE_CONTROLLER_URL` (default http://127.0.0.1:8080),
 * `PLANE_API_KEY`, `PLANE_IMAGE` (default `session-app`, the image `deno task dev` offers),
 * `PLANE_CLUSTER` (default: the controller's default cluster).
 */
import { createPlaneClient, PlaneApiError, type PlaneClient } from "../../shared/client.ts";

export interface AppServerOptions {
  plane: PlaneClient;
  /** Image every room runs. */
  image: string;
  /** Cluster to spawn in; the controller's default when absent. */
  cluster?: string | undefined;
  /** Idle seconds after which an empty room's backend stops (default 300). */
  maxIdleSeconds?: number;
}

/** Room names become backend keys: keep them to what a key and a URL carry plainly. */
const ROOM = /^\/room\/([a-z0-9][a-z0-9-]{0,62})\/?$/;

export function createAppServer(options: AppServerOptions): (req: Request) => Promise<Response> {
  return async (req) => {
    const match = ROOM.exec(new URL(req.url).pathname);
    if (req.method !== "GET" || !match) {
      return new Response("Open /room/NAME (lowercase letters, digits and -)\n", { status: 404 });
    }
    try {
      const connection = await options.plane.connect({
        key: { name: match[1]! },
        "spawn_config": {
          executable: { image: options.image },
          "max_idle_seconds": options.maxIdleSeconds ?? 300,
          ...(options.cluster ? { cluster: options.cluster } : {}),
        },
      });
      return new Response(null, { status: 302, headers: { location: connection.url } });
    } catch (err) {
      if (!(err instanceof PlaneApiError)) throw err;
      // Tell the user something short; the error id lets an operator find the controller log.
      return new Response(`Could not open the room (${err.kind}, error id ${err.id})\n`, {
        status: 503,
      });
    }
  };
}

if (import.meta.main) {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const handler = createAppServer({
    plane: createPlaneClient({
      controllerUrl: env("PLANE_CONTROLLER_URL") ?? "http://127.0.0.1:8080",
      apiKey: env("PLANE_API_KEY"),
    }),
    image: env("PLANE_IMAGE") ?? "session-app",
    cluster: env("PLANE_CLUSTER"),
  });
  Deno.serve({ hostname: "127.0.0.1", port: Number(env("PORT") ?? 8000) }, handler);
}
