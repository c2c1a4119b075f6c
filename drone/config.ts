/**
 * The drone's configuration: one zod schema with every default (style.md §37), parsed from flags
 * and environment by the CLI. Flags follow Plane's (plane-0.5.md §11.1).
 */
import { z } from "zod";
import { ClusterName, DroneName, NETWORK_MODES } from "../shared/mod.ts";
import { LocalImage } from "./executor/mod.ts";

export const DroneConfig = z.object({
  name: DroneName.optional(),
  /** Controller URL; a bearer secret may ride as the URL's username (plane-0.5.md §1.2). */
  controllerUrl: z.url(),
  cluster: ClusterName,
  pool: z.string().max(255).default(""),
  /** Cluster secret sent on the socket (decisions.md §3.1). */
  secret: z.string().optional(),
  /** Address proxies reach this drone's backends on. */
  ip: z.string().default("127.0.0.1"),
  /** SQLite state file; always on disk (decisions.md §2.9 fixes Plane's orphaned containers). */
  db: z.string().default(".plane/drone-state.db"),
  runtime: z.enum(["local", "docker"]).default("local"),
  /** Local-process runtime: image name → command. */
  images: z.record(z.string(), LocalImage).default({}),
  /** Docker runtime: `HostConfig.Runtime`, e.g. runsc (plane-0.5.md §3.2). */
  dockerRuntime: z.string().optional(),
  /** Docker runtime: `HostConfig.LogConfig` (plane-0.5.md §3.2). */
  logConfig: z.object({ Type: z.string(), Config: z.record(z.string(), z.string()).optional() })
    .optional(),
  /** Docker runtime: host directory under which backend mounts are made (plane-0.5.md §3.4). */
  mountBase: z.string().optional(),
  /** Docker runtime: host networking with a drone-assigned PORT instead of a published 8080. */
  hostNetwork: z.boolean().default(false),
  /**
   * Docker runtime: `network_name` values that are modes, not networks, a spawn may ask for
   * (issue 10, finding 8). `container:<id>` is never allowed.
   */
  allowNetworkModes: z.array(z.enum(NETWORK_MODES)).default([]),
  /** Docker runtime: prune stopped backend containers older than this (plane-0.5.md §3.2). */
  pruneMinAgeSeconds: z.number().int().min(0).default(0),
  heartbeatMs: z.number().int().positive().default(7_000),
  softGraceMs: z.number().int().positive().default(30_000),
  /**
   * How long a backend may take to answer HTTP before it is hard-terminated (plane-0.5.md §3.6: 300
   * s).
   */
  startupTimeoutSeconds: z.number().int().positive().default(300),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Port of `GET /metrics` (issue 15); unset: no metrics listener. */
  metricsPort: z.number().int().min(0).max(65535).optional(),
  /** Address of the metrics listener: loopback, so the series are not public by accident. */
  metricsHostname: z.string().default("127.0.0.1"),
});
export type DroneConfig = z.infer<typeof DroneConfig>;
export type DroneConfigInput = z.input<typeof DroneConfig>;
