/**
 * Argument handling of the admin commands, in-process against a scripted `fetch`.
 * `tests/admin_cli_test.ts` runs `cli/main.ts` against a real controller and drone.
 */
import assert from "node:assert/strict";
import {
  ADMIN_HELP,
  type AdminIo,
  isAdminCommand,
  parseAdminArgs,
  runAdminCommand,
} from "./admin_command.ts";
import { buildConnectRequest, notReadyText } from "./admin/connect.ts";
import { UsageError } from "./usage_error.ts";

function fakeIo(answer: (url: string, init?: RequestInit) => Response, env = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sent: { url: string; init?: RequestInit | undefined }[] = [];
  const io: AdminIo = {
    env: (name) => (env as Record<string, string>)[name],
    out: (text) => void out.push(text),
    err: (text) => void err.push(text),
    fetch: (input, init) => {
      sent.push({ url: String(input), init });
      return Promise.resolve(answer(String(input), init));
    },
    now: () => 0,
  };
  return { io, out, err, sent };
}

Deno.test("notReadyText() names the termination reason and error, or where to look", () => {
  assert.equal(
    notReadyText("b1", {
      status: "terminated",
      time: 0,
      "termination_reason": "internalerror",
      error: "no such image",
    }),
    "backend b1 terminated before it was ready: reason internalerror: no such image",
  );
  assert.equal(
    notReadyText("b1", { status: "terminated", time: 0 }),
    'backend b1 terminated before it was ready; see "plane logs b1" and the drone\'s log',
  );
});

Deno.test("buildConnectRequest() follows Plane's admin connect (plane-0.5.md §11.1)", () => {
  assert.deepEqual(buildConnectRequest({ image: "app" }), {
    "spawn_config": { executable: { image: "app" }, "max_idle_seconds": 500 },
  });
  assert.deepEqual(
    buildConnectRequest({
      image: "app",
      cluster: "localhost:9090",
      key: "doc",
      id: "b1",
      pool: "gpu",
      "max-idle-seconds": "60",
      "static-token": true,
      mount: "true",
      subdomain: "sub",
    }),
    {
      key: { name: "doc" },
      "spawn_config": {
        executable: { image: "app", mount: true },
        "max_idle_seconds": 60,
        cluster: "localhost:9090",
        id: "b1",
        pool: "gpu",
        subdomain: "sub",
        "use_static_token": true,
      },
    },
  );
  assert.deepEqual(
    buildConnectRequest({ image: "app", mount: "data/x" })["spawn_config"]?.executable,
    { image: "app", mount: "data/x" },
  );
  for (
    const [values, message] of [
      [{}, /needs --image IMAGE/],
      [{ image: "a", "max-idle-seconds": "0" }, /Invalid --max-idle-seconds "0"/],
      [{ image: "a", "max-idle-seconds": "1.5" }, /Invalid --max-idle-seconds/],
      [{ image: "a", wait: true, immediate: true }, /exclude each other/],
    ] as const
  ) {
    assert.throws(
      () => buildConnectRequest(values),
      (e) => e instanceof UsageError && message.test(e.message),
    );
  }
});

Deno.test("parseAdminArgs() checks positionals and flags per command", () => {
  assert.equal(parseAdminArgs("list", ["--help"]), "help");
  const parsed = parseAdminArgs("list", ["c", "--status", "ready", "--json"]);
  assert.ok(parsed !== "help");
  assert.deepEqual(parsed.positionals, ["c"]);
  assert.deepEqual(parsed.values.status, ["ready"]);
  const cases: [Parameters<typeof parseAdminArgs>, RegExp][] = [
    [["terminate", []], /"plane terminate" needs BACKEND/],
    [["status", ["a", "b"]], /Unexpected argument "b" for "plane status"/],
    [["drain", ["--bogus"]], /Unknown flag --bogus for "plane drain"/],
    [["connect", ["--image"]], /Flag --image of "plane connect" needs a value/],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseAdminArgs(...args),
      (e) => e instanceof UsageError && message.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("every admin command has --help, and admin is recognised", async () => {
  for (const name of Object.keys(ADMIN_HELP)) {
    assert.ok(isAdminCommand(name), name);
    const { io, out, sent } = fakeIo(() => Response.json(null));
    assert.equal(await runAdminCommand(name, ["--help"], io), 0);
    assert.match(out.join(""), /^Usage: plane /);
    assert.equal(sent.length, 0);
  }
  assert.equal(isAdminCommand("controller"), false);
  assert.equal(isAdminCommand(undefined), false);
});

Deno.test("runAdminCommand() takes the controller and key from flags, then the environment", async () => {
  const answer = () => Response.json({ status: "ok", version: "0.5.6", hash: "00000000" });
  const fromEnv = fakeIo(answer, {
    "PLANE_CONTROLLER_URL": "http://10.0.0.1:8080",
    "PLANE_API_KEY": "env-key",
  });
  assert.equal(await runAdminCommand("status", ["--json"], fromEnv.io), 0);
  assert.equal(fromEnv.sent[0]!.url, "http://10.0.0.1:8080/ctrl/status");
  assert.equal(new Headers(fromEnv.sent[0]!.init?.headers).get("authorization"), "Bearer env-key");
  assert.deepEqual(JSON.parse(fromEnv.out[0]!), {
    status: "ok",
    version: "0.5.6",
    hash: "00000000",
  });

  // `plane admin --controller URL <command>`, Plane's spelling; flags beat the environment.
  const fromFlags = fakeIo(answer, { "PLANE_CONTROLLER_URL": "http://10.0.0.1:8080" });
  assert.equal(
    await runAdminCommand(
      "admin",
      ["--controller", "http://urlkey@10.0.0.2:1", "status", "--api-key", "flag-key"],
      fromFlags.io,
    ),
    0,
  );
  assert.equal(fromFlags.sent[0]!.url, "http://10.0.0.2:1/ctrl/status");
  assert.equal(
    new Headers(fromFlags.sent[0]!.init?.headers).get("authorization"),
    "Bearer flag-key",
  );
  assert.match(fromFlags.out[0]!, /Controller: +http:\/\/10\.0\.0\.2:1 \(ok\)/);

  const defaults = fakeIo(answer);
  await runAdminCommand("status", [], defaults.io);
  assert.equal(defaults.sent[0]!.url, "http://127.0.0.1:8080/ctrl/status");

  await assert.rejects(
    runAdminCommand("status", ["--controller", "nope"], defaults.io),
    (e) => e instanceof UsageError && /Invalid controller URL "nope"/.test(e.message),
  );
  await assert.rejects(
    runAdminCommand("admin", ["--bogus", "status"], defaults.io),
    (e) => e instanceof UsageError && /Unknown flag --bogus for "plane admin"/.test(e.message),
  );
  await assert.rejects(
    runAdminCommand("admin", ["frobnicate"], defaults.io),
    (e) => e instanceof UsageError && /Unknown admin command "frobnicate"/.test(e.message),
  );
});

Deno.test("runAdminCommand() prints a refusal as one line and exits 1", async () => {
  const { io, out, err } = fakeIo(() =>
    Response.json({ id: "abcdefghijklmn", kind: "NotFound", message: "Drone does not exist" }, {
      status: 404,
    })
  );
  assert.equal(await runAdminCommand("drain", ["--cluster", "c", "--drone", "dr-x"], io), 1);
  assert.deepEqual(out, []);
  assert.deepEqual(err, [
    "error: Drone does not exist (HTTP 404 NotFound, error id abcdefghijklmn)",
  ]);
  await assert.rejects(
    runAdminCommand("drain", ["--cluster", "c"], io),
    (e) => e instanceof UsageError && /needs --cluster NAME and --drone DRONE/.test(e.message),
  );
  await assert.rejects(
    runAdminCommand("list", ["c", "--status", "bogus"], io),
    (e) => e instanceof UsageError && /Invalid --status "bogus"/.test(e.message),
  );
});
