/**
 * `plane dns`: flags and environment → `DnsConfig` → the DNS server on UDP and TCP (plane-0.5.md
 * §10.2, §11.1). `startDns` is the one wiring path.
 */
import {
  createDnsServer,
  DnsConfig,
  type DnsConfigInput,
  type DnsServer,
  serveDns,
} from "../dns/mod.ts";
import { createLogger, type Logger } from "../shared/mod.ts";
import {
  type ConfigFlag,
  describeFlagError,
  type FlagsResult,
  parseFlagsOf,
  wholeNumberFlag,
} from "./config_flags.ts";
import { socketRoleFlags, socketRoleInput } from "./socket_role_flags.ts";
import { UsageError } from "./usage_error.ts";

export const DNS_HELP = `Usage: plane dns --controller-url URL --zone ZONE [flags]

Runs the DNS server that answers ACME DNS-01 challenges (TXT records) for every cluster's
proxies, from the controller. Delegate ZONE to it and CNAME each cluster's
_acme-challenge.CLUSTER to CLUSTER.ZONE (see deploy/README.md).

Flags (environment variable in brackets; flags win):
  --controller-url URL   controller to dial; a secret may ride as the URL's username
                         [PLANE_CONTROLLER_URL]
  --zone ZONE            zone this server answers for, e.g. acme.example.net [PLANE_DNS_ZONE]
  --name NAME            server name, ns-... (default random)
  --secret SECRET        cluster secret for the socket [PLANE_CLUSTER_SECRET]
  --port N               UDP and TCP port (default 53)
  --hostname HOST        listen address (default 0.0.0.0)
  --log-level LEVEL      debug, info, warn or error (default info) [PLANE_LOG_LEVEL]
  -h, --help             show this help
`;

const SHARED = socketRoleFlags({ noun: "server", namePrefix: "ns", socket: "DNS" });
const ZONE_ENV = "PLANE_DNS_ZONE";

/** Every `plane dns` flag: the parser's table and the README's configuration reference. */
export const DNS_FLAGS = [
  SHARED.controllerUrl,
  {
    flag: "--zone",
    value: "ZONE",
    field: "zone",
    env: ZONE_ENV,
    meaning: "zone delegated to this server; `CLUSTER.ZONE` and `_acme-challenge.CLUSTER` " +
      "(CLUSTER inside ZONE) are answered, other names get REFUSED",
  },
  SHARED.name,
  SHARED.secret,
  { flag: "--port", value: "N", field: "port", meaning: "UDP and TCP port" },
  { flag: "--hostname", value: "HOST", field: "hostname", meaning: "listen address" },
  SHARED.logLevel,
] as const satisfies readonly ConfigFlag<keyof DnsConfigInput>[];

/** Parses `plane dns` arguments over the environment; throws `UsageError` with one line. */
export function parseDnsFlags(
  args: string[],
  env: (name: string) => string | undefined,
): FlagsResult<DnsConfig> {
  const values = parseFlagsOf(args, DNS_FLAGS, "dns");
  if (values.help) return { kind: "help" };
  const input = socketRoleInput(DNS_FLAGS, { values, env });
  const set = (key: string, value: unknown) => value !== undefined && (input[key] = value);
  set("zone", values.zone ?? env(ZONE_ENV));
  set("port", wholeNumberFlag("port", values.port));
  set("hostname", values.hostname);
  const parsed = DnsConfig.safeParse(input);
  if (!parsed.success) throw new UsageError(describeFlagError(parsed.error, DNS_FLAGS, input));
  return { kind: "run", config: parsed.data };
}

export interface RunningDns {
  server: DnsServer;
  /** The bound port (useful with port 0). */
  port: number;
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startDns(
  config: DnsConfig,
  options: { log?: Logger } = {},
): Promise<RunningDns> {
  const log = options.log ?? createLogger("dns", { level: config.logLevel });
  const server = createDnsServer({
    controllerUrl: config.controllerUrl,
    zone: config.zone,
    name: config.name,
    secret: config.secret,
    log,
  });
  let listeners;
  try {
    listeners = await serveDns(server, { hostname: config.hostname, port: config.port, log });
  } catch (err) {
    await server.close();
    throw err;
  }
  log.info("DNS server listening", {
    name: server.name,
    zone: config.zone,
    port: listeners.port,
  });
  const { promise: done, resolve } = Promise.withResolvers<void>();
  let stopping: Promise<void> | null = null;
  return {
    server,
    port: listeners.port,
    done,
    stop() {
      stopping ??= (async () => {
        log.info("DNS server shutting down");
        await listeners.close();
        await server.close();
        resolve();
      })();
      return stopping;
    },
  };
}
