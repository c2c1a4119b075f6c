/**
 * `plane dns` configuration (plane-0.5.md §10.2, §11.1): one zod schema with every default,
 * parsed from flags and environment by the CLI.
 */
import { z } from "zod";
import { DnsServerName } from "../shared/mod.ts";

export const DnsConfig = z.object({
  name: DnsServerName.optional(),
  /** Controller URL; a bearer secret may ride as the URL's username (plane-0.5.md §1.2). */
  controllerUrl: z.url(),
  /** The zone delegated to this server (plane-0.5.md §10.1); required, as in Plane. */
  zone: z.string().min(1).max(253).regex(
    /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/,
    "must be a domain name such as acme.example.net",
  ),
  /** Cluster secret sent on the socket (decisions.md §3.1). */
  secret: z.string().optional(),
  /** UDP and TCP port (plane-0.5.md §10.2: 53). */
  port: z.number().int().min(0).max(65535).default(53),
  /** Listen address (plane-0.5.md §10.2: all interfaces). */
  hostname: z.string().default("0.0.0.0"),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
});
export type DnsConfig = z.infer<typeof DnsConfig>;
export type DnsConfigInput = z.input<typeof DnsConfig>;
