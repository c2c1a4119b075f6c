/**
 * Syntax of the Docker executable's `network_name` and `mount` (plane-0.5.md §3.1, §3.4),
 * checked by the controller at connect and again by the drone's container builder (issue 10,
 * finding 8). Both end up in Docker strings with their own syntax: `NetworkMode` reads
 * `container:<id>`, `host` and `none` as modes, and a bind is `src:dst[:opts]`.
 */

/** Docker's name rule for networks and containers (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`). */
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** `NetworkMode` values that are modes, not networks; a drone may enable them. */
export const NETWORK_MODES = ["host", "none"] as const;
export type NetworkMode = typeof NETWORK_MODES[number];

/**
 * Why `name` cannot be a `network_name`, or null. `container:<id>` (share another container's
 * network namespace) never passes: its `:` is not in Docker's name rule.
 */
export function networkNameProblem(name: string): string | null {
  if (!NETWORK_NAME.test(name)) {
    return `Invalid executable.network_name ${JSON.stringify(name)}: name a Docker network ` +
      "(letters, digits, '_', '.', '-', starting with a letter or digit; no ':' or '/')";
  }
  return null;
}

/**
 * Why `path` cannot be a mount path under the drone's mount base, or null: it must be
 * relative, of normal components (no empty, `.` or `..`), and free of `:` (which would add a
 * field to the bind) and control characters.
 */
export function mountPathProblem(path: string): string | null {
  const parts = path.split("/");
  if (
    path === "" || path.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..")
  ) {
    return `Invalid mount path ${JSON.stringify(path)}: use a relative path of plain components ` +
      "(no leading '/', no empty, '.' or '..' component)";
  }
  // deno-lint-ignore no-control-regex
  if (/[:\u0000-\u001f\u007f]/.test(path)) {
    return `Invalid mount path ${JSON.stringify(path)}: ':' and control characters are not ` +
      "allowed (Docker reads ':' as a field separator)";
  }
  return null;
}
