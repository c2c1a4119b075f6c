import assert from "node:assert/strict";
import { socketRoleFlags, socketRoleInput } from "./socket_role_flags.ts";

const SHARED = socketRoleFlags({ noun: "drone", namePrefix: "dr" });

Deno.test("socketRoleInput() takes each shared flag, else its variable; flags win", () => {
  const input = socketRoleInput([SHARED.controllerUrl, SHARED.cluster, SHARED.name], {
    values: { "controller-url": "http://127.0.0.1:8080", name: "dr-a" },
    env: (name) => ({ PLANE_CONTROLLER_URL: "http://ignored", PLANE_CLUSTER: "c.test" })[name],
  });
  assert.deepEqual(input, {
    controllerUrl: "http://127.0.0.1:8080",
    cluster: "c.test",
    name: "dr-a",
  });
});

Deno.test("socketRoleInput() reads only the variables of the rows the role lists", () => {
  const read: string[] = [];
  const input = socketRoleInput([SHARED.secret, { flag: "--zone", field: "zone", meaning: "" }], {
    values: {},
    env: (name) => {
      read.push(name);
      return undefined;
    },
  });
  assert.deepEqual(input, {});
  // No `--cluster` row (as for `plane dns`): PLANE_CLUSTER is never read.
  assert.deepEqual(read, ["PLANE_CLUSTER_SECRET"]);
});

Deno.test("socketRoleFlags() words the shared rows for the role", () => {
  const dns = socketRoleFlags({ noun: "server", namePrefix: "ns", socket: "DNS" });
  assert.equal(dns.name.meaning, "server name");
  assert.equal(dns.name.unset, "random `ns-…`");
  assert.equal(dns.secret.meaning, "cluster secret for the DNS socket");
  assert.equal(SHARED.cluster.meaning, "cluster this drone serves, `host[:port]`");
});
