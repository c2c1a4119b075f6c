/** The `--help` texts of the admin commands (`admin_command.ts`). */
import { BackendStatus } from "../shared/mod.ts";

export const DEFAULT_CONTROLLER_URL = "http://127.0.0.1:8080";
/** `max_idle_seconds` when `connect` is not given one, as Plane's CLI does (plane-0.5.md §11.1). */
export const DEFAULT_MAX_IDLE_SECONDS = 500;

const COMMON_FLAGS = `Common flags (environment variable in brackets):
  --controller URL   controller to talk to (default ${DEFAULT_CONTROLLER_URL}); an API key
                     may ride as the URL's username [PLANE_CONTROLLER_URL]
  --api-key KEY      bearer key for /ctrl/* [PLANE_API_KEY]
  --json             print JSON (one value per line) instead of text
  -h, --help         show this help

Exit status: 0 on success, 1 when the controller refuses (one line with its message, HTTP
status and error id) or cannot be reached, 2 for a usage mistake.
`;

export const HELP_TEXT = {
  connect: `Usage: plane connect --image IMAGE [flags]

Gets or creates a backend (POST /ctrl/connect) and prints its connection URL.

Flags:
  --image IMAGE             image (Docker) or image name (local runtime) to run (required)
  --cluster NAME            cluster to spawn in (default: the controller's --default-cluster;
                            needed when the controller has none)
  --key NAME                key: at most one live backend per key; reconnects reuse it
  --id ID                   backend id to use (discouraged)
  --pool NAME               drone pool (default empty)
  --max-idle-seconds N      terminate after N idle seconds (default ${DEFAULT_MAX_IDLE_SECONDS}); the
                            stop comes up to about 13 s later (keepalives every 7 s, sweeps
                            every 5 s)
  --static-token            mint one static token for the backend
  --mount PATH|true         Docker: mount PATH (true: the key's name) under the drone's mount base
  --subdomain NAME          serve the backend only on NAME.CLUSTER
  --wait                    follow the status stream, printing each status as it happens;
                            exit 0 once ready, 1 if the backend terminates first (printing
                            its termination reason and error)
  --immediate               return at once (the default; accepted for Plane compatibility)

${COMMON_FLAGS}`,
  terminate: `Usage: plane terminate BACKEND [--hard] [--wait]

Asks the backend's drone to stop it: soft (SIGTERM, then SIGKILL after the grace period) or
--hard (SIGKILL at once).

Flags:
  --hard        hard-terminate
  --wait        follow the status stream until the backend is terminated
  --immediate   return at once (the default; accepted for Plane compatibility)

${COMMON_FLAGS}`,
  drain: `Usage: plane drain --cluster NAME --drone DRONE

Stops scheduling new backends on DRONE (its running backends are untouched).

Flags:
  --cluster NAME   the drone's cluster
  --drone DRONE    the drone's name (dr-...)

${COMMON_FLAGS}`,
  undrain: `Usage: plane undrain --cluster NAME --drone DRONE

Makes a drained drone schedulable again.

Flags:
  --cluster NAME   the drone's cluster
  --drone DRONE    the drone's name (dr-...)

${COMMON_FLAGS}`,
  status: `Usage: plane status [BACKEND]

Without BACKEND: the controller's protocol version and hash, compared with this client's.
With BACKEND: the backend's record (status, drone, key, address, times) and, once it is
terminating or terminated, why: the termination reason, exit code and error.

${COMMON_FLAGS}`,
  "cluster-state": `Usage: plane cluster-state CLUSTER

Lists the cluster's connected drones (ready, draining, backend count, heartbeat age) and
proxies.

${COMMON_FLAGS}`,
  "backend-status": `Usage: plane backend-status BACKEND

Prints every status of the backend from the first, following the status stream as it
happens, until it is terminated; the last line carries the reason, exit_error and error.

${COMMON_FLAGS}`,
  logs: `Usage: plane logs BACKEND [--no-follow]

Prints the backend's recent output (stderr lines prefixed with [stderr]), then follows live
lines until the backend is terminated.

Flags:
  --no-follow   print the recent output only

${COMMON_FLAGS}`,
  list: `Usage: plane list CLUSTER [--status STATUS]... [--limit N] [--cursor CURSOR]

Lists the cluster's backends, newest first, one page at a time.

Flags:
  --status STATUS   only backends in STATUS (repeatable): ${BackendStatus.options.join(", ")}
  --limit N         page size, 1 to 1000 (default 100)
  --cursor CURSOR   the next page, as printed after the previous one

${COMMON_FLAGS}`,
} as const;

export const ADMIN_OVERVIEW =
  `Usage: plane admin [--controller URL] [--api-key KEY] [--json] <command> [flags]

Plane's spelling of the admin commands, which also run without "admin":
${Object.keys(HELP_TEXT).map((name) => `  ${name}`).join("\n")}

Run "plane <command> --help" for a command's flags.
`;
