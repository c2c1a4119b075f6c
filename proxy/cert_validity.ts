/**
 * When a proxy's certificate needs renewing (issue 14; plane-0.5.md §10.4): read from the
 * first certificate of the PEM chain, renew once less than a third of its lifetime is left
 * (Let's Encrypt's advice; Plane: 30 days before the end), or at once when it does not cover
 * both `cluster` and `*.cluster`.
 */
import { X509Certificate } from "node:crypto";

export interface CertValidity {
  notBefore: number;
  notAfter: number;
  /** True when the certificate serves both `cluster` and its subdomains. */
  coversCluster: boolean;
  serialNumber: string;
}

/** The validity of the chain's first certificate for `cluster`; an Error when it does not parse. */
export function certValidity(chainPem: string, cluster: string): CertValidity | Error {
  const host = cluster.replace(/:\d+$/, "");
  try {
    const cert = new X509Certificate(chainPem);
    // Deno's `checkHost` matches no wildcard; the names ordered are exactly these two.
    const names = new Set(
      (cert.subjectAltName ?? "").split(/,\s*/).filter((n) => n.startsWith("DNS:")).map((n) =>
        n.slice(4).toLowerCase()
      ),
    );
    return {
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
      coversCluster: names.has(host.toLowerCase()) && names.has(`*.${host.toLowerCase()}`),
      serialNumber: cert.serialNumber,
    };
  } catch (err) {
    return new Error(`Cannot read the certificate: ${(err as Error).message}`);
  }
}

/** Epoch ms at which to renew: now when unusable, else when a third of the lifetime is left. */
export function renewAt(validity: CertValidity | Error | null): number {
  if (validity === null || validity instanceof Error || !validity.coversCluster) return 0;
  const lifetime = validity.notAfter - validity.notBefore;
  return validity.notAfter - lifetime / 3;
}
