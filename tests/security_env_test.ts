/**
 * Issue 10, findings 4 and 8 (Docker fields), through the product as users run it: a refused
 * `executable.env` name, `network_name` or mount path is a 400 at connect that names it and
 * leaves no backend behind; an operator's opt-in at the controller still needs the drone
 * image's `allowEnv` before a local process gets the variable.
 */
import assert from "node:assert/strict";
import { defaultImages, startPlaneCluster } from "./plane_process.ts";

const API_KEY = "security-env-test-key-0123456789";
const SECRET = "security-env-cluster-secret-0123";

/** Every denied name or pattern, as the attacker would spell it, plus case variants. */
const DENIED_BASE = [
  "NODE_OPTIONS",
  "NODE_PATH",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "LD_AUDIT",
  "DYLD_INSERT_LIBRARIES",
  "PATH",
  "DENO_DIR",
  "DENO_CERT",
  "BUN_INSTALL",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "PERL5OPT",
  "PERL5LIB",
  "PERLLIB",
  "RUBYOPT",
  "RUBYLIB",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "CLASSPATH",
  "BASH_ENV",
  "BASH_FUNC_ls%%",
  "SHELLOPTS",
  "BASHOPTS",
  "PS4",
  "IFS",
  "GCONV_PATH",
  "LOCPATH",
  "MALLOC_CHECK_",
  "GLIBC_TUNABLES",
  "SESSION_BACKEND_STATIC_TOKEN",
  "SESSION_BACKEND_ID",
  "PLANE_CLUSTER_SECRET",
];

function caseVariants(name: string): string[] {
  const mixed = [...name].map((c, i) => i % 2 ? c.toLowerCase() : c.toUpperCase()).join("");
  return [...new Set([name, name.toLowerCase(), mixed])];
}

const DENIED = DENIED_BASE.flatMap(caseVariants);

async function backendCount(db: { query<R>(text: string): Promise<{ rows: R[] }> }) {
  const { rows } = await db.query<{ n: string }>("select count(*)::text as n from backend");
  return Number(rows[0]!.n);
}

Deno.test("connect refuses every denied executable.env name (and case variant) with a 400 naming it, creating no backend", async () => {
  const services = await Deno.makeTempFile({ suffix: ".json" });
  await using _services = {
    [Symbol.asyncDispose]: () => Deno.remove(services).catch(() => {}),
  };
  await Deno.writeTextFile(services, JSON.stringify({ "acme/echo": { image: "echo" } }));
  await using cluster = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    controllerArgs: ["--services", services],
    proxy: false,
  });

  // The attack of the issue: API-supplied code in a mapped Node image's NODE_OPTIONS.
  const attack = await cluster.connect({
    "spawn_config": {
      executable: {
        image: "echo",
        env: { "NODE_OPTIONS": "--import=data:text/javascript,console.log(1)" },
      },
    },
  });
  assert.equal(attack.status, 400, JSON.stringify(attack.body));
  assert.equal(attack.body.kind, "InvalidRequest");
  assert.match(String(attack.body.message), /"NODE_OPTIONS"/);
  assert.match(String(attack.body.message), /--allow-backend-env/);

  for (const name of DENIED) {
    const answer = await cluster.connect({
      key: { name: `k-${crypto.randomUUID()}` },
      "spawn_config": { executable: { image: "echo", env: { USER_VAR: "ok", [name]: "x" } } },
    });
    assert.equal(answer.status, 400, `${name}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.kind, "InvalidRequest", name);
    assert.ok(String(answer.body.message).includes(name), `${name}: ${answer.body.message}`);
  }

  // A name with '=' cannot be carried by execve at all.
  const equals = await cluster.connect({
    "spawn_config": { executable: { image: "echo", env: { "A=B": "x" } } },
  });
  assert.equal(equals.status, 400);
  assert.match(String(equals.body.message), /'='/);

  // The Jamsocket routes apply the same policy to the caller's env.
  for (const name of ["NODE_OPTIONS", "ld_preload", "PLANE_X"]) {
    const response = await cluster.api("/v2/service/acme/echo/connect", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ spawn: { executable: { env: { [name]: "x" } } } }),
    });
    const body = await response.json();
    assert.equal(response.status, 400, `${name}: ${JSON.stringify(body)}`);
    assert.ok(String(body.error.message).includes(name), JSON.stringify(body));
  }

  assert.equal(await backendCount(cluster.database.db), 0, "a refused connect left a backend");

  // Ordinary names still pass, and the backend gets them.
  const fine = await cluster.connectReady({
    "spawn_config": { executable: { image: "echo", env: { USER_VAR: "hello", HOME: "/tmp" } } },
  });
  assert.equal(typeof fine.backend_id, "string");
  assert.equal(await backendCount(cluster.database.db), 1);
});

Deno.test("connect refuses a network_name that is not a network and a mount path with ':' (400, no backend)", async () => {
  await using cluster = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    proxy: false,
  });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ "network_name": "container:plane-victim" }, /network_name "container:plane-victim"/],
    [{ "network_name": "container:x" }, /network_name "container:x"/],
    [{ "network_name": "a/b" }, /network_name "a\/b"/],
    [{ mount: "x:/etc" }, /mount path "x:\/etc"/],
    [{ mount: "../../etc" }, /mount path "..\/..\/etc"/],
  ];
  for (const [fields, message] of cases) {
    const answer = await cluster.connect({
      "spawn_config": { executable: { image: "echo", ...fields } },
    });
    assert.equal(answer.status, 400, JSON.stringify([fields, answer.body]));
    assert.equal(answer.body.kind, "InvalidRequest");
    assert.match(String(answer.body.message), message);
  }
  // `mount: true` mounts the key's name: a key name with ':' is refused the same way.
  const keyed = await cluster.connect({
    key: { name: "x:/etc" },
    "spawn_config": { executable: { image: "echo", mount: true } },
  });
  assert.equal(keyed.status, 400, JSON.stringify(keyed.body));
  assert.match(String(keyed.body.message), /mount path "x:\/etc"/);
  assert.equal(await backendCount(cluster.database.db), 0);
});

Deno.test("--allow-backend-env PYTHONPATH: the drone still refuses it for an image without allowEnv, and passes it to one with", async () => {
  const images = defaultImages() as Record<string, Record<string, unknown>>;
  await using cluster = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    controllerArgs: ["--allow-backend-env", "PYTHONPATH"],
    images: { ...images, "echo-py": { ...images.echo, allowEnv: ["PYTHONPATH"] } },
  });

  // Opted in at the controller, not at this image: the drone refuses to start it.
  const refused = await cluster.connect({
    "spawn_config": { executable: { image: "echo", env: { PYTHONPATH: "/tmp/evil" } } },
  });
  assert.equal(refused.status, 200, JSON.stringify(refused.body));
  const refusedId = String(refused.body.backend_id);
  const state = await (await cluster.api(`/pub/b/${refusedId}/status?wait=ready`)).json();
  assert.equal(state.status, "terminated", JSON.stringify(state));
  const line = await cluster.drone!.waitForLog((l) =>
    l.backend === refusedId &&
    String((l.err as { message?: string } | undefined)?.message).includes('"PYTHONPATH"')
  );
  assert.match(JSON.stringify(line), /allowEnv/);

  // The controller's opt-in is exact: other injection names stay refused.
  const other = await cluster.connect({
    "spawn_config": { executable: { image: "echo-py", env: { PYTHONSTARTUP: "/tmp/x" } } },
  });
  assert.equal(other.status, 400);

  // Opted in at both: the backend runs with it.
  const ready = await cluster.connectReady({
    "spawn_config": { executable: { image: "echo-py", env: { PYTHONPATH: "/opt/app" } } },
  });
  const echoed = await (await fetch(String(ready.url))).json();
  assert.equal(echoed.env.PYTHONPATH, "/opt/app");
});
