/**
 * Cluster names are the public `host[:port]` that end users reach backends on (plane-0.5.md
 * §1.1). This module validates them, builds connect URLs (plane-0.5.md §2.2) and parses subdomains
 * (plane-0.5.md §7.4).
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

/** HTTPS unless the cluster names a port other than 443 (plane-0.5.md §1.1). */
export function clusterIsHttps(cluster: string): boolean {
  const port = clusterPort(cluster);
  return port === null || port === 443;
}

/** `{proto}://[{subdomain}.]{cluster}/{token}/` (plane-0.5.md §2.2). */
export function connectionUrl(cluster: string, token: string, subdomain: string | null): string {
  const proto = clusterIsHttps(cluster) ? "https" : "http";
  const host = subdomain ? `${subdomain}.${cluster}` : cluster;
  return `${proto}://${host}/${token}/`;
}

/**
 * What a Host header names within a cluster (plane-0.5.md §7.4): its subdomain, or why it is
 * refused.
 */
export type HostMatch =
  | { ok: true; subdomain: string | null }
  /** 400: not `host[:port]` at all; 403: a well-formed host outside the cluster. */
  | { ok: false; status: 400 | 403 };

/** `host[:port]` (IPv6 literals in brackets) split; null when malformed. */
function splitHostPort(value: string): { name: string; port: number | null } | null {
  let name = value;
  let port: string | null = null;
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    if (end < 0) return null;
    name = value.slice(0, end + 1);
    const rest = value.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return null;
      port = rest.slice(1);
    }
  } else {
    const colon = value.indexOf(":");
    if (colon >= 0) {
      name = value.slice(0, colon);
      port = value.slice(colon + 1);
    }
  }
  if (name === "" || name.includes(":") && !name.startsWith("[")) return null;
  if (port === null) return { name, port: null };
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return null;
  return { name, port: Number(port) };
}

/**
 * The subdomain a Host header (lower-cased) names within a cluster (plane-0.5.md §7.4): `null` for
 * the cluster itself, the prefix for `prefix.cluster`. Ports must match: a cluster that names one
 * (`localhost:9090`) takes exactly that port, or none when it is 80 or 443 (the scheme's default,
 * which browsers omit); a cluster without one (public HTTPS, plane-0.5.md §1.1) takes no port,
 * `:443`, or `listenerPort` (the default port of the listener the request came in on: 80 for plain
 * HTTP behind a TLS-ending load balancer). Plane strips a trailing `:443` from any host, which let
 * `sub.localhost:9090:443` through (issue 10, finding 8): a host that is not `host[:port]` is a 400
 * here, one outside the cluster a 403.
 */
export function matchHost(host: string, cluster: string, listenerPort: number): HostMatch {
  const parsed = splitHostPort(host);
  if (parsed === null) return { ok: false, status: 400 };
  const own = clusterPort(cluster);
  const clusterHost = own === null ? cluster : cluster.slice(0, cluster.lastIndexOf(":"));
  const port = parsed.port;
  const portOk = own === null
    ? port === null || port === 443 || port === listenerPort
    : port === own || (port === null && (own === 80 || own === 443));
  if (!portOk) return { ok: false, status: 403 };
  const name = parsed.name;
  if (name === clusterHost) return { ok: true, subdomain: null };
  const suffix = `.${clusterHost}`;
  if (name.endsWith(suffix) && name.length > suffix.length) {
    return { ok: true, subdomain: name.slice(0, -suffix.length) };
  }
  return { ok: false, status: 403 };
}

/** A subdomain label: a-z, 0-9 and `-`, not first or last (Plane's CLI rule, applied to the API too). */
export const Subdomain = z.string().regex(
  /^(?!-)[a-z0-9-]{1,63}(?<!-)$/,
  "Invalid subdomain: use 1-63 characters of a-z, 0-9 and -, not starting or ending with -",
);
