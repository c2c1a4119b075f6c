/**
 * Cluster names are the public `host[:port]` that end users reach backends on (behaviour doc
 * §1.1). This module validates them, builds connect URLs (§2.2) and parses subdomains (§7.4).
 */
import { z } from "zod";

const LABEL = /^(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Why `value` is not a valid `host[:port]` cluster name, or null when it is. */
export function clusterNameError(value: string): string | null {
  if (value.length === 0) return "must not be empty";
  if (value.length > 255) return "must be at most 255 characters";
  let host = value;
  let port: string | undefined;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) return "has an unterminated IPv6 address";
    host = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return "must be host[:port]";
      port = rest.slice(1);
    }
    if (!/^[0-9a-fA-F:.]+$/.test(host) || !host.includes(":")) return "has an invalid IPv6 address";
  } else {
    const colon = value.lastIndexOf(":");
    if (colon >= 0) {
      host = value.slice(0, colon);
      port = value.slice(colon + 1);
    }
    if (!IPV4.test(host) && !host.split(".").every((label) => LABEL.test(label))) {
      return `has an invalid host "${host}"`;
    }
  }
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return `has an invalid port "${port}"`;
  }
  return null;
}

export const ClusterName = z.string().superRefine((value, ctx) => {
  const error = clusterNameError(value);
  if (error) ctx.addIssue({ code: "custom", message: `Invalid cluster name "${value}": ${error}` });
}).brand<"ClusterName">();
export type ClusterName = z.infer<typeof ClusterName>;

/** The port of a cluster name, or null when it names none. */
export function clusterPort(cluster: string): number | null {
  const match = /:(\d{1,5})$/.exec(cluster);
  if (!match || (cluster.startsWith("[") && !cluster.includes("]:"))) return null;
  return Number(match[1]);
}

/** HTTPS unless the cluster names a port other than 443 (§1.1). */
export function clusterIsHttps(cluster: string): boolean {
  const port = clusterPort(cluster);
  return port === null || port === 443;
}

/** `{proto}://[{subdomain}.]{cluster}/{token}/` (§2.2). */
export function connectionUrl(cluster: string, token: string, subdomain: string | null): string {
  const proto = clusterIsHttps(cluster) ? "https" : "http";
  const host = subdomain ? `${subdomain}.${cluster}` : cluster;
  return `${proto}://${host}/${token}/`;
}

/**
 * The subdomain a Host header names within a cluster (§7.4): `null` for the cluster itself,
 * the prefix for `prefix.cluster`, and `undefined` when the host is not in the cluster.
 */
export function subdomainFromHost(host: string, cluster: string): string | null | undefined {
  const bare = host.endsWith(":443") ? host.slice(0, -4) : host;
  if (bare === cluster) return null;
  const suffix = `.${cluster}`;
  if (bare.endsWith(suffix) && bare.length > suffix.length) {
    return bare.slice(0, -suffix.length);
  }
  return undefined;
}

/** A subdomain label: a-z, 0-9 and `-`, not first or last (Plane's CLI rule, applied to the API too). */
export const Subdomain = z.string().regex(
  /^(?!-)[a-z0-9-]{1,63}(?<!-)$/,
  "Invalid subdomain: use 1-63 characters of a-z, 0-9 and -, not starting or ending with -",
);
