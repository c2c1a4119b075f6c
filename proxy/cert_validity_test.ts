import assert from "node:assert/strict";
import { certValidity, renewAt } from "./cert_validity.ts";

const testdata = (name: string) => new URL(`./testdata/${name}`, import.meta.url);

Deno.test("renewAt() is two thirds into the lifetime, now for a missing or foreign certificate", () => {
  const validity = { notBefore: 0, notAfter: 90, coversCluster: true, serialNumber: "01" };
  assert.equal(renewAt(validity), 60);
  assert.equal(renewAt({ ...validity, coversCluster: false }), 0);
  assert.equal(renewAt(null), 0);
  assert.equal(renewAt(new Error("bad")), 0);
});

Deno.test("certValidity() reads the first certificate and whether it covers the cluster", async () => {
  const { cert } = JSON.parse(await Deno.readTextFile(testdata("cert1.json")));
  const validity = certValidity(cert, "plane.test");
  assert.ok(!(validity instanceof Error));
  assert.ok(validity.notAfter > validity.notBefore);
  assert.equal(validity.coversCluster, true, "plane.test and *.plane.test");
  const other = certValidity(cert, "other.test");
  assert.ok(!(other instanceof Error) && !other.coversCluster);
  assert.ok(certValidity("not a certificate", "plane.test") instanceof Error);
});
