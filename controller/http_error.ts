/**
 * One HTTP error type and one mapping function (style.md §18): handlers throw `HttpError`;
 * `toErrorResponse` turns anything thrown into `{id, kind, message}` JSON, logs 5xx at error
 * and 4xx at warn with the same id, and masks unknown errors as `Other` / "Internal error".
 *
 * A route answers its errors in one of two formats, declared in its route entry (`app.ts`):
 * Plane's `{id, kind, message}`, or the Jamsocket error envelope (jamsocket-api.md §2.3):
 * `{"error": {status, code, message, id}}` with `Content-Type: application/json` exactly, which
 * the CLI prints as "{status} - {code}: {message} (id: {id})"; there the kind is the code.
 */
import type { z } from "zod";
import {
  type ApiErrorKind,
  type JamsocketErrorBody,
  type Logger,
  randomSuffix,
} from "../shared/mod.ts";
import { jsonDepthExceeded, MAX_JSON_DEPTH } from "./json_depth.ts";

/** Codes only the Jamsocket routes answer; everything else is one of Plane's kinds. */
export type JamsocketErrorCode =
  | "BackendNotFound"
  | "BackendNotRunning"
  | "ReservedEnvironmentVariable"
  | "ServiceMapReadOnly"
  | "ServiceNotFound"
  | "AmbiguousService"
  | "DevModeUnavailable";

export type HttpErrorKind = ApiErrorKind | JamsocketErrorCode;

/** How a route's errors are written: Plane's `ApiError` or Jamsocket's envelope. */
export type ErrorFormat = "plane" | "jamsocket";

export class HttpError extends Error {
  readonly status: number;
  readonly kind: HttpErrorKind;
  constructor(status: number, kind: HttpErrorKind, message: string, options?: ErrorOptions) {
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

/** What `format` masks an unknown error as. */
const INTERNAL: Record<ErrorFormat, { kind: string; message: string }> = {
  plane: { kind: "Other", message: "Internal error." },
  jamsocket: { kind: "InternalError", message: "Internal error." },
};

/**
 * The body of an error answer in `format`, without logging: for answers given before a
 * controller exists (starting, refused) and by `toErrorResponse`. `err` null is the masked
 * internal error.
 */
export function errorResponse(
  err: HttpError | null,
  format: ErrorFormat,
  options: { id?: string; headers?: HeadersInit } = {},
): Response {
  const id = options.id ?? randomSuffix();
  const status = err?.status ?? 500;
  const { kind, message } = err ?? INTERNAL[format];
  const init = { status, ...(options.headers ? { headers: options.headers } : {}) };
  if (format === "plane") return jsonResponse({ id, kind, message }, init);
  const body: JamsocketErrorBody = { error: { status, code: kind, message, id } };
  return jsonResponse(body, init);
}

export function toErrorResponse(
  err: unknown,
  format: ErrorFormat,
  log: Logger,
  context: Record<string, unknown> = {},
): Response {
  const id = randomSuffix();
  if (err instanceof HttpError) {
    const fields = { ...context, id, kind: err.kind, status: err.status, err: err.cause ?? err };
    if (err.status >= 500) log.error(err.message, fields);
    else log.warn(err.message, fields);
    return errorResponse(err, format, { id });
  }
  log.error("Internal error", { ...context, id, err });
  return errorResponse(null, format, { id });
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

export interface ReadJsonBodyOptions {
  /** Default `MAX_BODY_BYTES`; 413 beyond. */
  maxBytes?: number;
  /**
   * The Jamsocket routes' rules (jamsocket-api.md §2.2): an empty or missing body (or `null`)
   * means `{}`, and the content type is not insisted on (the CLI sometimes sends no body at all).
   */
  lenient?: boolean;
}

/**
 * Reads a JSON body strictly: `application/json` (415 otherwise), at most `maxBytes` (413,
 * counted while streaming so a lying or absent Content-Length cannot bypass it), valid JSON
 * and valid against `schema` (400 with the first problem).
 */
export async function readJsonBody<S extends z.ZodType>(
  req: Request,
  schema: S,
  options: ReadJsonBodyOptions = {},
): Promise<z.infer<S>> {
  const { maxBytes = MAX_BODY_BYTES, lenient = false } = options;
  const contentType = req.headers.get("content-type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  if (!lenient && mediaType !== "application/json") {
    throw new HttpError(
      415,
      "UnsupportedMediaType",
      `Expected Content-Type: application/json, got ${contentType ? `"${contentType}"` : "none"}`,
    );
  }
  const text = await readText(req, maxBytes);
  const value = lenient
    ? (text.trim() === "" ? {} : parseJsonText(text) ?? {})
    : parseJsonText(text);
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
function parseJsonText(text: string): unknown {
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
async function readText(req: Request, maxBytes: number): Promise<string> {
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
