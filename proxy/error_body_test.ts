import assert from "node:assert/strict";
import { engineErrorMessage, errorBody } from "./error_body.ts";
import { ApiError } from "../shared/api_error.ts";

Deno.test("errorBody() is {id, kind, message} JSON for every status the proxy makes", () => {
  for (const status of [400, 403, 404, 405, 408, 410, 431, 500, 502, 503, 504, 505, 599]) {
    const body = JSON.parse(errorBody(status));
    assert.deepEqual(Object.keys(body), ["id", "kind", "message"], String(status));
    assert.equal(typeof body.id, "string");
    assert.ok(body.id.length > 0);
    assert.ok(body.message.includes(": "), `${status}: message names a fix: ${body.message}`);
  }
  assert.equal(JSON.parse(errorBody(410)).kind, "Gone");
  assert.equal(JSON.parse(errorBody(403, "Use the subdomain: x")).message, "Use the subdomain: x");
  assert.notEqual(JSON.parse(errorBody(400)).id, JSON.parse(errorBody(400)).id);
  // Kinds the controller also uses parse as its ApiError.
  assert.ok(ApiError.safeParse(JSON.parse(errorBody(400))).success);
  assert.ok(ApiError.safeParse(JSON.parse(errorBody(502))).success);
});

Deno.test("engineErrorMessage() names the framing problem for a 400", () => {
  assert.equal(
    engineErrorMessage(400, "both Content-Length and Transfer-Encoding"),
    "Cannot read the request: both Content-Length and Transfer-Encoding; " +
      "send one well-formed HTTP/1.1 request",
  );
  assert.equal(engineErrorMessage(408, "body timeout"), undefined);
  assert.equal(engineErrorMessage(400, ""), undefined);
});
