import assert from "node:assert/strict";
import {
  BackendName,
  ControllerName,
  DroneName,
  nameError,
  nodeKindOf,
  randomActionName,
  randomBackendName,
  randomControllerName,
  randomKeyName,
  randomSuffix,
} from "./names.ts";

Deno.test("random names carry their prefix and 14 characters of [a-z0-9]", () => {
  assert.match(randomControllerName(), /^co-[a-z0-9]{14}$/);
  assert.match(randomActionName(), /^ak-[a-z0-9]{14}$/);
  assert.match(randomKeyName(), /^lk-[a-z0-9]{14}$/);
  assert.match(randomBackendName(), /^[a-z0-9]{14}$/);
  const many = new Set(Array.from({ length: 1000 }, () => randomSuffix()));
  assert.equal(many.size, 1000);
});

Deno.test("nameError() explains each invalid name", () => {
  assert.equal(nameError("dr-abc", "dr-"), null);
  assert.match(nameError("px-abc", "dr-")!, /must start with "dr-"/);
  assert.match(nameError("dr-aBc", "dr-")!, /invalid character "B" at position 4/);
  assert.match(nameError("dr-a*c", "dr-")!, /invalid character "\*" at position 4/);
  assert.match(nameError("dr-" + "a".repeat(43), "dr-")!, /at most 45 characters/);
  assert.match(nameError("", "")!, /must not be empty/);
  assert.match(nameError("dr-", "dr-")!, /after "dr-"/);
});

Deno.test("name schemas accept valid names and reject others with the kind in the message", () => {
  assert.equal(BackendName.parse("abc-123"), "abc-123");
  assert.equal(DroneName.safeParse("dr-x").success, true);
  const bad = ControllerName.safeParse("dr-x");
  assert.equal(bad.success, false);
  assert.match(bad.error!.issues[0]!.message, /Invalid controller name "dr-x"/);
  assert.equal(BackendName.safeParse("UPPER").success, false);
});

Deno.test("nodeKindOf() derives the node kind from the prefix", () => {
  assert.equal(nodeKindOf("dr-1"), "Drone");
  assert.equal(nodeKindOf("px-1"), "Proxy");
  assert.equal(nodeKindOf("ns-1"), "AcmeDnsServer");
  assert.equal(nodeKindOf("co-1"), null);
});
