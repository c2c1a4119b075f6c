/**
 * Image pulls for the Docker runtime (plane-0.5.md §3.1, §3.5): the pull policy (`Always`,
 * `IfNotPresent`, `Never`) and registry credentials, over the narrow `DockerApi`.
 */
import { type DockerApi, statusCode } from "./docker_api.ts";
import type { DockerExecutable } from "./docker_config.ts";

/** Pulls `config.image` as its pull policy says; rejects naming the image when the pull fails. */
export async function pullImage(docker: DockerApi, config: DockerExecutable): Promise<void> {
  const policy = config.pull_policy ?? "IfNotPresent";
  if (policy === "Never") return;
  if (policy === "IfNotPresent") {
    try {
      await docker.getImage(config.image).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
  const auth = config.credentials
    ? {
      authconfig: {
        username: config.credentials.username,
        password: config.credentials.password,
      },
    }
    : {};
  const stream = await docker.pull(config.image, auth);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err, output) => {
      // A failed pull may end the stream normally with an `error` entry in it.
      const failed = (output as { error?: string }[] | undefined)?.find((o) => o?.error);
      if (err || failed) {
        reject(err ?? new Error(`Pull of "${config.image}" failed: ${failed!.error}`));
      } else resolve();
    });
  });
}
