/**
 * A fake drone for controller tests: a real socket client on `/ctrl/c/{cluster}/drone-socket`,
 * returned once the controller has registered it (node and drone rows written).
 */
import { connectFakePeer, type FakePeer } from "./fake_peer.ts";
import { type TestController } from "./test_controller.ts";
import { waitFor } from "../../testing/wait_for.ts";
import type { MessageFromDrone } from "../../shared/protocol.ts";
import { randomDroneName } from "../../shared/names.ts";

export const TEST_CLUSTER = "plane.test";

export interface FakeDrone extends FakePeer<MessageFromDrone> {
  /** The drone's node id (also its drone id in actions). */
  readonly id: number;
}

export async function connectFakeDrone(
  t: TestController,
  options: { name?: string; pool?: string; bearer?: string; cluster?: string } = {},
): Promise<FakeDrone> {
  const name = options.name ?? randomDroneName();
  const cluster = options.cluster ?? TEST_CLUSTER;
  const query = options.pool === undefined ? "" : `?pool=${encodeURIComponent(options.pool)}`;
  const peer = await connectFakePeer<MessageFromDrone>({
    controllerUrl: t.url,
    path: `/ctrl/c/${cluster}/drone-socket${query}`,
    name,
    ...(options.bearer === undefined ? {} : { bearer: options.bearer }),
  });
  try {
    // Registered and attached to this connection: the drone row exists and the node names the
    // controller with a connection start newer than any earlier connection's.
    const id = await waitFor(async () => {
      const { rows } = await t.db.query<{ id: number }>(
        `select n.id from node n join drone d on d.id = n.id
         where n.cluster = $1 and n.name = $2 and n.controller = $3`,
        [cluster, name, t.controller.name],
      );
      return rows[0]?.id;
    }, { message: `drone ${name} to register` });
    return Object.assign(peer, { id });
  } catch (err) {
    await peer.close();
    throw err;
  }
}
