/**
 * Names of every entity, as Plane 0.5 defines them (plane-0.5.md §14.5): lowercase ASCII
 * letters, digits and `-`, at most 45 characters, with a kind prefix (`dr-`, `px-`, `co-`,
 * `ak-`, `lk-`); backend ids have no prefix. Each kind is a branded string so a raw `string`
 * never crosses a module boundary as an id.
 */
import { z } from "zod";

const NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const RANDOM_LENGTH = 14;
const MAX_NAME_LENGTH = 45;
const NAME_PATTERN = /^[a-z0-9-]+$/;

/** 14 random characters from `[a-z0-9]` (plane-0.5.md §14.5), from a CSPRNG. */
export function randomSuffix(length: number = RANDOM_LENGTH): string {
  // Rejection sampling keeps the distribution uniform over the 36 symbols.
  const out: string[] = [];
  const buf = new Uint8Array(length * 2);
  while (out.length < length) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      if (b < 252 && out.length < length) out.push(NAME_ALPHABET[b % 36]!);
    }
  }
  return out.join("");
}

/** Why a name was refused, or null when it is valid. */
export function nameError(value: string, prefix: string): string | null {
  if (value.length === 0) return "must not be empty";
  if (value.length > MAX_NAME_LENGTH) {
    return `must be at most ${MAX_NAME_LENGTH} characters (got ${value.length})`;
  }
  if (!value.startsWith(prefix)) return `must start with "${prefix}"`;
  if (!NAME_PATTERN.test(value)) {
    const index = [...value].findIndex((c) => !/[a-z0-9-]/.test(c));
    return `contains invalid character ${JSON.stringify(value[index])} at position ${index}` +
      " (allowed: a-z, 0-9, -)";
  }
  if (value.length === prefix.length) return `must have characters after "${prefix}"`;
  return null;
}

function nameSchema<B extends string>(kind: string, prefix: string) {
  return z.string().superRefine((value, ctx) => {
    const error = nameError(value, prefix);
    if (error) ctx.addIssue({ code: "custom", message: `Invalid ${kind} "${value}": ${error}` });
  }).brand<B>();
}

export const BackendName = nameSchema<"BackendName">("backend name", "");
export type BackendName = z.infer<typeof BackendName>;
export const DroneName = nameSchema<"DroneName">("drone name", "dr-");
export type DroneName = z.infer<typeof DroneName>;
export const ProxyName = nameSchema<"ProxyName">("proxy name", "px-");
export type ProxyName = z.infer<typeof ProxyName>;
export const DnsServerName = nameSchema<"DnsServerName">("DNS server name", "ns-");
export type DnsServerName = z.infer<typeof DnsServerName>;
export const ControllerName = nameSchema<"ControllerName">("controller name", "co-");
export type ControllerName = z.infer<typeof ControllerName>;
export const ActionName = nameSchema<"ActionName">("action id", "ak-");
export type ActionName = z.infer<typeof ActionName>;

export function randomBackendName(): BackendName {
  return randomSuffix() as BackendName;
}
export function randomDroneName(): DroneName {
  return `dr-${randomSuffix()}` as DroneName;
}
export function randomProxyName(): ProxyName {
  return `px-${randomSuffix()}` as ProxyName;
}
export function randomDnsServerName(): DnsServerName {
  return `ns-${randomSuffix()}` as DnsServerName;
}
export function randomControllerName(): ControllerName {
  return `co-${randomSuffix()}` as ControllerName;
}
export function randomActionName(): ActionName {
  return `ak-${randomSuffix()}` as ActionName;
}
/** A random key name, used when a connect request names no key (forces a new spawn). */
export function randomKeyName(): string {
  return `lk-${randomSuffix()}`;
}

/** The kind of node a socket peer is, derived from its name's prefix (plane-0.5.md §1.3). */
export function nodeKindOf(name: string): "Drone" | "Proxy" | "AcmeDnsServer" | null {
  if (name.startsWith("dr-")) return "Drone";
  if (name.startsWith("px-")) return "Proxy";
  if (name.startsWith("ns-")) return "AcmeDnsServer";
  return null;
}
