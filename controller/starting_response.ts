/**
 * The answer of a controller whose port is bound but which cannot serve yet (issue 11, finding
 * 6): 503 `{id, kind, message}` with `Retry-After: 1`, instead of a crash. `plane controller`
 * binds first, so a taken port fails at once, and answers this until `createController` is done.
 */
import { errorResponse, HttpError } from "./http_error.ts";

/** Seconds a client should wait before retrying a request refused during start-up. */
export const STARTING_RETRY_AFTER_SECONDS = 1;

export function controllerStartingResponse(): Response {
  const message = `Controller is starting: retry after ${STARTING_RETRY_AFTER_SECONDS} s`;
  return errorResponse(new HttpError(503, "Other", message), "plane", {
    headers: { "retry-after": String(STARTING_RETRY_AFTER_SECONDS) },
  });
}
