/**
 * Request bodies of the Jamsocket routes (jamsocket-api.md §2.2): JSON, but an empty or missing
 * body (or `null`) means `{}`, and the content type is not insisted on (the CLI sometimes sends
 * no body at all). Size is bounded while streaming, as for Plane's routes.
 */
import type { z } from "zod";
import { describeZodError } from "../http_error.ts";
import { JamsocketError } from "./error.ts";

export async function readOptionalJson<S extends z.ZodType>(
  req: Request,
  schema: S,
  maxBytes: number,
): Promise<z.infer<S>> {
  const text = await readLimited(req, maxBytes);
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text) ?? {};
    } catch (err) {
      throw new JamsocketError(
        400,
        "InvalidRequest",
        `Invalid JSON body: ${(err as Error).message}`,
      );
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new JamsocketError(
      400,
      "InvalidRequest",
      `Invalid request body: ${describeZodError(parsed.error)}`,
    );
  }
  return parsed.data;
}

function tooLarge(maxBytes: number) {
  return new JamsocketError(413, "PayloadTooLarge", `Request body exceeds ${maxBytes} bytes`);
}

async function readLimited(req: Request, maxBytes: number): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new JamsocketError(400, "InvalidRequest", "Invalid request body: not valid UTF-8");
  }
}
