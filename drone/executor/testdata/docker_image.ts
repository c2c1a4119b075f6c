/** The echo backend of the runtime tests as a local Docker image (see `../deno_image.ts`). */
import { buildDenoImage } from "../deno_image.ts";

export function buildEchoImage(): Promise<string> {
  return buildDenoImage("plane-test-echo", new URL("./echo_backend.ts", import.meta.url));
}
