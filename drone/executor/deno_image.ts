/**
 * Builds a Docker image that runs one Deno script, without any registry (the machines this is
 * developed and tested on can reach none, and `deno compile` would download its runtime):
 * `docker import` of a root filesystem holding this Deno binary, the glibc libraries it links and
 * the script. Used by `plane dev` for the example backend and by the Docker tests. The tag names
 * the script's content, so an image built from an older script is never reused.
 */
const LIBS = [
  "/lib/x86_64-linux-gnu/libdl.so.2",
  "/lib/x86_64-linux-gnu/libgcc_s.so.1",
  "/lib/x86_64-linux-gnu/librt.so.1",
  "/lib/x86_64-linux-gnu/libpthread.so.0",
  "/lib/x86_64-linux-gnu/libm.so.6",
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib64/ld-linux-x86-64.so.2",
];

/** `name:<12 hex of the script's SHA-256>`. */
export async function denoImageTag(name: string, script: string | URL): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(script)));
  const hex = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${name}:${hex}`;
}

export async function imageExists(tag: string): Promise<boolean> {
  const out = await new Deno.Command("docker", {
    args: ["image", "inspect", tag],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/** Builds (once per content) an image running `deno run --allow-net --allow-env <script>`. */
export async function buildDenoImage(name: string, script: string | URL): Promise<string> {
  const tag = await denoImageTag(name, script);
  if (await imageExists(tag)) return tag;
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/app`);
    await Deno.mkdir(`${root}/tmp`);
    await Deno.chmod(`${root}/tmp`, 0o1777);
    await Deno.copyFile(Deno.execPath(), `${root}/deno`);
    await Deno.chmod(`${root}/deno`, 0o755);
    await Deno.copyFile(script, `${root}/app/main.ts`);
    for (const lib of LIBS) {
      await Deno.mkdir(`${root}${lib.slice(0, lib.lastIndexOf("/"))}`, { recursive: true });
      await Deno.copyFile(await Deno.realPath(lib), `${root}${lib}`);
    }
    const tar = new Deno.Command("tar", { args: ["-C", root, "-c", "."], stdout: "piped" }).spawn();
    const importer = new Deno.Command("docker", {
      args: [
        "import",
        "--change",
        "ENV DENO_DIR=/tmp/deno",
        "--change",
        'CMD ["/deno", "run", "--allow-net", "--allow-env", "/app/main.ts"]',
        "-",
        tag,
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await tar.stdout.pipeTo(importer.stdin);
    const [tarStatus, out] = await Promise.all([tar.status, importer.output()]);
    if (!tarStatus.success) throw new Error("Packing the image's root filesystem failed");
    if (!out.success) {
      throw new Error(`docker import failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return tag;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
