/**
 * What the controller checks in a spawn's otherwise opaque `executable` (plane-0.5.md §2.2)
 * before anything is written (issue 10, findings 4 and 8): the caller's `env` names against
 * `shared/backend_env.ts`, and the Docker fields whose syntax Docker would read as something
 * else (`network_name`, `mount`). The drone checks again; this makes a refusal a 400 at
 * connect instead of a backend that fails to start.
 */
import { firstEnvRefusal, mountPathProblem, networkNameProblem } from "../shared/mod.ts";

export const CONTROLLER_OPT_IN = "an operator may opt it in with the controller's " +
  "--allow-backend-env NAME (PLANE_ALLOW_BACKEND_ENV) and, for a local-process drone, the " +
  "image's \"allowEnv\" in the drone's --images file";

export interface ExecutableCheckOptions {
  /** Injection names the operator opted in (`--allow-backend-env`). */
  allowedEnv: ReadonlySet<string>;
  /** The key's name, which `mount: true` mounts (null for a generated key). */
  keyName: string | null;
}

export type ExecutableProblem = { kind: "reserved" | "invalid"; message: string };

/** The first problem with `executable`'s caller-controlled fields, or null. */
export function executableProblem(
  executable: Record<string, unknown>,
  options: ExecutableCheckOptions,
): ExecutableProblem | null {
  const env = executable.env;
  if (env !== undefined && env !== null) {
    if (
      typeof env !== "object" || Array.isArray(env) ||
      Object.values(env).some((v) => typeof v !== "string")
    ) {
      return { kind: "invalid", message: "Invalid executable.env: use an object of strings" };
    }
    const refusal = firstEnvRefusal(env as Record<string, unknown>, {
      allowed: options.allowedEnv,
      optIn: CONTROLLER_OPT_IN,
    });
    if (refusal) {
      return {
        kind: refusal.kind === "reserved" ? "reserved" : "invalid",
        message: refusal.message,
      };
    }
  }
  const network = executable["network_name"];
  if (network !== undefined && network !== null) {
    const problem = typeof network === "string"
      ? networkNameProblem(network)
      : "Invalid executable.network_name: use a string";
    if (problem) return { kind: "invalid", message: problem };
  }
  const mount = executable.mount;
  if (typeof mount === "string" || (mount === true && options.keyName !== null)) {
    const path = typeof mount === "string" ? mount : options.keyName!;
    const problem = mountPathProblem(path);
    if (problem) {
      return {
        kind: "invalid",
        message: mount === true ? `${problem} (mount: true mounts the key's name)` : problem,
      };
    }
  }
  return null;
}
