/**
 * Debian's Pebble (a small ACME server for tests, RFC 8555) on loopback, for the end-to-end
 * ACME test: its directory and management interface on free 127.0.0.1 ports with a fixed
 * listener certificate (`fixtures/pebble/`, valid for 127.0.0.1 only), challenges resolved
 * through the DNS server we name (`-dnsserver`), no artificial validation sleeps, every nonce
 * accepted. Without `/usr/bin/pebble` the tests using it are ignored and say so, unless
 * `PLANE_REQUIRE_PEBBLE=1` (`.ci/run`), where they fail.
 */
import { freePort } from "../testing/free_port.ts";
import { waitFor } from "../testing/wait_for.ts";

export const PEBBLE = "/usr/bin/pebble";
const REQUIRE_PEBBLE = Deno.env.get("PLANE_REQUIRE_PEBBLE") === "1";
const FIXTURES = new URL("./fixtures/pebble/", import.meta.url).pathname;
/** The CA that signed the certificate of Pebble's own HTTPS listeners (127.0.0.1). */
export const PEBBLE_LISTENER_CA = `${FIXTURES}ca.pem`;

/** True when the Pebble tests cannot run here; throws when they must (`PLANE_REQUIRE_PEBBLE`). */
export function pebbleMissing(): boolean {
  let missing = false;
  try {
    Deno.statSync(PEBBLE);
  } catch {
    missing = true;
  }
  if (missing && REQUIRE_PEBBLE) {
    throw new Error(
      `The ACME tests must run here (PLANE_REQUIRE_PEBBLE=1) but ${PEBBLE} is missing ` +
        "(apt-get install -y pebble)",
    );
  }
  if (missing) {
    // deno-lint-ignore no-console
    console.error(
      `NOT RUN: ACME tests (${PEBBLE} is missing; apt-get install -y pebble, or set ` +
        "PLANE_REQUIRE_PEBBLE=1 to fail)",
    );
  }
  return missing;
}

export interface Pebble extends AsyncDisposable {
  /** The ACME directory URL. */
  directoryUrl: string;
  /** Pebble's current root CA (regenerated at every start), PEM. */
  root(): Promise<string>;
  logs(): string;
}

export async function startPebble(options: {
  /** Our DNS server's port on 127.0.0.1 (UDP), which Pebble asks for TXT records. */
  dnsPort: number;
  /** Issued certificates' lifetime. */
  validitySeconds: number;
}): Promise<Pebble> {
  const dir = await Deno.makeTempDir({ prefix: "pebble-" });
  const listen = freePort();
  const management = freePort();
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listen}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: `${FIXTURES}listener_cert.pem`,
      privateKey: `${FIXTURES}listener_key.pem`,
      // Only dns-01 is used; these ports are never dialled.
      httpPort: freePort(),
      tlsPort: freePort(),
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      certificateValidityPeriod: options.validitySeconds,
    },
  };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  const child = new Deno.Command(PEBBLE, {
    args: ["-config", `${dir}/config.json`, "-dnsserver", `127.0.0.1:${options.dnsPort}`],
    env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const pump = (stream: ReadableStream<Uint8Array>) =>
    (async () => {
      for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
    })();
  const reading = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(PEBBLE_LISTENER_CA)] });
  const directoryUrl = `https://127.0.0.1:${listen}/dir`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await reading.catch(() => {});
    client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitFor(async () => {
      const res = await fetch(directoryUrl, { client }).catch(() => null);
      await res?.body?.cancel();
      return res?.status === 200;
    }, { message: "Pebble's directory", timeoutMs: 20_000 });
  } catch (err) {
    await stop();
    throw new Error(`Pebble did not start; its output:\n${output}`, { cause: err });
  }
  return {
    directoryUrl,
    async root() {
      const res = await fetch(`https://127.0.0.1:${management}/roots/0`, { client });
      return await res.text();
    },
    logs: () => output,
    [Symbol.asyncDispose]: stop,
  };
}
