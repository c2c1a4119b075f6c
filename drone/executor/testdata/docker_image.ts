/**
 * Builds the echo backend as a local Docker image without a registry (notes/docker-here.md):
 * `docker import` of a root filesystem holding the Deno binary, the glibc libraries it links
 * and the script. Built once per tag; returns the tag.
 */
const SCRIPT = new URL("./echo_backend.ts", import.meta.url);

/** The tag names the script's content, so an image built from an older script is never reused. */
export async function echoImageTag(): Promise<string> {
  const bytes = await Deno.readFile(SCRIPT);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `plane-test-echo:${hex}`;
}

const LIBS = [
  "/lib/x86_64-linux-gnu/libdl.so.2",
  "/lib/x86_64-linux-gnu/libgcc_s.so.1",
  "/lib/x86_64-linux-gnu/librt.so.1",
  "/lib/x86_64-linux-gnu/libpthread.so.0",
  "/lib/x86_64-linux-gnu/libm.so.6",
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib64/ld-linux-x86-64.so.2",
];

async function run(cmd: string, args: string[], stdin?: ReadableStream<Uint8Array>) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) await stdin.pipeTo(child.stdin);
  const out = await child.output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

export async function imageExists(tag: string): Promise<boolean> {
  const out = await new Deno.Command("docker", {
    args: ["image", "inspect", tag],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

export async function buildEchoImage(): Promise<string> {
  const tag = await echoImageTag();
  if (await imageExists(tag)) return tag;
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/app`);
    await Deno.mkdir(`${root}/tmp`, { mode: 0o1777 });
    await Deno.chmod(`${root}/tmp`, 0o1777);
    await Deno.copyFile(Deno.execPath(), `${root}/deno`);
    await Deno.chmod(`${root}/deno`, 0o755);
    await Deno.copyFile(
      new URL("./echo_backend.ts", import.meta.url).pathname,
      `${root}/app/echo_backend.ts`,
    );
    for (const lib of LIBS) {
      const dir = lib.slice(0, lib.lastIndexOf("/"));
      await Deno.mkdir(`${root}${dir}`, { recursive: true });
      await Deno.copyFile(await Deno.realPath(lib), `${root}${lib}`);
    }
    const tar = new Deno.Command("tar", { args: ["-C", root, "-c", "."], stdout: "piped" }).spawn();
    await run("docker", [
      "import",
      "--change",
      "ENV DENO_DIR=/tmp/deno",
      "--change",
      'CMD ["/deno", "run", "--allow-net", "--allow-env", "/app/echo_backend.ts"]',
      "-",
      tag,
    ], tar.stdout);
    await tar.status;
    return tag;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
