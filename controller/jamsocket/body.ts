/**
 * Request bodies of the Jamsocket routes (jamsocket-api.md §2.2): JSON, but an empty or missing
 * body (or `null`) means `{}`, and the content type is not insisted on (the CLI sometimes sends
 * no body at all). Size is bounded while streaming, as for Plane's routes.
 */
import type { z } from "zod";
import { describeZodError, HttpError, parseJsonText, readText } from "../http_error.ts";
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
      value = parseJsonText(text) ?? {};
    } catch (err) {
      // Same code and message as the Plane routes, in the Jamsocket envelope.
      if (err instanceof HttpError) throw new JamsocketError(err.status, err.kind, err.message);
      throw err;
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
