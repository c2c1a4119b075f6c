import assert from "node:assert/strict";
import { isReservedHeader } from "./reserved_header.ts";

const reserved = [
  "x-verified-username",
  "X-Verified-Username",
  "X_Verified_Username",
  "x-verified_username",
  "x_verified-username",
  "X_VERIFIED_USERNAME",
  "X-VERIFIED-SECRET",
  "x-verified-user-data",
  "x_verified_user_data",
  "x-verified-backend",
  "x-Verified-Path",
  "x-verified-",
  "x-verified-anything-new",
  "x-forwarded-for",
  "X-Forwarded-For",
  "x-forwarded_for",
  "X_FORWARDED_FOR",
  "x_forwarded-proto",
  "X-Forwarded-Proto",
];

const allowed = [
  "host",
  "x",
  "x-verified",
  "x-verifiedusername",
  "xx-verified-username",
  "x-verifie-username",
  "x.verified.username",
  "y-verified-username",
  "x-forwarded-host",
  "x-forwarded-fort",
  "x-forwarded-for-real",
  "x-forwarded-protocol",
  "x-forwarded-pro",
  "x-forwarded",
  "content-type",
  "X-Request-Id",
  // `| 0x20` maps "@" (0x40) onto "`" and "[" onto "{": neither reads as a letter.
  "x-ve\x12ified-username",
];

Deno.test("isReservedHeader() refuses every spelling of the proxy's own headers", () => {
  for (const name of reserved) assert.equal(isReservedHeader(name), true, name);
});

Deno.test("isReservedHeader() lets other names through", () => {
  for (const name of allowed) assert.equal(isReservedHeader(name), false, name);
});
