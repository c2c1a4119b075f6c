import assert from "node:assert/strict";
import {
  formatAdminError,
  formatAge,
  formatBackendInfo,
  formatBackendList,
  formatClusterState,
  formatConnect,
  formatControllerStatus,
  formatLogLine,
  formatStatusEntry,
  table,
} from "./admin_format.ts";
import { PlaneApiError, PlaneProtocolError } from "../shared/client.ts";
import type { BackendInfo, ConnectResponse, NodeState } from "../shared/api.ts";

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

Deno.test("table() pads every column but the last", () => {
  assert.equal(table([["A", "BB", "C"], ["aaa", "b", "c"]]), "A    BB  C\naaa  b   c");
  assert.equal(table([]), "");
});

Deno.test("formatAge() uses the largest whole unit", () => {
  assert.deepEqual(
    [-5, 0, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_000 * 3].map(formatAge),
    ["0s", "0s", "59s", "1m", "59m", "1h", "3d"],
  );
});

Deno.test("formatStatusEntry() shows the time, status and termination details", () => {
  assert.equal(formatStatusEntry({ status: "ready", time: T0 }), "2025-01-02 03:04:05.678Z  ready");
  assert.equal(
    formatStatusEntry({
      status: "terminated",
      time: T0,
      "termination_reason": "external",
      "termination_kind": "soft",
      "exit_error": false,
    }),
    "2025-01-02 03:04:05.678Z  terminated  reason=external kind=soft exit_error=false",
  );
  assert.equal(
    formatStatusEntry({
      status: "terminated",
      time: T0,
      "termination_reason": "internalerror",
      error: 'image "nope" is not mapped',
    }),
    '2025-01-02 03:04:05.678Z  terminated  reason=internalerror error="image \\"nope\\" is not mapped"',
  );
});

Deno.test("formatConnect() says whether the backend was created and where to reach it", () => {
  const response = {
    "backend_id": "abc",
    spawned: true,
    status: "scheduled",
    token: "t",
    url: "http://localhost:9090/t/",
    subdomain: null,
    "secret_token": "s",
    "status_url": "http://127.0.0.1:8080/pub/b/abc/status",
    drone: "dr-one",
  } as unknown as ConnectResponse;
  assert.equal(
    formatConnect(response),
    [
      "Backend:     abc (created)",
      "Status:      scheduled",
      "URL:         http://localhost:9090/t/",
      "Status URL:  http://127.0.0.1:8080/pub/b/abc/status",
      "Drone:       dr-one",
    ].join("\n"),
  );
  const reused = formatConnect({ ...response, spawned: false, drone: null, subdomain: "x" });
  assert.match(reused, /abc \(reusing\)/);
  assert.doesNotMatch(reused, /Drone:/);
  assert.match(reused, /Subdomain: +x/);
});

Deno.test("formatControllerStatus() flags a version that differs from the client's", () => {
  const status = { status: "ok", version: "0.5.6", hash: "00000000" } as const;
  const same = formatControllerStatus("http://c", status, { version: "0.5.6", hash: "00000000" });
  assert.match(same, /Controller: +http:\/\/c \(ok\)/);
  assert.doesNotMatch(same, /differs/);
  assert.match(
    formatControllerStatus("http://c", status, { version: "0.5.7", hash: "1" }),
    /0\.5\.7 \(hash 1\) {2}differs from the controller/,
  );
});

Deno.test("formatClusterState() lists drones and proxies in tables", () => {
  const node = (name: NodeState["name"]): NodeState => ({
    name,
    "plane_version": "0.5.6",
    "plane_hash": "00000000",
    controller: "co-a",
    "controller_heartbeat_age": 2,
  });
  const text = formatClusterState("localhost:9090", {
    drones: [
      {
        ready: true,
        draining: false,
        "last_heartbeat_age": 1,
        "backend_count": 3,
        node: node({ Drone: "dr-one" }),
      },
      {
        ready: false,
        draining: true,
        "last_heartbeat_age": null,
        "backend_count": 0,
        node: node({ Drone: "dr-two" }),
      },
    ],
    proxies: [node({ Proxy: "px-one" })],
  });
  assert.equal(
    text,
    [
      "Cluster localhost:9090: 2 drone(s), 1 proxy(ies)",
      "",
      "Drones:",
      "NAME    READY  DRAINING  BACKENDS  HEARTBEAT  CONTROLLER  VERSION",
      "dr-one  yes    no        3         1s ago     co-a        0.5.6",
      "dr-two  no     yes       0         never      co-a        0.5.6",
      "",
      "Proxies:",
      "NAME    CONTROLLER  CONTROLLER HEARTBEAT  VERSION",
      "px-one  co-a        2s ago                0.5.6",
    ].join("\n"),
  );
  assert.equal(
    formatClusterState("c", { drones: [], proxies: [] }),
    "Cluster c: 0 drone(s), 0 proxy(ies)",
  );
});

const INFO = {
  id: "abc",
  cluster: "localhost:9090",
  status: "ready",
  state: { status: "ready", address: "127.0.0.1:4000" },
  "status_time": T0,
  drone: "dr-one",
  key: { name: "doc", namespace: "team", tag: "v1" },
  address: "127.0.0.1:4000",
  "created_at": T0,
  "last_keepalive": T0,
  "expiration_time": null,
  "allowed_idle_seconds": 500,
  subdomain: null,
} as unknown as BackendInfo;

Deno.test("formatBackendInfo() shows the record with ages relative to now", () => {
  const text = formatBackendInfo(INFO, T0 + 90_000);
  assert.match(text, /^Backend: +abc$/m);
  assert.match(text, /^Status: +ready \(since 2025-01-02 03:04:05\.678Z\)$/m);
  assert.match(text, /^Key: +team\/doc#v1$/m);
  assert.match(text, /^Created: +2025-01-02 03:04:05\.678Z \(1m ago\)$/m);
  assert.match(text, /^Idle limit: +500s$/m);
  assert.doesNotMatch(text, /Expires:/);
});

Deno.test("formatBackendInfo() says why a terminated backend ended (issue 12)", () => {
  const crashed = formatBackendInfo({
    ...INFO,
    status: "terminated",
    state: {
      status: "terminated",
      "last_status": "ready",
      termination: null,
      reason: null,
      "exit_code": 1,
      error: "exited with code 1",
    },
  }, T0);
  assert.match(crashed, /^Reason: +none \(exited by itself\)$/m);
  assert.match(crashed, /^Exit code: +1 \(error\)$/m);
  assert.match(crashed, /^Error: +exited with code 1$/m);
  const stopped = formatBackendInfo({
    ...INFO,
    status: "terminated",
    state: {
      status: "terminated",
      "last_status": "ready",
      termination: "soft",
      reason: "external",
      "exit_code": 143,
    },
  }, T0);
  assert.match(stopped, /^Reason: +external$/m);
  assert.match(stopped, /^Exit code: +143 \(not an error\)$/m);
  assert.doesNotMatch(stopped, /^Error:/m);
  assert.doesNotMatch(formatBackendInfo(INFO, T0), /^Reason:/m);
});

Deno.test("formatBackendList() prints a table and how to get the next page", () => {
  const list = {
    backends: [INFO, { ...INFO, id: "def", key: null, status: "terminated" }],
    "next_cursor": "CUR",
  } as unknown as Parameters<typeof formatBackendList>[0];
  assert.equal(
    formatBackendList(list, T0 + 5_000),
    [
      "ID   STATUS      DRONE   KEY          AGE  SINCE",
      "abc  ready       dr-one  team/doc#v1  5s   5s ago",
      "def  terminated  dr-one  -            5s   5s ago",
      "",
      "More: pass --cursor CUR",
    ].join("\n"),
  );
  assert.equal(formatBackendList({ backends: [], "next_cursor": null }, T0), "No backends.");
});

Deno.test("formatLogLine() marks stderr", () => {
  assert.equal(formatLogLine({ stream: "stdout", text: "hi", time: 1 }), "hi");
  assert.equal(formatLogLine({ stream: "stderr", text: "oops", time: 1 }), "[stderr] oops");
});

Deno.test("formatAdminError() gives one line with the message, status and error id", () => {
  assert.equal(
    formatAdminError(new PlaneApiError(404, "NotFound", "Backend does not exist", "abcd"), "u"),
    "error: Backend does not exist (HTTP 404 NotFound, error id abcd)",
  );
  assert.equal(
    formatAdminError(new PlaneApiError(502, "Other", "Bad gateway", null), "u"),
    "error: Bad gateway (HTTP 502 Other)",
  );
  assert.equal(
    formatAdminError(new TypeError("error sending request\nmore"), "http://c"),
    "error: cannot reach the controller at http://c: error sending request",
  );
  assert.equal(formatAdminError(new PlaneProtocolError("odd"), "u"), "error: odd");
});
