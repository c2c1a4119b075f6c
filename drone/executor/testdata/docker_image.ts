/** The echo backend of the runtime tests as a local Docker image (see `../deno_image.ts`). */
import { buildDenoImage, imageExists } from "../deno_image.ts";
import { connectDocker } from "../docker_connect.ts";

/**
 * Whether Docker tests can run here. With `PLANE_REQUIRE_DOCKER=1` (CI) a missing engine fails
 * the file loudly; otherwise the tests of `what` are reported as not run, never skipped silently.
 */
export async function dockerTestsRun(what: string): Promise<boolean> {
  const available = await connectDocker().ping().then(() => true, () => false);
  if (available) return true;
  if (Deno.env.get("PLANE_REQUIRE_DOCKER") === "1") {
    throw new Error(
      `${what} must run here (PLANE_REQUIRE_DOCKER=1) but Docker does not answer`,
    );
  }
  // deno-lint-ignore no-console
  console.error(`NOT RUN: ${what} (no Docker engine answers on this machine)`);
  return false;
}

export function buildEchoImage(): Promise<string> {
  return buildDenoImage("plane-test-echo", new URL("./echo_backend.ts", import.meta.url));
}

/**
 * An image whose command does not exist: `create` succeeds, `start` fails (the OCI runtime
 * cannot exec it). For spawns that fail after the container exists (issue 11, finding 4).
 */
export async function buildBrokenImage(): Promise<string> {
  const tag = "plane-test-broken:1";
  if (await imageExists(tag)) return tag;
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${root}/README`, "no program here\n");
    const tar = new Deno.Command("tar", { args: ["-C", root, "-c", "."], stdout: "piped" }).spawn();
    const importer = new Deno.Command("docker", {
      args: ["import", "--change", 'CMD ["/missing-program"]', "-", tag],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await tar.stdout.pipeTo(importer.stdin);
    const [tarStatus, out] = await Promise.all([tar.status, importer.output()]);
    if (!tarStatus.success || !out.success) {
      throw new Error(`docker import failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return tag;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
