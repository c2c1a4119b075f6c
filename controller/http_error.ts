/**
 * One HTTP error type and one mapping function (style.md §18): handlers throw `HttpError`;
 * `toErrorResponse` turns anything thrown into `{id, kind, message}` JSON, logs 5xx at error
 * and 4xx at warn with the same id, and masks unknown errors as `Other` / "Internal error".
 */
import type { z } from "zod";
import type { ApiErrorKind } from "../shared/api_error.ts";
import type { Logger } from "../shared/log.ts";
import { randomSuffix } from "../shared/names.ts";
import { jsonDepthExceeded, MAX_JSON_DEPTH } from "./json_depth.ts";

export class HttpError extends Error {
  readonly status: number;
  readonly kind: ApiErrorKind;
  constructor(status: number, kind: ApiErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.kind = kind;
  }
}

export function jsonResponse(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set("content-type", "application/json");
  // Control-plane answers are per-request; a CDN in front must never cache them.
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  return new Response(JSON.stringify(body), { ...init, headers });
}

export function toErrorResponse(err: unknown, log: Logger, context: Record<string, unknown> = {}) {
  const id = randomSuffix();
  if (err instanceof HttpError) {
    const fields = { ...context, id, kind: err.kind, status: err.status, err: err.cause ?? err };
    if (err.status >= 500) log.error(err.message, fields);
    else log.warn(err.message, fields);
    return jsonResponse({ id, kind: err.kind, message: err.message }, { status: err.status });
  }
  log.error("Internal error", { ...context, id, err });
  return jsonResponse({ id, kind: "Other", message: "Internal error." }, { status: 500 });
}

/**
 * One line naming the first problem zod found, with its path: `spawn_config.id: ...`. A union
 * (`spawn: true | {...}`) reports its deepest branch problem and a record key its own, so the
 * message names the offending field rather than "Invalid input".
 */
export function describeZodError(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return "Invalid request body";
  const { path: parts, message } = innermost(first, []);
  const path = parts.map(String).join(".");
  return path ? `${path}: ${message}` : message;
}

interface IssueLike {
  code?: string;
  path: readonly PropertyKey[];
  message: string;
  errors?: readonly (readonly IssueLike[])[];
  issues?: readonly IssueLike[];
}

function innermost(
  issue: IssueLike,
  prefix: readonly PropertyKey[],
): { path: PropertyKey[]; message: string } {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors) {
    let best: { path: PropertyKey[]; message: string } | null = null;
    for (const branch of issue.errors) {
      const candidate = branch[0] ? innermost(branch[0], path) : null;
      if (candidate && (best === null || candidate.path.length > best.path.length)) {
        best = candidate;
      }
    }
    if (best) return best;
  }
  if (issue.code === "invalid_key" && issue.issues?.[0]) {
    return { path, message: `key ${issue.issues[0].message}` };
  }
  return { path, message: issue.message };
}

/** 1 MiB, the documented body limit (413 beyond it). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads a JSON body strictly: `application/json` (415 otherwise), at most `maxBytes` (413,
 * counted while streaming so a lying or absent Content-Length cannot bypass it), valid JSON
 * and valid against `schema` (400 with the first problem).
 */
export async function readJsonBody<S extends z.ZodType>(
  req: Request,
  schema: S,
  maxBytes: number = MAX_BODY_BYTES,
): Promise<z.infer<S>> {
  const contentType = req.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  if (mediaType !== "application/json") {
    throw new HttpError(
      415,
      "UnsupportedMediaType",
      `Expected Content-Type: application/json, got ${contentType ? `"${contentType}"` : "none"}`,
    );
  }
  const value = parseJsonText(await readText(req, maxBytes));
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HttpError(
      400,
      "InvalidRequest",
      `Invalid request body: ${describeZodError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * `JSON.parse` for request bodies, with nesting bounded before parsing (`MAX_JSON_DEPTH`); 400
 * for too deep or invalid JSON. Every JSON body of the API goes through here.
 */
export function parseJsonText(text: string): unknown {
  if (jsonDepthExceeded(text, MAX_JSON_DEPTH) !== null) {
    throw new HttpError(
      400,
      "InvalidRequest",
      `Invalid JSON body: nested deeper than ${MAX_JSON_DEPTH} levels; flatten the request`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "InvalidRequest", `Invalid JSON body: ${(err as Error).message}`);
  }
}

/** The body as UTF-8 text, at most `maxBytes` (413 beyond, counted while streaming; 400 if not UTF-8). */
export async function readText(req: Request, maxBytes: number): Promise<string> {
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
    throw new HttpError(400, "InvalidRequest", "Invalid request body: not valid UTF-8");
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "PayloadTooLarge",
    `Request body exceeds the limit of ${maxBytes} bytes`,
  );
}
