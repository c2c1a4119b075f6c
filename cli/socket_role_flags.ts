/**
 * The flag rows every role that dials the controller's socket shares (`drone`, `proxy`, `dns`;
 * plane-0.5.md §11.1): where the controller is, which cluster, the role's name, the cluster
 * secret and the log level. One definition, so a flag, its environment variable and its wording
 * cannot drift between the three tables (and the README's configuration reference made from
 * them).
 */
import type { ConfigFlag } from "./config_flags.ts";

/** How a role names itself in the shared rows' meanings. */
export interface SocketRole {
  /** What the role is called: `drone`, `proxy`, `server`. */
  noun: string;
  /** Prefix of a random name, e.g. `dr` for `dr-…`. */
  namePrefix: string;
  /** What its socket is called, when not the noun (`DNS`). */
  socket?: string;
}

/**
 * The shared rows, worded for `role`; a role's table lists the ones it takes, in its own order.
 * Defaults stay with each role's zod schema, as for every other row.
 */
export function socketRoleFlags(role: SocketRole) {
  return {
    controllerUrl: {
      flag: "--controller-url",
      value: "URL",
      field: "controllerUrl",
      env: "PLANE_CONTROLLER_URL",
      meaning: "controller to dial; a cluster secret may ride as the URL's username",
    },
    cluster: {
      flag: "--cluster",
      value: "NAME",
      field: "cluster",
      env: "PLANE_CLUSTER",
      meaning: `cluster this ${role.noun} serves, \`host[:port]\``,
    },
    name: {
      flag: "--name",
      value: "NAME",
      field: "name",
      unset: `random \`${role.namePrefix}-…\``,
      meaning: `${role.noun} name`,
    },
    secret: {
      flag: "--secret",
      value: "SECRET",
      field: "secret",
      env: "PLANE_CLUSTER_SECRET",
      meaning: `cluster secret for the ${role.socket ?? role.noun} socket`,
    },
    logLevel: {
      flag: "--log-level",
      value: "LEVEL",
      field: "logLevel",
      env: "PLANE_LOG_LEVEL",
      meaning: "log lines (JSON on stderr) from this level up",
    },
  } as const satisfies Record<string, ConfigFlag>;
}

/**
 * The `--metrics-port` and `--metrics-hostname` rows, in that order, of the roles that serve their
 * own scrape endpoint (drone, proxy; the controller serves `/metrics` on its API port).
 * `portMeaning` says what the role's scrape holds.
 */
export function metricsFlags(portMeaning: string) {
  return [
    {
      flag: "--metrics-port",
      value: "N",
      field: "metricsPort",
      unset: "off",
      meaning: portMeaning,
    },
    {
      flag: "--metrics-hostname",
      value: "HOST",
      field: "metricsHostname",
      meaning: "address of the metrics listener",
    },
  ] as const satisfies readonly ConfigFlag[];
}

const SHARED_FLAGS: ReadonlySet<string> = new Set(
  Object.values(socketRoleFlags({ noun: "", namePrefix: "" })).map((row) => row.flag),
);

/**
 * The config input for the shared rows in `flags` (a role's whole table): each flag's value, or
 * its environment variable when the flag is absent (flags win). A role without `--cluster`
 * never reads `PLANE_CLUSTER`.
 */
export function socketRoleInput(
  flags: readonly ConfigFlag[],
  { values, env }: {
    values: Readonly<Record<string, unknown>>;
    env: (name: string) => string | undefined;
  },
): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const row of flags) {
    if (!SHARED_FLAGS.has(row.flag)) continue;
    const value = values[row.flag.slice(2)] ?? (row.env === undefined ? undefined : env(row.env));
    if (value !== undefined) input[row.field] = value;
  }
  return input;
}
