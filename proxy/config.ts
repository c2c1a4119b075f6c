/**
 * `plane proxy` configuration: one zod schema with every default (style.md §37), parsed from
 * flags and environment by the CLI. Flags follow Plane's (plane-0.5.md §11.1); the port rules
 * are plane-0.5.md §7.1's table.
 */
import { z } from "zod";
import { ClusterName, ProxyName } from "../shared/mod.ts";

const Port = z.number().int().min(0).max(65535);

export const ProxyConfig = z.object({
  name: ProxyName.optional(),
  /** Controller URL; a bearer secret may ride as the URL's username (plane-0.5.md §1.2). */
  controllerUrl: z.url(),
  cluster: ClusterName,
  /** Cluster secret sent on the proxy socket (decisions.md §3.1). */
  secret: z.string().optional(),
  /** Serve HTTPS (plane-0.5.md §7.1); implied by `httpsPort`. */
  https: z.boolean().default(false),
  /** plane-0.5.md §7.1: 9090, or 80 (redirect only) when HTTPS is on. */
  httpPort: Port.optional(),
  /** plane-0.5.md §7.1: 443 when HTTPS is on. */
  httpsPort: Port.optional(),
  /**
   * Plane's certificate JSON `{cert, key}` (plane-0.5.md §10.4); required for HTTPS, written by
   * ACME.
   */
  certPath: z.string().optional(),
  /**
   * ACME directory URL (plane-0.5.md §10.4); with `acmeEmail`, the proxy obtains its own
   * certificate.
   */
  acmeEndpoint: z.url().optional(),
  /** ACME account contact. */
  acmeEmail: z.email().optional(),
  /** External account binding key id (RFC 8555 §7.3.4); with `acmeEabHmacKey`. */
  acmeEabKid: z.string().min(1).optional(),
  /** External account binding HMAC key, base64url without padding. */
  acmeEabHmacKey: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be base64url without padding")
    .optional(),
  /** PEM file of CA certificates trusted for the ACME server's TLS (a test CA such as Pebble's). */
  acmeCaFile: z.string().optional(),
  /** `GET /` → 301 to this URL instead of 400 (plane-0.5.md §7.2). */
  rootRedirectUrl: z.url().optional(),
  /** Longest wait for a pending route before 504 (decisions.md §2.10: 5 min). */
  routeWaitSeconds: z.number().positive().default(300),
  /**
   * Longest a request body may go without a byte arriving before the proxy answers 408 and
   * closes both connections (issue 10, finding 6; inactivity, not total upload time).
   */
  bodyTimeoutSeconds: z.number().positive().default(30),
  /** Listen address (plane-0.5.md §7.1: all interfaces). */
  hostname: z.string().default("0.0.0.0"),
  /**
   * Route `/_plane_backend=<BACKEND_ID>/…` by backend id (jamsocket-api.md §10.2) instead of
   * tokens. It skips token authorisation entirely, so it is for local development only.
   */
  pathRouting: z.boolean().default(false),
  /** Allow path routing on a non-loopback listener (otherwise refused at start-up). */
  forcePathRouting: z.boolean().default(false),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /**
   * Engines serving the port (issue 13): unset means one per CPU core (resolved at start, so
   * the documented default is not this machine's count); 1 is a single thread with no worker.
   */
  workers: z.number().int().min(1).max(1024).optional(),
  /**
   * Open client connections allowed across all workers; past it a client gets a 503 and the
   * refusals are logged (issue 13). Unset: half of what the soft descriptor limit leaves after
   * a reserve (`connection_cap.ts`), so backend connects never fail for want of a descriptor.
   */
  maxConnections: z.number().int().min(1).optional(),
  /** Port of `GET /metrics` (issue 15); unset: no metrics listener. Never the public port. */
  metricsPort: Port.optional(),
  /** Address of the metrics listener: loopback, so the series are not public by accident. */
  metricsHostname: z.string().default("127.0.0.1"),
}).transform((c, ctx) => {
  const fail = (field: string, message: string) => {
    ctx.addIssue({ code: "custom", path: [field], message });
    return z.NEVER;
  };
  // plane-0.5.md §10.4: endpoint and email both or neither; the two EAB flags both or neither.
  if ((c.acmeEndpoint === undefined) !== (c.acmeEmail === undefined)) {
    return fail(
      c.acmeEndpoint === undefined ? "acmeEndpoint" : "acmeEmail",
      "ACME needs both --acme-endpoint URL and --acme-email EMAIL",
    );
  }
  if ((c.acmeEabKid === undefined) !== (c.acmeEabHmacKey === undefined)) {
    return fail(
      c.acmeEabKid === undefined ? "acmeEabKid" : "acmeEabHmacKey",
      "External account binding needs both --acme-eab-kid and --acme-eab-hmac-key",
    );
  }
  const acme = c.acmeEndpoint !== undefined && c.acmeEmail !== undefined
    ? {
      directoryUrl: c.acmeEndpoint,
      email: c.acmeEmail,
      eab: c.acmeEabKid !== undefined && c.acmeEabHmacKey !== undefined
        ? { kid: c.acmeEabKid, hmacKey: c.acmeEabHmacKey }
        : undefined,
      caFile: c.acmeCaFile,
    }
    : undefined;
  if (acme === undefined && (c.acmeEabKid !== undefined || c.acmeCaFile !== undefined)) {
    return fail("acmeEndpoint", "ACME flags need --acme-endpoint URL and --acme-email EMAIL");
  }
  // ACME is for HTTPS, so it turns HTTPS on.
  const https = c.https || c.httpsPort !== undefined || acme !== undefined;
  if (https && c.certPath === undefined) {
    return fail(
      "certPath",
      acme === undefined
        ? "HTTPS needs a certificate file: pass --cert-path FILE (or obtain one over ACME " +
          "with --acme-endpoint and --acme-email)"
        : "ACME needs a file to keep the certificate in: pass --cert-path FILE",
    );
  }
  const loopback = c.hostname === "localhost" || c.hostname === "::1" || /^127\./.test(c.hostname);
  if (c.pathRouting && !loopback && !c.forcePathRouting) {
    ctx.addIssue({
      code: "custom",
      path: ["hostname"],
      message: `Path routing lets anyone who knows a backend id reach it, so it binds loopback ` +
        `only: pass --hostname 127.0.0.1 (listening on ${c.hostname}), or ` +
        `--force-path-routing to expose it anyway`,
    });
    return z.NEVER;
  }
  const httpPort = c.httpPort ?? (https ? 80 : 9090);
  const httpsPort = https ? c.httpsPort ?? 443 : undefined;
  if (c.metricsPort !== undefined && c.metricsPort !== 0) {
    if (c.metricsPort === httpPort || c.metricsPort === httpsPort) {
      ctx.addIssue({
        code: "custom",
        path: ["metricsPort"],
        message: `The metrics port must not be the public proxy port (${c.metricsPort}): ` +
          `choose another --metrics-port`,
      });
      return z.NEVER;
    }
  }
  return { ...c, acme, https, httpPort, httpsPort };
});
export type ProxyConfig = z.infer<typeof ProxyConfig>;
export type ProxyConfigInput = z.input<typeof ProxyConfig>;
