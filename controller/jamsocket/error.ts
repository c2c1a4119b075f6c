/**
 * The Jamsocket error envelope (jamsocket-api.md §2.3): every ≥400 answer of the Jamsocket
 * routes is `{"error": {status, code, message, id}}` with `Content-Type: application/json`
 * exactly, which the CLI prints as "{status} - {code}: {message} (id: {id})". Plane's
 * `HttpError`s thrown by shared code (body reading, auth, the status stream) keep their kind as
 * the code. Logged like `toErrorResponse` (style.md §18): 5xx at error, 4xx at warn, same id.
 */
import { HttpError, jsonResponse } from "../http_error.ts";
import type { Logger } from "../../shared/log.ts";
import { randomSuffix } from "../../shared/names.ts";
import type { JamsocketErrorBody } from "../../shared/jamsocket.ts";

export class JamsocketError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JamsocketError";
    this.status = status;
    this.code = code;
  }
}

export function toJamsocketErrorResponse(
  err: unknown,
  log: Logger,
  context: Record<string, unknown> = {},
): Response {
  const id = randomSuffix();
  let status = 500;
  let code = "InternalError";
  let message = "Internal error.";
  if (err instanceof JamsocketError || err instanceof HttpError) {
    status = err.status;
    code = err instanceof JamsocketError ? err.code : err.kind;
    message = err.message;
    const fields = { ...context, id, code, status, err: err.cause ?? err };
    if (status >= 500) log.error(message, fields);
    else log.warn(message, fields);
  } else {
    log.error("Internal error", { ...context, id, err });
  }
  const body: JamsocketErrorBody = { error: { status, code, message, id } };
  return jsonResponse(body, { status });
}
