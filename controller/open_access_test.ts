import assert from "node:assert/strict";
import { ControllerConfig, type ControllerConfigInput } from "./config.ts";
import { bindRefusal, isApiOpen, openAccessRefusal } from "./open_access.ts";

function config(input: Partial<ControllerConfigInput>): ControllerConfig {
  return ControllerConfig.parse({ db: "x", ...input });
}

const KEY = "k".repeat(20);
const SECRET = "s".repeat(20);

Deno.test("isApiOpen(): a cluster secret alone leaves the control API open", () => {
  assert.equal(isApiOpen(config({})), true);
  assert.equal(isApiOpen(config({ clusterSecret: SECRET })), true);
  assert.equal(isApiOpen(config({ apiKeys: [KEY] })), false);
  assert.equal(isApiOpen(config({ forwardAuth: "http://127.0.0.1:1/auth" })), false);
});

Deno.test("openAccessRefusal() refuses remote peers wherever no credential is asked", () => {
  const secretOnly = config({ clusterSecret: SECRET });
  const cases: [ControllerConfig, string | null, string, boolean][] = [
    // [config, peer, path, refused]
    [config({}), "10.1.2.3", "/pub/health", true],
    [config({}), "127.0.0.1", "/ctrl/connect", false],
    [config({}), null, "/ctrl/status", true],
    [secretOnly, "10.1.2.3", "/ctrl/connect", true],
    [secretOnly, "10.1.2.3", "/v2/service/a/b/connect", true],
    [secretOnly, "10.1.2.3", "/ctrl/c/x/drone-socket", false],
    [secretOnly, "10.1.2.3", "/ctrl/c/x/proxy-socket", false],
    [secretOnly, "10.1.2.3", "/ctrl/c/x/drone-socket/extra", true],
    [secretOnly, "10.1.2.3", "/pub/b/abc/status", false],
    [secretOnly, "::1", "/ctrl/connect", false],
    [config({ clusterSecret: SECRET, allowInsecure: true }), "10.1.2.3", "/ctrl/connect", false],
    [config({ apiKeys: [KEY] }), "10.1.2.3", "/ctrl/connect", false],
  ];
  for (const [c, peer, path, refused] of cases) {
    const answer = openAccessRefusal(c, peer, path);
    assert.equal(answer !== null, refused, `${peer} ${path}`);
    if (answer !== null) assert.match(answer, /PLANE_API_KEYS/);
  }
});

Deno.test("bindRefusal(): a non-loopback host needs the control API authenticated", () => {
  assert.equal(bindRefusal(config({ host: "127.0.0.1" })), null);
  assert.equal(bindRefusal(config({ host: "0.0.0.0", apiKeys: [KEY] })), null);
  assert.equal(bindRefusal(config({ host: "0.0.0.0", allowInsecure: true })), null);
  assert.match(bindRefusal(config({ host: "0.0.0.0" }))!, /without authentication/);
  assert.match(
    bindRefusal(config({ host: "0.0.0.0", clusterSecret: SECRET }))!,
    /guards only drone and proxy sockets; pass --api-key/,
  );
});
