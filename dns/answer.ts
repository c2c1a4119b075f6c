/**
 * The pure core of `plane dns` (plane-0.5.md §10.2): what to answer for one DNS message. A
 * query for a cluster's challenge name becomes a TXT lookup the shell performs; everything
 * else is answered here or dropped. Wire format by `dns-packet` (RFC 1035 §4).
 *
 * Differences from Plane, chosen for an authoritative server (RFC 1035 §4.1.1, RFC 2136 §2.2):
 * a name outside the zone gets REFUSED (Plane: FORMERR) and a name in the zone that names no
 * cluster gets NXDOMAIN; other record types get NOTIMP as in Plane. A message that does not
 * parse, or that is itself a response, is dropped: answering it could feed a reflection loop.
 */
// @ts-types="@types/dns-packet"
import * as dnsPacket from "dns-packet";
import { Buffer } from "node:buffer";
import { clusterNameError } from "../shared/mod.ts";

/**
 * plane-0.5.md §10.2: TXT answers live one second, so resolvers never serve a stale challenge
 * (#867).
 */
export const TXT_TTL_SECONDS = 1;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
export type Rcode = keyof typeof RCODE;

/** The label a CA queries for a DNS-01 challenge (RFC 8555 §8.4). */
const CHALLENGE_LABEL = "_acme-challenge.";

/**
 * The cluster whose challenge `name` asks for, under `zone`:
 * - `<cluster>.<zone>`: the target of the `_acme-challenge.<cluster>` CNAME an operator creates
 *   (plane-0.5.md §10.1);
 * - `_acme-challenge.<cluster>` with `<cluster>` inside the zone: the challenge name itself,
 *   when the zone delegated to this server holds the clusters (and what a CA asks a server it
 *   was pointed at directly, as Pebble's `-dnsserver` is in tests).
 *
 * "outside" for a name not in the zone; null for one in the zone that names no cluster.
 */
export function clusterOfName(name: string, zone: string): string | null | "outside" {
  const lower = name.toLowerCase().replace(/\.$/, "");
  const z = zone.toLowerCase().replace(/\.$/, "");
  const inZone = (n: string) => n === z || n.endsWith(`.${z}`);
  if (!inZone(lower)) return "outside";
  let cluster: string;
  if (lower.startsWith(CHALLENGE_LABEL)) cluster = lower.slice(CHALLENGE_LABEL.length);
  else if (lower === z) return null;
  else cluster = lower.slice(0, -(z.length + 1));
  return clusterNameError(cluster) === null ? cluster : null;
}

/** What to do with one DNS message. */
export type QueryDecision =
  /** Not a query we may answer (unparseable, or a response): send nothing. */
  | { kind: "drop" }
  | { kind: "reply"; response: Uint8Array }
  /** Ask the controller for `cluster`'s TXT value, then send `reply(value)`. */
  | {
    kind: "txt";
    cluster: string;
    /** The answer for a value, no value (null), or a failed lookup ("servfail"). */
    reply(value: string | null | "servfail"): Uint8Array;
  };

type Question = dnsPacket.Question;

function encode(
  query: { id: number; rd: boolean; questions: Question[] },
  rcode: Rcode,
  answers: dnsPacket.Answer[] = [],
): Uint8Array {
  const flags = dnsPacket.AUTHORITATIVE_ANSWER |
    (query.rd ? dnsPacket.RECURSION_DESIRED : 0) |
    RCODE[rcode];
  return new Uint8Array(dnsPacket.encode({
    type: "response",
    id: query.id,
    flags,
    questions: query.questions,
    answers,
  }));
}

/** Decides the answer to the DNS message `bytes` for a server authoritative for `zone`. */
export function decideQuery(bytes: Uint8Array, zone: string): QueryDecision {
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch {
    return { kind: "drop" };
  }
  if (packet.type !== "query" || typeof packet.id !== "number") return { kind: "drop" };
  const questions = (packet.questions ?? []).filter((q): q is Question =>
    typeof q?.name === "string"
  );
  const query = { id: packet.id, rd: packet.flag_rd === true, questions };
  // RFC 1035 §4.1.1: OPCODE is bits 11–14 of the flags; only QUERY (0) is served.
  const opcode = ((packet.flags ?? 0) >> 11) & 0xf;
  if (opcode !== 0) return { kind: "reply", response: encode(query, "NOTIMP") };
  // Every real resolver sends exactly one question (RFC 9619).
  const question = questions[0];
  if (question === undefined || questions.length !== 1) {
    return { kind: "reply", response: encode(query, "FORMERR") };
  }
  const cluster = clusterOfName(question.name, zone);
  if (cluster === "outside") return { kind: "reply", response: encode(query, "REFUSED") };
  if (cluster === null) return { kind: "reply", response: encode(query, "NXDOMAIN") };
  if (question.type !== "TXT") return { kind: "reply", response: encode(query, "NOTIMP") };
  return {
    kind: "txt",
    cluster,
    reply(value) {
      if (value === "servfail") return encode(query, "SERVFAIL");
      if (value === null) return encode(query, "NOERROR");
      return encode(query, "NOERROR", [{
        type: "TXT",
        name: question.name,
        class: "IN",
        ttl: TXT_TTL_SECONDS,
        data: value,
      }]);
    },
  };
}
