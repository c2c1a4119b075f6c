/**
 * The controller's side of one DNS server socket (plane-0.5.md §10.2): each
 * `TxtRecordRequest` is answered with the cluster's current `acme_txt_entries` value (null
 * when there is none). A database error sends no answer: the DNS server's wait times out and
 * it answers SERVFAIL, so a resolver retries rather than caching an empty answer.
 */
import type { ControllerContext } from "./context.ts";
import type { SocketRole } from "./socket_session.ts";
import { txtRecordOf } from "./db/mod.ts";
import { MessageFromDns, type MessageToDns } from "../shared/mod.ts";

export function dnsRole(ctx: ControllerContext): SocketRole<MessageFromDns, MessageToDns> {
  return {
    kind: "AcmeDnsServer",
    prefix: "ns-",
    schema: MessageFromDns,
    open(connection) {
      return Promise.resolve({
        async onMessage(message) {
          const { cluster } = message.TxtRecordRequest;
          let value: string | null;
          try {
            value = await txtRecordOf(ctx.db, cluster);
          } catch (err) {
            connection.log.error("TXT record lookup failed", { err, cluster });
            return;
          }
          connection.send({ TxtRecordResponse: { cluster, "txt_value": value } });
        },
      });
    },
  };
}
