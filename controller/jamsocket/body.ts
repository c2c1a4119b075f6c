/**
 * Request bodies of the Jamsocket routes (jamsocket-api.md §2.2): JSON, but an empty or missing
 * body (or `null`) means `{}`, and the content type is not insisted on (the CLI sometimes sends
 * no body at all). Size is bounded while streaming, as for Plane's routes.
 */
import type { z } from "zod";
import { describeZodError, readText } from "../http_error.ts";
import { JamsocketError } from "./error.ts";

export async function readOptionalJson<S extends z.ZodType>(
  req: Request,
  schema: S,
  maxBytes: number,
): Promise<z.infer<S>> {
  // Size and encoding errors are HttpErrors; the Jamsocket error mapper keeps their kind.
  const text = await readText(req, maxBytes);
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
