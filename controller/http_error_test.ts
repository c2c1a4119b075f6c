import assert from "node:assert/strict";
import { z } from "zod";
import { errorResponse, HttpError, readJsonBody, toErrorResponse } from "./http_error.ts";
import { createLogger } from "../shared/log.ts";
import { ApiError } from "../shared/api_error.ts";
import { JamsocketErrorBody } from "../shared/jamsocket.ts";

function logCollector() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("test", { write: (line) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

Deno.test("errorResponse() writes Plane's ApiError and Jamsocket's envelope with the given id and headers", async () => {
  const err = new HttpError(404, "NotFound", "No such backend and token");
  const plane = errorResponse(err, "plane", { id: "abc", headers: { "retry-after": "1" } });
  assert.equal(plane.status, 404);
  assert.equal(plane.headers.get("content-type"), "application/json");
  assert.equal(plane.headers.get("retry-after"), "1");
  assert.deepEqual(await plane.json(), {
    id: "abc",
    kind: "NotFound",
    message: "No such backend and token",
  });
  const jamsocket = errorResponse(err, "jamsocket", { id: "abc" });
  assert.equal(jamsocket.status, 404);
  assert.equal(jamsocket.headers.get("content-type"), "application/json");
  assert.deepEqual(await jamsocket.json(), {
    error: {
      status: 404,
      code: "NotFound",
      message: "No such backend and token",
      id: "abc",
    },
  });
});

Deno.test("toErrorResponse() masks an unknown error in each format and logs it once with its id", async () => {
  const { log, lines } = logCollector();
  const plane = ApiError.parse(await toErrorResponse(new Error("secret"), "plane", log).json());
  assert.deepEqual({ kind: plane.kind, message: plane.message }, {
    kind: "Other",
    message: "Internal error.",
  });
  const jamsocket = JamsocketErrorBody.parse(
    await toErrorResponse(new Error("secret"), "jamsocket", log).json(),
  );
  assert.deepEqual({ code: jamsocket.error.code, status: jamsocket.error.status }, {
    code: "InternalError",
    status: 500,
  });
  assert.deepEqual(lines.map((l) => [l.level, l.id]), [
    ["error", plane.id],
    ["error", jamsocket.error.id],
  ]);
});

Deno.test("toErrorResponse() logs a 4xx at warn and a 5xx at error", async () => {
  const { log, lines } = logCollector();
  await toErrorResponse(new HttpError(401, "Unauthorized", "Missing credentials"), "plane", log)
    .body?.cancel();
  await toErrorResponse(new HttpError(502, "BadGateway", "Error forwarding auth"), "jamsocket", log)
    .body?.cancel();
  assert.deepEqual(lines.map((l) => [l.level, l.kind, l.status]), [
    ["warn", "Unauthorized", 401],
    ["error", "BadGateway", 502],
  ]);
});

const Body = z.object({ key: z.string().optional() });

function post(body: BodyInit | null, contentType?: string) {
  return new Request("http://127.0.0.1/", {
    method: "POST",
    body,
    ...(contentType ? { headers: { "content-type": contentType } } : {}),
  });
}

Deno.test("readJsonBody() insists on application/json and a body unless lenient", async () => {
  await assert.rejects(
    () => readJsonBody(post("{}"), Body),
    (err) => err instanceof HttpError && err.status === 415,
  );
  await assert.rejects(
    () => readJsonBody(post("", "application/json"), Body),
    (err) => err instanceof HttpError && err.status === 400,
  );
  assert.deepEqual(await readJsonBody(post(null), Body, { lenient: true }), {});
  assert.deepEqual(await readJsonBody(post("null"), Body, { lenient: true }), {});
  assert.deepEqual(await readJsonBody(post('{"key":"k"}'), Body, { lenient: true }), { key: "k" });
});

Deno.test("readJsonBody() bounds the body and names the first schema problem, lenient or not", async () => {
  for (const lenient of [false, true]) {
    await assert.rejects(
      () => readJsonBody(post('{"key":"kk"}', "application/json"), Body, { maxBytes: 4, lenient }),
      (err) => err instanceof HttpError && err.status === 413 && err.kind === "PayloadTooLarge",
    );
    await assert.rejects(
      () => readJsonBody(post('{"key":1}', "application/json"), Body, { lenient }),
      (err) =>
        err instanceof HttpError && err.status === 400 &&
        /^Invalid request body: key: /.test(err.message),
    );
    await assert.rejects(
      () => readJsonBody(post("{", "application/json"), Body, { lenient }),
      (err) =>
        err instanceof HttpError && err.status === 400 && /^Invalid JSON body/.test(err.message),
    );
  }
});
