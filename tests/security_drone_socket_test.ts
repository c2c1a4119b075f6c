/**
 * Issue 10, finding 3: a drone socket could rewrite any backend's state, in any cluster, take
 * over a working drone's name (and its `Spawn` env), and sockets took API keys. Run against the
 * product as users run it (`plane controller` and `plane drone` subprocesses, Postgres), with
 * rogue sockets that speak the drone protocol. The attack matrix is generated: every message a
 * drone can send about a backend (a state event of every status, `ready` at the attacker's
 * address included; a key renewal; an action ack; metrics; log lines) × every victim (a backend
 * on the real drone of the same cluster, a backend on a drone of another cluster, an unknown
 * id) × every rogue identity (a new name in the same cluster, a new name in another cluster,
 * the real drone's name, the other cluster's drone's name, the real drone's name in another
 * cluster).
 */
import assert from "node:assert/strict";
import { startPlane, startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";
import { PLANE_HASH, PLANE_VERSION } from "../shared/protocol.ts";
import type { BackendState } from "../shared/backend_state.ts";
import { randomBackendName, randomSuffix } from "../shared/names.ts";
import type { Queryable } from "../controller/db/database.ts";

const API_KEY = "security-api-key-0123456789";
const SECRET = "security-cluster-secret-0123456789";
const OTHER_CLUSTER = "other-cluster.test:9443";
/** Where an attacker would like a victim's users proxied. */
const ATTACKER_ADDRESS = "127.0.0.1:1";
const SENTINEL_EVENT = 999_999;

/** A raw WebSocket speaking the drone (or proxy) protocol, recording everything. */
interface RawPeer {
  /** The controller's handshake answer, once received. */
  handshake: unknown;
  received: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
  send(message: unknown): void;
  close(): Promise<void>;
}

function openPeer(
  controllerUrl: string,
  path: string,
  name: string,
  bearer: string,
  /** Sent right after our handshake, without waiting for the controller's. */
  blind: unknown[] = [],
): Promise<RawPeer> {
  const ws = new WebSocket(controllerUrl.replace(/^http/, "ws") + path, {
    headers: { authorization: `Bearer ${bearer}` },
  } as unknown as string[]);
  const received: Record<string, unknown>[] = [];
  let handshake: unknown = null;
  let isClosed = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.onclose = (e) => {
      isClosed = true;
      resolve({ code: e.code, reason: e.reason });
    };
  });
  ws.onerror = () => {};
  ws.onmessage = (e) => {
    const data = JSON.parse(String(e.data));
    if (handshake === null) handshake = data;
    else received.push(data);
  };
  return new Promise((resolve) => {
    const peer: RawPeer = {
      get handshake() {
        return handshake;
      },
      received,
      closed,
      isClosed: () => isClosed,
      send: (m) => ws.send(JSON.stringify(m)),
      async close() {
        if (!isClosed) ws.close();
        await closed;
      },
    };
    ws.onopen = () => {
      ws.send(JSON.stringify({ version: { version: PLANE_VERSION, git_hash: PLANE_HASH }, name }));
      for (const m of blind) ws.send(JSON.stringify(m));
      resolve(peer);
    };
    closed.then(() => resolve(peer));
  });
}

function isVariant(tag: string) {
  return (m: Record<string, unknown>) => tag in m;
}

/** Every state a drone can report, `waiting`/`ready` at the attacker's address. */
function everyState(): BackendState[] {
  return [
    { status: "scheduled" },
    { status: "loading" },
    { status: "starting" },
    { status: "waiting", address: ATTACKER_ADDRESS },
    { status: "ready", address: ATTACKER_ADDRESS },
    { status: "terminating", "last_status": "ready", termination: "soft", reason: "external" },
    { status: "hard-terminating", "last_status": "ready", reason: "external" },
    {
      status: "terminated",
      "last_status": "ready",
      termination: "hard",
      reason: "external",
      "exit_code": 0,
    },
  ];
}

/** The generated attack: every message kind about every victim; ends with a sentinel event. */
function attackMessages(victims: string[], actionIds: string[]): unknown[] {
  const messages: unknown[] = [];
  let eventId = 1;
  for (const victim of victims) {
    for (const state of everyState()) {
      messages.push({
        BackendEvent: { "event_id": eventId++, "backend_id": victim, state, timestamp: Date.now() },
      });
    }
    messages.push({ RenewKey: { backend: victim, "local_time": Date.now() } });
    messages.push({
      BackendMetrics: {
        "backend_id": victim,
        "mem_used": 1,
        "mem_total": 1,
        "mem_active": 1,
        "mem_inactive": 1,
        "mem_unevictable": 1,
        "mem_limit": 1,
        "cpu_used": 1,
        "sys_cpu": 1,
      },
    });
    messages.push({
      LogLines: {
        "backend_id": victim,
        lines: [{ stream: "stdout", text: "forged line", time: Date.now() }],
      },
    });
  }
  for (const actionId of actionIds) messages.push({ AckAction: { "action_id": actionId } });
  // Processed in order: its ack means everything before it was handled.
  messages.push({
    BackendEvent: {
      "event_id": SENTINEL_EVENT,
      "backend_id": randomBackendName(),
      state: { status: "loading" },
      timestamp: Date.now(),
    },
  });
  return messages;
}

/** Everything a victim's users and its drone depend on. */
async function snapshot(db: Queryable, victims: string[]) {
  const backends = await db.query(
    `select id, cluster, last_status, last_status_number, state, cluster_address, drone_id
     from backend where id = any($1) order by id`,
    [victims],
  );
  const keys = await db.query(
    "select id, expires_at, fencing_token from backend_key where id = any($1) order by id",
    [victims],
  );
  const actions = await db.query(
    "select id, acked_at from backend_action where backend_id = any($1) order by id",
    [victims],
  );
  const history = await db.query(
    `select backend_id, count(*)::int as n from backend_state where backend_id = any($1)
     group by backend_id order by backend_id`,
    [victims],
  );
  return {
    backends: backends.rows,
    keys: keys.rows,
    actions: actions.rows,
    history: history.rows,
  };
}

async function nodes(db: Queryable) {
  const { rows } = await db.query<
    { id: number; name: string; cluster: string; controller: string | null; start: Date }
  >(
    `select id, name, cluster, controller, last_connection_start_time as start from node
     where kind = 'Drone' order by id`,
  );
  return rows;
}

Deno.test("drone sockets: generated rogue sockets cannot touch other drones' backends, take a live drone's name, or see its Spawn env", async () => {
  await using c = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    proxy: false,
  });
  const db = c.database.db;
  const realName = c.droneName!;
  const socketPath = (cluster: string, pool = "") =>
    `/ctrl/c/${encodeURIComponent(cluster)}/drone-socket${pool ? `?pool=${pool}` : ""}`;

  // Victim 1: a ready backend on the real drone, with a secret in its env.
  const victimA = String(
    (await c.connectReady({
      key: { name: "victim-a" },
      "spawn_config": { executable: { image: "echo", env: { VICTIM_SECRET: "a-secret" } } },
    })).backend_id,
  );
  // Victim 2: a backend of another cluster, on an honest drone there that has not acked its
  // Spawn yet (so an ack is something a rogue could forge).
  const honestName = `dr-honest${randomSuffix(8)}`;
  const honest = await openPeer(c.controllerUrl, socketPath(OTHER_CLUSTER), honestName, SECRET);
  honest.send({ Heartbeat: { "local_time": Date.now() } });
  await waitFor(async () => {
    const { rows } = await db.query(
      `select 1 from node n join drone d on d.id = n.id
       where n.name = $1 and n.controller is not null and d.last_local_time is not null`,
      [honestName],
    );
    return rows.length === 1;
  }, { message: "honest drone of the other cluster schedulable" });
  const spawnB = await c.connect({
    key: { name: "victim-b" },
    "spawn_config": {
      cluster: OTHER_CLUSTER,
      executable: { image: "echo", env: { VICTIM_SECRET: "b-secret" } },
    },
  });
  assert.equal(spawnB.status, 200, JSON.stringify(spawnB.body));
  const victimB = String(spawnB.body.backend_id);
  await waitFor(() => honest.received.some(isVariant("Action")), { message: "honest Spawn" });
  // Victim 3: an id nobody has.
  const unknown = randomBackendName();
  const victims = [victimA, victimB, unknown];
  const { rows: actionRows } = await db.query<{ id: string }>(
    "select id from backend_action where backend_id = any($1)",
    [victims],
  );
  const actionIds = actionRows.map((r) => r.id);
  assert.ok(actionIds.length >= 2);

  const before = await snapshot(db, victims);
  const nodesBefore = await nodes(db);

  // The generated rogue identities; each sends the whole attack blind after its handshake.
  const identities = [
    { label: "new name, same cluster", cluster: c.cluster, name: `dr-rogue${randomSuffix(8)}` },
    {
      label: "new name, other cluster",
      cluster: OTHER_CLUSTER,
      name: `dr-rogue${randomSuffix(8)}`,
    },
    { label: "the real drone's name", cluster: c.cluster, name: realName, held: true },
    {
      label: "the other cluster's drone's name",
      cluster: OTHER_CLUSTER,
      name: honestName,
      held: true,
    },
    { label: "the real drone's name, other cluster", cluster: OTHER_CLUSTER, name: realName },
    {
      label: "new name, same cluster, another pool",
      cluster: c.cluster,
      name: `dr-rogue${randomSuffix(8)}`,
      pool: "gpu",
    },
  ];
  const rogues = await Promise.all(identities.map(async (identity) => ({
    identity,
    peer: await openPeer(
      c.controllerUrl,
      socketPath(identity.cluster, identity.pool),
      identity.name,
      SECRET,
      attackMessages(victims, actionIds),
    ),
  })));
  // Each rogue is either refused (closed, no handshake) or has had every message handled.
  for (const { identity, peer } of rogues) {
    await waitFor(
      () =>
        peer.isClosed() ||
        peer.received.some((m) =>
          isVariant("AckEvent")(m) &&
          (m.AckEvent as { "event_id": number }).event_id === SENTINEL_EVENT
        ),
      { message: `${identity.label}: attack handled`, timeoutMs: 15_000 },
    );
  }

  // While the rogues are connected, a new backend with a secret in its env is spawned: it goes
  // to the real drone, becomes ready, and no rogue sees its Spawn.
  const fresh = await c.connectReady({
    "spawn_config": { executable: { image: "echo", env: { FRESH_SECRET: "fresh-secret" } } },
  });
  const failures: string[] = [];
  for (const { identity, peer } of rogues) {
    const actions = peer.received.filter(isVariant("Action"));
    if (actions.length > 0) {
      failures.push(`${identity.label}: received ${JSON.stringify(actions).slice(0, 300)}`);
    }
    const renewals = peer.received.filter(isVariant("RenewKeyResponse"));
    if (renewals.length > 0) failures.push(`${identity.label}: got a key renewal`);
    if (identity.held) {
      const closed = peer.isClosed() ? await peer.closed : null;
      if (!closed || closed.code !== 1008 || !/in use/.test(closed.reason) || peer.handshake) {
        failures.push(
          `${identity.label}: expected a refusal before the handshake, got ${
            JSON.stringify({ closed, handshake: peer.handshake })
          }`,
        );
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(await snapshot(db, victims), before, "victims' state changed");
  assert.deepEqual(
    (await nodes(db)).filter((n) => nodesBefore.some((b) => b.id === n.id)),
    nodesBefore,
    "a rogue took over an existing drone's node",
  );
  const { rows: freshRows } = await db.query<{ name: string }>(
    "select n.name from backend b join node n on n.id = b.drone_id where b.id = $1",
    [fresh.backend_id],
  );
  assert.deepEqual(freshRows, [{ name: realName }]);

  // Closing every rogue never marks the real drone (or the honest one) offline.
  await Promise.all(rogues.map(({ peer }) => peer.close()));
  const accepted = rogues.filter((r) => !r.identity.held).length;
  await waitFor(
    () => c.controller.logs.filter((l) => l.message === "Node disconnected").length >= accepted,
    { message: "the accepted rogues' disconnects handled" },
  );
  assert.deepEqual(
    (await nodes(db)).filter((n) => nodesBefore.some((b) => b.id === n.id)),
    nodesBefore,
    "a closing rogue marked a real drone offline",
  );
  // And the real drone keeps working: another backend becomes ready on it.
  const after = await c.connectReady({ "spawn_config": { executable: { image: "echo" } } });
  assert.equal(after.drone, realName);
  // Refusals are logged with the drone's name.
  assert.ok(
    c.controller.logs.some((l) =>
      /not assigned to this drone/.test(String(l.message)) && l.backendId === victimA
    ),
  );
  await honest.close();
});

Deno.test("drone and proxy sockets refuse an API key and take only the cluster secret", async () => {
  await using c = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    proxy: false,
    drone: false,
  });
  const cluster = encodeURIComponent(c.cluster);
  for (const kind of ["drone-socket", "proxy-socket"]) {
    const url = `${c.controllerUrl}/ctrl/c/${cluster}/${kind}`;
    // Without an upgrade, authentication is what decides between 401 and the upgrade's 400.
    const withKey = await fetch(url, { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal(withKey.status, 401, kind);
    const body = await withKey.json();
    assert.equal(body.kind, "Unauthorized");
    assert.match(body.id, /^[a-z0-9]{14}$/);
    const withSecret = await fetch(url, { headers: { authorization: `Bearer ${SECRET}` } });
    assert.equal(withSecret.status, 400, `${kind}: the secret passes authentication`);
    await withSecret.body?.cancel();

    // A real WebSocket with the API key never gets a handshake; with the secret it does.
    const name = kind === "drone-socket" ? `dr-key${randomSuffix(8)}` : `px-key${randomSuffix(8)}`;
    const refused = await openPeer(c.controllerUrl, `/ctrl/c/${cluster}/${kind}`, name, API_KEY);
    await refused.closed;
    assert.equal(refused.handshake, null, `${kind}: API key got a handshake`);
    const accepted = await openPeer(c.controllerUrl, `/ctrl/c/${cluster}/${kind}`, name, SECRET);
    await waitFor(() => accepted.handshake !== null, { message: `${kind} handshake` });
    await accepted.close();
  }
  // The API still takes the key, and not the secret.
  const keyOnApi = await c.api("/ctrl/status");
  assert.equal(keyOnApi.status, 200);
  await keyOnApi.body?.cancel();
  const secretOnApi = await fetch(`${c.controllerUrl}/ctrl/status`, {
    headers: { authorization: `Bearer ${SECRET}` },
  });
  assert.equal(secretOnApi.status, 401);
  await secretOnApi.body?.cancel();
});

Deno.test("proxy sockets: a proxy of another cluster gets no route for a token and cannot keep a backend alive", async () => {
  await using c = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    proxy: false,
  });
  const db = c.database.db;
  const victim = await c.connectReady({
    key: { name: "victim" },
    "spawn_config": { executable: { image: "echo" } },
    user: "alice",
  });
  const token = String(victim.token);
  const keepalive = async () => {
    const { rows } = await db.query("select last_keepalive from backend where id = $1", [
      victim.backend_id,
    ]);
    return rows[0];
  };
  const before = await keepalive();
  const path = (cluster: string) => `/ctrl/c/${encodeURIComponent(cluster)}/proxy-socket`;
  const answers = async (peer: RawPeer) => {
    await waitFor(
      () => peer.received.filter(isVariant("RouteInfoResponse")).length > 0,
      { message: "a route answer" },
    );
    return peer.received.filter(isVariant("RouteInfoResponse"))[0]!.RouteInfoResponse as {
      "route_info": { "secret_token": string; user: string } | null;
    };
  };

  for (const cluster of [OTHER_CLUSTER, "third.example:1"]) {
    const rogue = await openPeer(
      c.controllerUrl,
      path(cluster),
      `px-rogue${randomSuffix(8)}`,
      SECRET,
      [
        { KeepAlive: victim.backend_id },
        { RouteInfoRequest: { token } },
      ],
    );
    const answer = await answers(rogue);
    assert.equal(answer.route_info, null, `${cluster}: a route for another cluster's token`);
    assert.ok(
      rogue.received.some((m) =>
        isVariant("BackendRemoved")(m) &&
        (m.BackendRemoved as { backend: string }).backend === victim.backend_id
      ),
      "a keepalive for another cluster's backend is answered like an unknown one",
    );
    await rogue.close();
  }
  assert.deepEqual(await keepalive(), before, "another cluster's proxy kept the backend alive");

  // The backend's own cluster still gets its route.
  const own = await openPeer(c.controllerUrl, path(c.cluster), `px-own${randomSuffix(8)}`, SECRET, [
    { RouteInfoRequest: { token } },
  ]);
  const answer = await answers(own);
  assert.equal(answer.route_info?.user, "alice");
  assert.equal(answer.route_info?.secret_token, victim.secret_token);
  await own.close();
});

Deno.test("a plane drone started with a live drone's name is refused, logs why and retries with backoff", async () => {
  await using c = await startPlaneCluster({ clusterSecret: SECRET, proxy: false });
  const db = c.database.db;
  const before = await nodes(db);
  await using impostor = await startPlane("drone", [
    "--controller-url",
    c.controllerUrl,
    "--cluster",
    c.cluster,
    "--name",
    c.droneName!,
    "--db",
    `${c.dir}/impostor-state.db`,
    "--runtime",
    "local",
    "--images",
    `${c.dir}/images.json`,
  ], { env: { PLANE_CLUSTER_SECRET: SECRET }, ready: (l) => l.message === "Drone starting" });
  const refusals = () =>
    impostor.logs.filter((l) =>
      l.message === "Controller connection failed" &&
      /in use by a live connection/.test(String(l.err))
    );
  await waitFor(() => refusals().length >= 3, { message: "three refusals", timeoutMs: 15_000 });
  const times = refusals().map((l) => Date.parse(String(l.time)));
  for (let i = 1; i < times.length; i++) {
    // The client's backoff starts at 1 s: a refused drone does not spin.
    assert.ok(times[i]! - times[i - 1]! >= 900, `retried after ${times[i]! - times[i - 1]!} ms`);
  }
  assert.ok(
    c.controller.logs.some((l) =>
      l.message === "Refused a socket: the name is held by a live connection" &&
      l.node === c.droneName
    ),
  );
  await impostor.stop();
  assert.deepEqual(await nodes(db), before, "the refused drone changed the real one's node");
  const after = await c.connectReady({ "spawn_config": { executable: { image: "echo" } } });
  assert.equal(after.drone, c.droneName);
});
