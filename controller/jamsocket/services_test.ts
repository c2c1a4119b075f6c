import assert from "node:assert/strict";
import { ServiceMap } from "./service_map.ts";
import { accountServices, splitImage, toServiceImages, toServiceInfo } from "./services.ts";

const MAP = ServiceMap.parse({
  "acme/editor": { image: "ghcr.io/acme/editor:1", tags: { beta: "ghcr.io/acme/editor:beta" } },
  "acme/editor/staging": { image: "registry:5000/editor@sha256:abc", cluster: "eu.example" },
  "acme/chat": { image: "echo" },
  "other/editor": { image: "x" },
});
const OPTIONS = { loadedAt: Date.UTC(2026, 0, 2, 3, 4, 5), defaultCluster: "c.example" };

Deno.test("accountServices() lists an account's services once each, sorted", () => {
  assert.deepEqual(accountServices(MAP, "acme"), ["chat", "editor"]);
  assert.deepEqual(accountServices(MAP, "nobody"), []);
});

Deno.test("splitImage() separates repository, tag and digest; a registry port is not a tag", () => {
  assert.deepEqual(splitImage("ghcr.io/acme/editor:1"), {
    repository: "ghcr.io/acme/editor",
    tag: "1",
    digest: "",
  });
  assert.deepEqual(splitImage("registry:5000/editor@sha256:abc"), {
    repository: "registry:5000/editor",
    tag: "",
    digest: "sha256:abc",
  });
  assert.deepEqual(splitImage("echo"), { repository: "echo", tag: "", digest: "" });
});

Deno.test("toServiceInfo() has the plain entry as 'default' first, then environments; null when unknown", () => {
  const info = toServiceInfo(MAP, { account: "acme", service: "editor" }, OPTIONS)!;
  assert.equal(info.created_at, "2026-01-02T03:04:05.000Z");
  assert.equal(info.image_name, "ghcr.io/acme/editor");
  assert.equal(info.last_spawned_at, null);
  assert.deepEqual(info.environments.map((e) => [e.name, e.image_tag, e.cluster]), [
    ["default", "1", "c.example"],
    ["staging", "sha256:abc", "eu.example"],
  ]);
  const chat = toServiceInfo(MAP, { account: "acme", service: "chat" }, OPTIONS)!;
  assert.deepEqual(chat.environments.map((e) => e.image_tag), ["echo"]);
  assert.equal(toServiceInfo(MAP, { account: "acme", service: "nope" }, OPTIONS), null);
});

Deno.test("toServiceImages() lists each runnable image once, tags under the name a spawn uses", () => {
  const images = toServiceImages(MAP, { account: "acme", service: "editor" }, OPTIONS)!;
  assert.deepEqual(images.images.map((i) => [i.repository, i.tag, i.digest]), [
    ["ghcr.io/acme/editor", "1", ""],
    ["registry:5000/editor", "", "sha256:abc"],
    ["ghcr.io/acme/editor", "beta", ""],
  ]);
  assert.ok(images.images.every((i) => i.upload_time === "2026-01-02T03:04:05.000Z"));
  assert.equal(toServiceImages(MAP, { account: "x", service: "y" }, OPTIONS), null);
});
