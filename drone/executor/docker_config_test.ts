import assert from "node:assert/strict";
import {
  backendIdOfContainer,
  containerCreateOptions,
  containerName,
  DockerExecutable,
  mountBind,
  networkMode,
} from "./docker_config.ts";
import type { SpawnRequest } from "./executor.ts";
import type { BackendName } from "../../shared/names.ts";

const request: SpawnRequest = {
  backendId: "abc123" as BackendName,
  executable: {},
  key: {
    key: { name: "room-1", namespace: "", tag: "" },
    deadlines: { "renew_at": 0, "soft_terminate_at": 0, "hard_terminate_at": 0 },
    token: 42,
  },
  staticToken: null,
};

function create(executable: unknown, runtime = {}) {
  const result = containerCreateOptions(request, DockerExecutable.parse(executable), runtime);
  assert.ok(result.ok);
  // deno-lint-ignore no-explicit-any
  return result.options as Record<string, any>;
}

Deno.test("containerCreateOptions() names, labels and sets Plane's env over the user's", () => {
  const o = create({ image: "img", env: { PORT: "1", A: "b" } });
  assert.equal(o.name, "plane-abc123");
  assert.deepEqual(o.Labels, { "dev.plane.backend": "true" });
  assert.ok(o.Env.includes("PORT=8080"));
  assert.ok(!o.Env.includes("PORT=1"));
  assert.ok(o.Env.includes("A=b"));
  assert.ok(o.Env.includes("SESSION_BACKEND_ID=abc123"));
  assert.ok(o.Env.includes("SESSION_BACKEND_KEY=room-1"));
  assert.ok(o.Env.includes("SESSION_BACKEND_FENCING_TOKEN=42"));
  assert.deepEqual(o.ExposedPorts, { "8080/tcp": {} });
  assert.deepEqual(o.HostConfig.PortBindings, { "8080/tcp": [{}] });
});

Deno.test("containerCreateOptions() maps resource limits like Plane (plane-0.5.md §3.1)", () => {
  const o = create({
    image: "img",
    "resource_limits": {
      "cpu_period": 1_000_000,
      "cpu_period_percent": 80,
      "cpu_time_limit": 100,
      "memory_limit_bytes": 10_000_000,
      "disk_limit_bytes": 5_000,
    },
  });
  assert.equal(o.HostConfig.CpuPeriod, 1_000_000);
  assert.equal(o.HostConfig.CpuQuota, 800_000);
  assert.deepEqual(o.HostConfig.Ulimits, [{ Name: "cpu", Soft: 100, Hard: 100 }]);
  assert.equal(o.HostConfig.Memory, 10_000_000);
  assert.deepEqual(o.HostConfig.StorageOpt, { size: "5000" });
});

Deno.test("containerCreateOptions() in host-network mode passes the assigned port and publishes nothing", () => {
  const o = create({ image: "img", "network_name": "ignored" }, { hostNetworkPort: 41234 });
  assert.equal(o.HostConfig.NetworkMode, "host");
  assert.ok(o.Env.includes("PORT=41234"));
  assert.equal(o.ExposedPorts, undefined);
  assert.equal(o.HostConfig.PortBindings, undefined);
});

Deno.test("containerCreateOptions() sets network, runtime, log config and GPU device requests", () => {
  const o = create({ image: "img", "network_name": "mynet", gpus: "all" }, {
    runtime: "runsc",
    logConfig: { Type: "json-file" },
  });
  assert.equal(o.HostConfig.NetworkMode, "mynet");
  assert.equal(o.HostConfig.Runtime, "runsc");
  assert.deepEqual(o.HostConfig.LogConfig, { Type: "json-file" });
  assert.deepEqual(o.HostConfig.DeviceRequests, [{
    Driver: "",
    Count: -1,
    Capabilities: [["gpu"]],
  }]);
  const two = create({ image: "img", gpus: 2 });
  assert.equal(two.HostConfig.DeviceRequests[0].Count, 2);
});

Deno.test("mountBind() binds key or path under the base and refuses escapes (plane-0.5.md §3.4)", () => {
  assert.deepEqual(mountBind(true, "room-1", "/data"), {
    ok: true,
    bind: "/data/room-1:/plane-data",
  });
  assert.deepEqual(mountBind("a/b", "k", "/data/"), { ok: true, bind: "/data/a/b:/plane-data" });
  assert.deepEqual(mountBind(false, "k", "/data"), { ok: true, bind: null });
  assert.deepEqual(mountBind(null, "k", "/data"), { ok: true, bind: null });
  assert.deepEqual(mountBind(true, "k", undefined), { ok: true, bind: null });
  for (const bad of ["..", "../x", "a/b/../../../x", "/abs", "a//b", "./a"]) {
    const result = mountBind(bad, "k", "/data");
    assert.equal(result.ok, false, bad);
  }
  const refused = containerCreateOptions(
    request,
    DockerExecutable.parse({ image: "i", mount: "../x" }),
    { mountBase: "/data" },
  );
  assert.equal(refused.ok, false);
});

Deno.test("containerName() and backendIdOfContainer() round-trip", () => {
  assert.equal(backendIdOfContainer(containerName("abc")), "abc");
  assert.equal(backendIdOfContainer("/plane-abc"), "abc");
  assert.equal(backendIdOfContainer("other"), null);
});

function refused(executable: unknown, runtime = {}): string {
  const result = containerCreateOptions(request, DockerExecutable.parse(executable), runtime);
  assert.ok(!result.ok, JSON.stringify(executable));
  return result.error;
}

Deno.test("containerCreateOptions() refuses network modes the drone has not enabled (issue 10, finding 8)", () => {
  assert.match(refused({ image: "img", "network_name": "host" }), /--allow-network-modes host/);
  assert.match(refused({ image: "img", "network_name": "none" }), /--allow-network-modes none/);
  for (const name of ["container:plane-victim", "container:x", "a/b", ""]) {
    assert.match(
      refused({ image: "img", "network_name": name }),
      /Invalid executable\.network_name/,
    );
  }
  // Enabled modes pass; container:* never does.
  const host = create({ image: "img", "network_name": "host" }, { allowNetworkModes: ["host"] });
  assert.equal(host.HostConfig.NetworkMode, "host");
  assert.match(
    refused({ image: "img", "network_name": "container:x" }, {
      allowNetworkModes: ["host", "none"],
    }),
    /Invalid executable\.network_name/,
  );
  // The default bridge grants nothing a spawn without network_name does not have.
  assert.equal(create({ image: "img", "network_name": "bridge" }).HostConfig.NetworkMode, "bridge");
});

Deno.test("networkMode() tells a user-defined network (inspected before create) from modes", () => {
  assert.deepEqual(networkMode(null), { ok: true, mode: null, mustExist: false });
  assert.deepEqual(networkMode("mynet"), { ok: true, mode: "mynet", mustExist: true });
  assert.deepEqual(networkMode("default"), { ok: true, mode: "default", mustExist: false });
  assert.deepEqual(networkMode("none", ["none"]), { ok: true, mode: "none", mustExist: false });
  assert.equal(networkMode("host").ok, false);
});

Deno.test("containerCreateOptions() refuses a mount path with ':' that would add a bind field", () => {
  const runtime = { mountBase: "/srv/plane" };
  assert.match(refused({ image: "img", mount: "x:/etc" }, runtime), /Invalid mount path "x:\/etc"/);
  assert.match(refused({ image: "img", mount: "a\nb" }, runtime), /Invalid mount path/);
  const keyed = {
    ...request,
    key: { ...request.key, key: { ...request.key.key, name: "k:/etc" } },
  };
  const result = containerCreateOptions(
    keyed,
    DockerExecutable.parse({ image: "img", mount: true }),
    runtime,
  );
  assert.ok(!result.ok);
  assert.match(result.error, /Invalid mount path "k:\/etc"/);
  assert.deepEqual(create({ image: "img", mount: "a/b" }, runtime).HostConfig.Binds, [
    "/srv/plane/a/b:/plane-data",
  ]);
});

Deno.test("containerCreateOptions() refuses reserved env names and passes others (the image's sandbox)", () => {
  assert.match(
    refused({ image: "img", env: { SESSION_BACKEND_STATIC_TOKEN: "forged" } }),
    /"SESSION_BACKEND_STATIC_TOKEN".*reserved/,
  );
  assert.match(refused({ image: "img", env: { PLANE_X: "1" } }), /reserved/);
  const o = create({ image: "img", env: { NODE_OPTIONS: "--x", LD_PRELOAD: "y" } });
  assert.ok(o.Env.includes("NODE_OPTIONS=--x"));
  assert.ok(o.Env.includes("LD_PRELOAD=y"));
});

Deno.test("containerCreateOptions() labels the container with the drone's name when it has one (issue 11, finding 4)", () => {
  const o = create({ image: "x" }, { droneName: "dr-abc" });
  assert.deepEqual(o.Labels, { "dev.plane.backend": "true", "dev.plane.drone": "dr-abc" });
});
