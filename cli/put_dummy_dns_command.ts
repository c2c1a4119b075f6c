/**
 * `plane put-dummy-dns --cluster NAME` (plane-0.5.md §10.4, Plane's wiring check): takes the
 * cluster's certificate lease over a proxy socket, as a proxy would, and sets a dummy TXT value,
 * so an operator can check that `_acme-challenge.NAME` reaches `plane dns` (dig) before any
 * proxy needs a certificate. The lease is not released: the value stays until another proxy
 * leases, and the lease ages out after a minute (plane-0.5.md §10.3).
 */
import { parseArgs } from "node:util";
import {
  clusterNameError,
  createLogger,
  type MessageFromProxy,
  MessageToProxy,
  randomProxyName,
  randomSuffix,
  startSocketClient,
} from "../shared/mod.ts";
import { print } from "./output.ts";
import { UsageError, usageErrorFrom } from "./usage_error.ts";
import { DEFAULT_CONTROLLER_URL } from "./admin_help.ts";

export const PUT_DUMMY_DNS_HELP = `Usage: plane put-dummy-dns --cluster NAME [flags]

Sets a dummy TXT value for NAME's ACME challenge through the controller, as a proxy would, to
check the DNS wiring: afterwards "dig TXT _acme-challenge.NAME" should answer it (through
plane dns). Refused while a proxy of NAME holds the certificate lease (retry after a minute).

Flags (environment variable in brackets):
  --cluster NAME       the cluster (required)
  --controller URL     controller (default ${DEFAULT_CONTROLLER_URL}) [PLANE_CONTROLLER_URL]
  --secret SECRET      cluster secret for the proxy socket [PLANE_CLUSTER_SECRET]
  -h, --help           show this help
`;

const TIMEOUT_MS = 10_000;

export async function runPutDummyDns(
  args: string[],
  env: (name: string) => string | undefined,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        cluster: { type: "string" },
        controller: { type: "string" },
        secret: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw usageErrorFrom(err, "put-dummy-dns");
  }
  if (values.help) {
    print(PUT_DUMMY_DNS_HELP);
    return 0;
  }
  const cluster = values.cluster;
  if (cluster === undefined) {
    throw new UsageError(
      '"plane put-dummy-dns" needs --cluster NAME: see "plane put-dummy-dns --help"',
    );
  }
  const nameError = clusterNameError(cluster);
  if (nameError) throw new UsageError(`Invalid cluster name "${cluster}": ${nameError}`);
  const controllerUrl = values.controller ??
    (env("PLANE_CONTROLLER_URL") || DEFAULT_CONTROLLER_URL);
  const secret = values.secret ?? (env("PLANE_CLUSTER_SECRET") || undefined);

  const answers: MessageToProxy[] = [];
  let wake: (() => void) | null = null;
  const connected = Promise.withResolvers<void>();
  const link = startSocketClient<MessageToProxy, MessageFromProxy>(
    {
      controllerUrl,
      cluster,
      kind: "proxy-socket",
      name: randomProxyName(),
      secret,
      schema: MessageToProxy,
      backoffMaxMs: 2_000,
    },
    {
      onConnected: () => connected.resolve(),
      onMessage(message) {
        answers.push(message);
        wake?.();
      },
    },
    { log: createLogger("put-dummy-dns", { level: "error" }) },
  );
  const deadline = AbortSignal.timeout(TIMEOUT_MS);
  async function answer(kind: "CertLeaseResponse" | "SetTxtRecordResponse"): Promise<boolean> {
    for (;;) {
      const index = answers.findIndex((m) =>
        "CertManagerResponse" in m && kind in m.CertManagerResponse
      );
      if (index >= 0) {
        const [message] = answers.splice(index, 1);
        const response = (message as { CertManagerResponse: Record<string, { accepted: boolean }> })
          .CertManagerResponse;
        return response[kind]!.accepted;
      }
      deadline.throwIfAborted();
      await new Promise<void>((resolve) => {
        wake = resolve;
        deadline.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }
  try {
    await Promise.race([
      connected.promise,
      new Promise((_, reject) =>
        deadline.addEventListener("abort", () =>
          reject(
            new Error(
              `Cannot reach the controller's proxy socket at ${controllerUrl} within ` +
                `${TIMEOUT_MS / 1000} s: check --controller and --secret`,
            ),
          ), { once: true })
      ),
    ]);
    link.send({ CertManagerRequest: "CertLeaseRequest" });
    if (!(await answer("CertLeaseResponse"))) {
      throw new Error(
        `Cannot take the certificate lease of ${cluster}: a proxy holds it; retry in a minute`,
      );
    }
    const value = `plane-dummy-dns-${randomSuffix()}`;
    link.send({ CertManagerRequest: { SetTxtRecord: { "txt_value": value } } });
    if (!(await answer("SetTxtRecordResponse"))) {
      throw new Error(`Cannot set the TXT value of ${cluster}: the lease was taken meanwhile`);
    }
    print(
      `Set the ACME challenge TXT value of ${cluster} to ${value}\n` +
        `Check it: dig TXT _acme-challenge.${cluster}`,
    );
    return 0;
  } finally {
    await link.close();
  }
}
