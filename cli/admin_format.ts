/**
 * What the admin commands print for people (pure functions; `--json` prints the API's own
 * JSON instead). Kept apart from `admin_command.ts` so each format is unit-tested.
 */
import {
  type BackendInfo,
  type BackendList,
  BackendState,
  type BackendStatusStreamEntry,
  type ClusterState,
  type ConnectResponse,
  isExitError,
  type LogLine,
  type NodeState,
  PlaneApiError,
  PlaneProtocolError,
  type StatusResponse,
} from "../shared/mod.ts";

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  }
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))))
    .map((cells) => cells.join("  "))
    .join("\n");
}

/** `45s`, `12m`, `3h`, `2d`: the largest whole unit. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** `2025-01-02 03:04:05.678Z`: epoch milliseconds in UTC. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ");
}

/** One status line: `2025-01-02 03:04:05.678Z  terminated  reason=external kind=soft`. */
export function formatStatusEntry(entry: BackendStatusStreamEntry): string {
  const details: string[] = [];
  if (entry.termination_reason) details.push(`reason=${entry.termination_reason}`);
  if (entry.termination_kind) details.push(`kind=${entry.termination_kind}`);
  if (entry.exit_error !== undefined) details.push(`exit_error=${entry.exit_error}`);
  if (entry.error !== undefined) details.push(`error=${JSON.stringify(entry.error)}`);
  const head = `${formatTime(entry.time)}  ${entry.status}`;
  return details.length > 0 ? `${head}  ${details.join(" ")}` : head;
}

export function formatConnect(response: ConnectResponse): string {
  const rows: string[][] = [
    ["Backend:", `${response.backend_id} (${response.spawned ? "created" : "reusing"})`],
    ["Status:", response.status],
    ["URL:", response.url],
    ["Status URL:", response.status_url],
  ];
  if (response.drone) rows.push(["Drone:", response.drone]);
  if (response.subdomain) rows.push(["Subdomain:", response.subdomain]);
  return table(rows);
}

export function formatControllerStatus(
  controllerUrl: string,
  status: StatusResponse,
  client: { version: string; hash: string },
): string {
  const same = status.version === client.version && status.hash === client.hash;
  return table([
    ["Controller:", `${controllerUrl} (${status.status})`],
    ["Controller version:", `${status.version} (hash ${status.hash})`],
    [
      "Client version:",
      `${client.version} (hash ${client.hash})${same ? "" : "  differs from the controller"}`,
    ],
  ]);
}

function nodeName(node: NodeState): string {
  return Object.values(node.name)[0] ?? "?";
}

export function formatClusterState(cluster: string, state: ClusterState): string {
  const lines = [
    `Cluster ${cluster}: ${state.drones.length} drone(s), ${state.proxies.length} proxy(ies)`,
  ];
  if (state.drones.length > 0) {
    lines.push("", "Drones:");
    lines.push(table([
      ["NAME", "READY", "DRAINING", "BACKENDS", "HEARTBEAT", "CONTROLLER", "VERSION"],
      ...state.drones.map((d) => [
        nodeName(d.node),
        d.ready ? "yes" : "no",
        d.draining ? "yes" : "no",
        String(d.backend_count),
        d.last_heartbeat_age === null ? "never" : `${d.last_heartbeat_age}s ago`,
        d.node.controller,
        d.node.plane_version,
      ]),
    ]));
  }
  if (state.proxies.length > 0) {
    lines.push("", "Proxies:");
    lines.push(table([
      ["NAME", "CONTROLLER", "CONTROLLER HEARTBEAT", "VERSION"],
      ...state.proxies.map((p) => [
        nodeName(p),
        p.controller,
        `${p.controller_heartbeat_age}s ago`,
        p.plane_version,
      ]),
    ]));
  }
  return lines.join("\n");
}

function keyText(key: BackendInfo["key"]): string {
  if (!key) return "-";
  const namespaced = key.namespace ? `${key.namespace}/${key.name}` : key.name;
  return key.tag ? `${namespaced}#${key.tag}` : namespaced;
}

export function formatBackendInfo(info: BackendInfo, now: number): string {
  const rows: string[][] = [
    ["Backend:", info.id],
    ["Status:", `${info.status} (since ${formatTime(info.status_time)})`],
    ["Cluster:", info.cluster],
    ["Drone:", info.drone],
    ["Key:", keyText(info.key)],
    ["Address:", info.address ?? "-"],
    ["Created:", `${formatTime(info.created_at)} (${formatAge(now - info.created_at)} ago)`],
    ["Last keepalive:", `${formatAge(now - info.last_keepalive)} ago`],
  ];
  if (info.allowed_idle_seconds !== null) {
    rows.push(["Idle limit:", `${info.allowed_idle_seconds}s`]);
  }
  if (info.expiration_time !== null) rows.push(["Expires:", formatTime(info.expiration_time)]);
  if (info.subdomain) rows.push(["Subdomain:", info.subdomain]);
  rows.push(...terminationRows(info.state));
  return table(rows);
}

/** Why a terminated (or terminating) backend ended (issue 12): reason, exit code, error. */
function terminationRows(raw: unknown): string[][] {
  const parsed = BackendState.safeParse(raw);
  if (!parsed.success) return [];
  const state = parsed.data;
  if (state.status === "terminating" || state.status === "hard-terminating") {
    const rows = [["Reason:", state.reason]];
    if (state.status === "hard-terminating" && state.error) rows.push(["Error:", state.error]);
    return rows;
  }
  if (state.status !== "terminated") return [];
  const rows = [["Reason:", state.reason ?? "none (exited by itself)"]];
  if (state.exit_code !== null) {
    const error = isExitError(state.termination, state.exit_code) ? "error" : "not an error";
    rows.push(["Exit code:", `${state.exit_code} (${error})`]);
  }
  if (state.error) rows.push(["Error:", state.error]);
  return rows;
}

export function formatBackendList(list: BackendList, now: number): string {
  if (list.backends.length === 0) return "No backends.";
  const lines = [table([
    ["ID", "STATUS", "DRONE", "KEY", "AGE", "SINCE"],
    ...list.backends.map((b) => [
      b.id,
      b.status,
      b.drone,
      keyText(b.key),
      formatAge(now - b.created_at),
      `${formatAge(now - b.status_time)} ago`,
    ]),
  ])];
  if (list.next_cursor) lines.push("", `More: pass --cursor ${list.next_cursor}`);
  return lines.join("\n");
}

/** A backend log line for people: its text, prefixed on stderr lines. */
export function formatLogLine(line: LogLine): string {
  return line.stream === "stderr" ? `[stderr] ${line.text}` : line.text;
}

/**
 * The one line an admin command prints when the controller says no: the API's message, the
 * HTTP status and kind, and the error id the controller logged (plane-0.5.md §11.1).
 */
export function formatAdminError(err: unknown, controllerUrl: string): string {
  if (err instanceof PlaneApiError) {
    const id = err.id ? `, error id ${err.id}` : "";
    return `error: ${err.message} (HTTP ${err.status} ${err.kind}${id})`;
  }
  if (err instanceof PlaneProtocolError) return `error: ${err.message}`;
  const message = err instanceof Error ? err.message : String(err);
  // fetch's TypeError: the controller is down, the URL is wrong, or the connection broke.
  if (err instanceof TypeError) {
    return `error: cannot reach the controller at ${controllerUrl}: ${message.split("\n")[0]}`;
  }
  return `error: ${message.split("\n")[0]}`;
}
