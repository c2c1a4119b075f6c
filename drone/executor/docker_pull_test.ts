/**
 * Pull policies and registry credentials (plane-0.5.md §3.1, §3.5) against a hand-written
 * fake of the narrow `DockerApi`: no registry is reachable here, and tests stay on loopback.
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import type { DockerApi } from "./docker_api.ts";
import { DockerExecutor } from "./docker.ts";
import { createLogger } from "../../shared/log.ts";

function fakeDocker(options: { present: boolean; pullOutput?: unknown[] }) {
  const calls: string[] = [];
  const docker = {
    getImage(name: string) {
      return {
        inspect() {
          calls.push(`inspect ${name}`);
          return options.present
            ? Promise.resolve({})
            : Promise.reject(Object.assign(new Error("no such image"), { statusCode: 404 }));
        },
      };
    },
    pull(name: string, opts: Record<string, unknown>) {
      calls.push(`pull ${name} ${JSON.stringify(opts)}`);
      return Promise.resolve(Readable.from([]) as unknown as NodeJS.ReadableStream);
    },
    modem: {
      followProgress(_stream: unknown, done: (err: Error | null, output: unknown[]) => void) {
        done(null, options.pullOutput ?? [{ status: "Downloaded" }]);
      },
    },
  } as unknown as DockerApi;
  return { docker, calls };
}

const log = createLogger("test", { level: "error" });

Deno.test("DockerExecutor.prepare() follows the pull policy and passes credentials", async () => {
  {
    const { docker, calls } = fakeDocker({ present: true });
    await new DockerExecutor({ docker, log }).prepare({ image: "img" });
    assert.deepEqual(calls, ["inspect img"], "IfNotPresent with the image present: no pull");
  }
  {
    const { docker, calls } = fakeDocker({ present: false });
    await new DockerExecutor({ docker, log }).prepare({ image: "img" });
    assert.deepEqual(calls, ["inspect img", "pull img {}"], "IfNotPresent and missing: pull");
  }
  {
    const { docker, calls } = fakeDocker({ present: true });
    await new DockerExecutor({ docker, log }).prepare({
      image: "img",
      "pull_policy": "Always",
      credentials: { username: "u", password: "p" },
    });
    assert.deepEqual(calls, ['pull img {"authconfig":{"username":"u","password":"p"}}']);
  }
  {
    const { docker, calls } = fakeDocker({ present: false });
    await new DockerExecutor({ docker, log }).prepare({ image: "img", "pull_policy": "Never" });
    assert.deepEqual(calls, [], "Never skips loading entirely");
  }
});

Deno.test("DockerExecutor.prepare() fails on an error reported inside the pull stream and on a bad executable", async () => {
  const { docker } = fakeDocker({ present: false, pullOutput: [{ error: "denied" }] });
  const executor = new DockerExecutor({ docker, log });
  await assert.rejects(executor.prepare({ image: "img" }), /Pull of "img" failed: denied/);
  await assert.rejects(executor.prepare({ image: 42 }), /Invalid executable: image/);
  await assert.rejects(
    executor.prepare({ image: "img", "pull_policy": "Sometimes" }),
    /pull_policy/,
  );
});
