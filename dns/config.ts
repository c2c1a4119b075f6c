/**
 * `plane dns` configuration (behaviour doc §10.2, §11.1): one zod schema with every default,
 * parsed from flags and environment by the CLI.
 */
import { z } from "zod";
import { DnsServerName } from "../shared/names.ts";

export const DnsConfig = z.object({
  name: DnsServerName.optional(),
  /** Controller URL; a bearer secret may ride as the URL's username (§1.2). */
  controllerUrl: z.url(),
  /** The zone delegated to this server (§10.1); required, as in Plane. */
  zone: z.string().min(1).max(253).regex(
    /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/,
    "must be a domain name such as acme.example.net",
  ),
  /** Cluster secret sent on the socket (decisions.md extension 1). */
  secret: z.string().optional(),
  /** UDP and TCP port (§10.2: 53). */
  port: z.number().int().min(0).max(65535).default(53),
  /** Listen address (§10.2: all interfaces). */
  hostname: z.string().default("0.0.0.0"),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
});
export type DnsConfig = z.infer<typeof DnsConfig>;
export type DnsConfigInput = z.input<typeof DnsConfig>;
