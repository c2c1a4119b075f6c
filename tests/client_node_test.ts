/**
 * `shared/client.ts` outside Deno: bundled for browsers with `deno bundle --platform browser`
 * (so no Deno API can hide in it) and run by Node against a real controller.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";

const CLIENT = new URL("../shared/client.ts", import.meta.url).pathname;

function nodeVersion(): string | null {
  try {
    const output = new Deno.Command("node", { args: ["--version"], stdin: "null" }).outputSync();
    return output.code === 0 ? new TextDecoder().decode(output.stdout).trim() : null;
  } catch {
    return null;
  }
}

const NODE = nodeVersion();

const SCRIPT = `
const { createPlaneClient, PlaneApiError } = await import(process.argv[2]);
const plane = createPlaneClient({ controllerUrl: process.argv[3] });
const out = { status: await plane.controllerStatus() };
try {
  await plane.status("nosuchbackend");
} catch (e) {
  out.error = { isApiError: e instanceof PlaneApiError, status: e.status, kind: e.kind };
}
out.state = await plane.clusterState("localhost:9090");
process.stdout.write(JSON.stringify(out));
`;

Deno.test({
  name: `shared/client.ts bundled for browsers runs in Node (${NODE ?? "not run: node not found"})`,
  ignore: NODE === null,
  async fn() {
    await using t = await startTestController();
    const dir = await Deno.makeTempDir({ prefix: "plane-client-node-" });
    try {
      const bundle = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--platform", "browser", CLIENT, "-o", `${dir}/client.js`],
        stdin: "null",
      }).output();
      assert.equal(bundle.code, 0, new TextDecoder().decode(bundle.stderr));
      await Deno.writeTextFile(`${dir}/run.mjs`, SCRIPT);
      const run = await new Deno.Command("node", {
        args: [`${dir}/run.mjs`, `${dir}/client.js`, t.url],
        stdin: "null",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.deepEqual(JSON.parse(new TextDecoder().decode(run.stdout)), {
        status: { status: "ok", version: "0.5.6", hash: "00000000" },
        error: { isApiError: true, status: 404, kind: "NotFound" },
        state: { drones: [], proxies: [] },
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
