import assert from "node:assert/strict";
import { constantTimeEqual, isStaticToken, randomStaticToken, randomToken } from "./tokens.ts";

Deno.test("randomToken() is 256 bits as 43 base64url characters", () => {
  const token = randomToken();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(token, randomToken());
  assert.match(randomStaticToken(), /^s\.[A-Za-z0-9_-]{43}$/);
  assert.equal(isStaticToken(randomStaticToken()), true);
  assert.equal(isStaticToken(token.replace(/^s\./, "x")), false);
});

Deno.test("constantTimeEqual() compares whole strings, lengths included", () => {
  assert.equal(constantTimeEqual("abc", "abc"), true);
  assert.equal(constantTimeEqual("abc", "abd"), false);
  assert.equal(constantTimeEqual("abc", "abcd"), false);
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual("é", "e"), false);
});
